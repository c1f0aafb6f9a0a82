"""Image tangent vectors against analytic derivatives; transformed data, reproducibly."""

import numpy as np
import pytest

from prmlnet.invariance import (TRANSFORMS, Compose, ElasticWarp, InputNoise, RandomAffine,
                                augment, image_tangents, transform_images, upsample)


def smooth_image(n):
    """Two anisotropic Gaussian blobs on [-1, 1]², sampled n × n, with the analytic
    tangent vectors of every transformation (derivatives in pixel units)."""
    h = 2.0 / (n - 1)
    r, c = np.arange(n)[:, None] * 1.0, np.arange(n)[None, :] * 1.0
    u, v = -1 + h * r, -1 + h * c
    f, fu, fv = (np.zeros((n, n)) for _ in range(3))
    for mu, mv, su, sv, a in [(0.15, -0.1, 0.2, 0.12, 1.0), (-0.25, 0.2, 0.1, 0.18, 0.7)]:
        e = a * np.exp(-0.5 * ((u - mu) ** 2 / su ** 2 + (v - mv) ** 2 / sv ** 2))
        f, fu, fv = f + e, fu - e * (u - mu) / su ** 2, fv - e * (v - mv) / sv ** 2
    fr, fc, r0 = fu * h, fv * h, (n - 1) / 2
    exact = {"translate_x": -fc, "translate_y": -fr,
             "rotate": (c - r0) * fr - (r - r0) * fc,
             "scale": -(r - r0) * fr - (c - r0) * fc,
             "thicken": np.hypot(fr, fc)}
    return f.reshape(1, -1), {k: v.ravel() for k, v in exact.items()}


def tangent_errors(n):
    f, exact = smooth_image(n)
    tau = image_tangents(f, (n, n))
    return np.array([np.linalg.norm(tau[0, k] - exact[t]) / np.linalg.norm(exact[t])
                     for k, t in enumerate(TRANSFORMS)])


def test_tangent_vectors_converge_to_the_analytic_derivatives():
    # The tangent is the derivative of the image's cubic-spline interpolant; it
    # tends to the derivative of the smooth image as the sampling gets finer.
    coarse, fine = tangent_errors(32), tangent_errors(64)
    assert np.all(fine < 1e-3), fine
    assert np.all(fine < coarse / 8), (coarse, fine)         # about h⁴ convergence


def test_small_transformations_move_along_the_tangent(rng):
    f, _ = smooth_image(40)
    tau = image_tangents(f, (40, 40), ["rotate", "translate_y"])
    for k, name in enumerate(["rotate", "translate_y"]):
        steps = [transform_images(f, (40, 40), name, e) for e in (0.02, 0.01)]
        # s(x, ε) = x + ε τ + O(ε²): the remainder falls four-fold when ε halves
        rem = [np.linalg.norm(s - f - e * tau[:, k]) for s, e in zip(steps, (0.02, 0.01))]
        assert 3.5 < rem[0] / rem[1] < 4.5


def test_channels_move_alike_and_translations_alias():
    f, _ = smooth_image(16)
    two = np.hstack([f, 2 * f])                                         # (C, H, W) = (2, 16, 16)
    tau = image_tangents(two, (2, 16, 16), ["translate"])
    one = image_tangents(f, (16, 16), ["translate_x", "translate_y"])
    np.testing.assert_allclose(tau[:, :, 256:], 2 * one, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tau[:, :, :256], one, rtol=1e-12, atol=1e-15)


def test_upsample_keeps_the_shape_and_range():
    f, _ = smooth_image(8)
    up, shape = upsample(f, (8, 8), 4)
    assert shape == (1, 32, 32) and up.shape == (1, 1024)
    assert up.min() >= f.min() and up.max() <= f.max()


@pytest.mark.parametrize("make", [
    lambda: RandomAffine((2, 8, 8), shift=1.0, angle=0.3, scale=0.1),
    lambda: ElasticWarp((2, 8, 8), alpha=1.0, sigma=1.5),
    lambda: Compose(RandomAffine((2, 8, 8), 0.5), InputNoise(0.1)),
])
def test_random_transformations_are_reproducible_from_the_seed(make, rng):
    X = rng.random((6, 128))
    t = make()
    a, b = t(X, np.random.default_rng(5)), t(X, np.random.default_rng(5))
    c = t(X, np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert a.shape == X.shape
    Xa, Ta = augment(X, np.arange(6)[:, None], t, 3, 11)
    Xb, _ = augment(X, np.arange(6)[:, None], t, 3, 11)
    assert np.array_equal(Xa, Xb) and Xa.shape == (24, 128)
    assert np.array_equal(Xa[:6], X) and np.array_equal(Ta[:, 0], np.tile(np.arange(6), 4))


def test_elastic_field_has_the_requested_size_and_smoothness(rng):
    rough, smooth = (ElasticWarp((32, 32), alpha=2.0, sigma=s).displacement(rng) for s in (1, 4))
    for d in (rough, smooth):
        assert np.sqrt(np.mean(np.sum(d ** 2, axis=0))) == pytest.approx(2.0, rel=1e-12)
    # neighbouring displacements agree more closely for the wider Gaussian
    jump = [np.mean(np.abs(np.diff(d, axis=2))) for d in (rough, smooth)]
    assert jump[1] < 0.5 * jump[0]


def test_warping_by_a_constant_field_is_a_shift(rng):
    X = rng.random((2, 64))
    field = np.stack([np.zeros((8, 8)), np.ones((8, 8))])              # read one column right
    moved = ElasticWarp((8, 8), order=1).warp(X, field)
    np.testing.assert_allclose(moved.reshape(2, 8, 8)[:, :, :7], X.reshape(2, 8, 8)[:, :, 1:],
                               rtol=0, atol=1e-14)


def test_input_noise_has_variance_xi_squared(rng):
    X = np.zeros((20000, 3))
    noisy = InputNoise(0.3)(X, rng)
    assert np.var(noisy) == pytest.approx(0.09, rel=0.02)
    assert np.all(X == 0)                                               # X itself untouched


@pytest.mark.parametrize("call, message", [
    (lambda: image_tangents(np.zeros((2, 10)), (3, 3)), "holds 9 pixels"),
    (lambda: image_tangents(np.zeros((2, 9)), (3, 3), ["shear"]), "unknown transformation"),
    (lambda: image_tangents(np.zeros((2, 9)), (3, 0)), "positive integers"),
    (lambda: RandomAffine((3, 3), scale=1.5), "scale must be < 1"),
    (lambda: ElasticWarp((3, 3), sigma=0), "sigma must be > 0"),
    (lambda: augment(np.zeros((2, 9)), np.zeros((2, 1)), InputNoise(1), 0, 0), "n_copies"),
])
def test_bad_image_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
