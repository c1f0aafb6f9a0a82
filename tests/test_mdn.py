"""Mixture density networks (§5.6): error, deltas, R-operator, predictions, data sets."""

import numpy as np
import pytest
from scipy import special
from scipy.optimize import brentq, minimize

from prmlnet import Network, datasets
from prmlnet.mdn import (Mixture, MixtureDensity, _logsumexp, init_weights,
                         predict_mixture)
from prmlnet.outputs import output_from_config
from prmlnet.testing import central_differences, check_directional, relative_error


def mdn_problem(rng, L, K, N=6, min_width=0.0, scale=1.0):
    md = MixtureDensity(L, K, min_width=min_width)
    a = scale * rng.standard_normal((N, md.n_outputs))
    T = rng.standard_normal((N, K))
    return md, a, T


def naive_error(md, a, T):
    """(5.153) written directly with densities: an independent oracle where nothing underflows."""
    ap, s, mu = md.split(a)
    pi = np.exp(ap) / np.exp(ap).sum(axis=1, keepdims=True)
    var = np.exp(2 * s) + md.min_width ** 2
    d2 = ((T[:, None, :] - mu) ** 2).sum(axis=-1)
    dens = (2 * np.pi * var) ** (-md.K / 2) * np.exp(-d2 / (2 * var))
    return -np.sum(np.log((pi * dens).sum(axis=1)))


LK = [(1, 1), (3, 1), (5, 1), (1, 2), (3, 2), (5, 2)]


# -- the error and its deltas ------------------------------------------------------
@pytest.mark.parametrize("min_width", [0.0, 0.3])
@pytest.mark.parametrize("L,K", LK)
def test_error_matches_direct_density_formula(L, K, min_width, rng):   # (5.153)
    md, a, T = mdn_problem(rng, L, K, min_width=min_width)
    assert md.error(a, md.output(a), T) == pytest.approx(naive_error(md, a, T), rel=1e-12)


@pytest.mark.parametrize("min_width", [0.0, 0.3])
@pytest.mark.parametrize("L,K", LK)
def test_deltas_match_central_differences(L, K, min_width, rng):   # (5.155)-(5.157) vs (5.69)
    md, a, T = mdn_problem(rng, L, K, min_width=min_width)
    N, P = a.shape
    numeric = central_differences(lambda x: md.error(x.reshape(N, P), None, T), a.ravel())
    E, delta = md.error_and_delta(a, md.output(a), T)
    assert relative_error(delta, numeric.reshape(N, P)) < 1e-7
    assert E == md.error(a, None, T)
    assert np.array_equal(delta, md.delta(a, None, T))


@pytest.mark.parametrize("L,K", [(1, 1), (3, 2)])
def test_network_gradient_with_mdn_output(L, K, rng):   # backprop reused unchanged
    md = MixtureDensity(L, K, min_width=0.05)
    net = Network((2, 4, md.n_outputs), output=md)
    X, T = rng.standard_normal((9, 2)), rng.standard_normal((9, K))
    w = net.init_weights(rng)
    assert net.n_targets == K
    numeric = central_differences(lambda v: net.error(v, X, T), w)
    assert relative_error(net.gradient(w, X, T), numeric) < 1e-7


def test_responsibilities_are_posterior_probabilities(rng):   # (5.154)
    md, a, T = mdn_problem(rng, 4, 2)
    g = md.responsibilities(a, T)
    ap, s, mu = md.split(a)
    pi = special.softmax(ap, axis=1)
    joint = pi * np.exp(-((T[:, None] - mu) ** 2).sum(-1) / (2 * np.exp(2 * s))) / np.exp(2 * s)
    assert np.allclose(g, joint / joint.sum(axis=1, keepdims=True), rtol=1e-12, atol=0)
    assert md.log_likelihood(a, T).sum() == pytest.approx(-md.error(a, None, T), rel=1e-14)


# -- the R-operator ----------------------------------------------------------------
@pytest.mark.parametrize("min_width", [0.0, 0.3])
@pytest.mark.parametrize("L,K", LK)
def test_r_delta_matches_central_differences_single_and_batched(L, K, min_width, rng):
    md, a, T = mdn_problem(rng, L, K, min_width=min_width)
    ra = rng.standard_normal((3,) + a.shape)
    eps = 1e-6
    numeric = np.stack([(md.delta(a + eps * r, None, T) - md.delta(a - eps * r, None, T)) / (2 * eps)
                        for r in ra])
    batched = md.r_delta(a, md.output(a), T, ra)
    assert batched.shape == ra.shape
    assert relative_error(batched, numeric) < 1e-7
    for r, num in zip(ra, numeric):
        single = md.r_delta(a, md.output(a), T, r)
        assert single.shape == a.shape
        assert relative_error(single, num) < 1e-7


def test_curvature_is_the_per_pattern_hessian_and_psd_projection(rng):
    md, a, T = mdn_problem(rng, 3, 2, N=5, min_width=0.1)
    C = md.curvature(a, md.output(a), T, psd=False)
    N, P = a.shape
    for n in range(N):
        Hn = central_differences(lambda x: md.delta(x[None], None, T[n:n + 1])[0], a[n])
        assert relative_error(C[n], Hn) < 1e-7
    lam = np.linalg.eigvalsh(C)
    assert lam.min() < 0          # the MDN error is not convex in a: a real test of psd=True
    Cp = md.curvature(a, None, T)                 # the default: projected
    lam_p = np.linalg.eigvalsh(Cp)
    assert lam_p.min() > -1e-12
    assert np.allclose(np.sort(np.maximum(lam, 0), axis=1), np.sort(lam_p, axis=1), atol=1e-12)
    with pytest.raises(ValueError, match="pass T"):
        md.curvature(a, None)


def test_output_jacobian_matches_central_differences(rng):
    md, a, _ = mdn_problem(rng, 3, 2, N=4, min_width=0.2)
    J = md.output_jacobian(a, md.output(a))
    for n in range(a.shape[0]):
        num = central_differences(lambda x: md.output(x[None])[0], a[n])
        assert relative_error(J[n], num) < 1e-7


# -- the book's special cases and numerical guards ---------------------------------
def test_one_component_is_sum_of_squares_with_learned_variance(rng):
    N, K = 8, 2
    md = MixtureDensity(1, K, min_width=0.0)
    a = rng.standard_normal((N, md.n_outputs))
    T = rng.standard_normal((N, K))
    s, mu = a[:, 1], a[:, 2:]
    r2 = ((mu - T) ** 2).sum(axis=1)
    expected = np.sum(0.5 * K * np.log(2 * np.pi) + K * s + r2 / (2 * np.exp(2 * s)))
    assert md.error(a, None, T) == pytest.approx(expected, rel=1e-13)
    # with sigma = 1 (a^sigma = 0) the error is the sum-of-squares error plus a constant,
    # and the mean deltas are y - t exactly (5.18)
    a[:, 1] = 0.0
    from prmlnet.outputs import Linear
    sse = Linear().error(mu, mu, T)
    assert md.error(a, None, T) == pytest.approx(sse + 0.5 * N * K * np.log(2 * np.pi), rel=1e-13)
    d = md.delta(a, None, T)
    assert np.allclose(d[:, 2:], mu - T, rtol=1e-14, atol=1e-15)
    assert np.all(d[:, 0] == 0)   # one mixing coefficient: no gradient


def test_log_likelihood_finite_when_one_component_underflows(rng):
    md = MixtureDensity(2, 1, min_width=0.0)
    # component 0 sits at t = 0 with sigma = e^-3; component 1 at 1000 with sigma = e^-5:
    # its density at t = 0 is exp(-1e6 * e^10 / 2), far below the smallest double.
    a = np.array([[0.0, 0.0, -3.0, -5.0, 0.0, 1000.0]])
    T = np.array([[0.0]])
    with np.errstate(invalid="raise", over="raise"):
        E, delta = md.error_and_delta(a, md.output(a), T)
        rd = md.r_delta(a, None, T, rng.standard_normal(a.shape))
    expected = -(np.log(0.5) - 0.5 * np.log(2 * np.pi) + 3.0)
    assert E == pytest.approx(expected, rel=1e-14)
    assert np.all(np.isfinite(delta)) and np.all(np.isfinite(rd))
    assert delta[0, 0] == pytest.approx(-0.5) and delta[0, 1] == pytest.approx(0.5)   # (5.155)
    with np.errstate(all="ignore"):
        assert not np.isfinite(naive_error(md, a, np.array([[1e5]])))   # the naive form fails...
    assert np.isfinite(md.error(a, None, np.array([[1e5]])))           # ...log-sum-exp does not


def test_width_floor_bounds_the_likelihood_book_form_does_not():
    # one component sitting exactly on its target, its width shrinking: the book's
    # likelihood grows without bound (collapse), the floored one stays below its bound
    T = np.array([[0.3]])
    floor = 0.05
    book, guarded = MixtureDensity(2, 1, min_width=0.0), MixtureDensity(2, 1, min_width=floor)
    E_book, E_guard = [], []
    for s in (-5.0, -20.0, -80.0):
        a = np.array([[0.0, 0.0, s, 0.0, 0.3, 2.0]])
        E_book.append(book.error(a, None, T))
        E_guard.append(guarded.error(a, None, T))
    assert E_book[0] > E_book[1] > E_book[2] < -70             # E -> -inf as s -> -inf
    bound = -np.log(1 / np.sqrt(2 * np.pi * floor ** 2))       # E >= -ln max density
    assert all(E >= bound for E in E_guard)
    assert E_guard[2] == pytest.approx(-np.log(0.5 / np.sqrt(2 * np.pi * floor ** 2)
                                               + 0.5 * np.exp(-0.5 * 1.7 ** 2 / (1 + floor ** 2))
                                               / np.sqrt(2 * np.pi * (1 + floor ** 2))),
                                       rel=1e-12)
    y = guarded.output(np.array([[0.0, 0.0, -80.0, 0.0, 0.3, 2.0]]))
    assert guarded.mixture(y).sigma[0, 0] == pytest.approx(floor, rel=1e-12)


def test_logsumexp_matches_scipy_including_all_minus_inf_rows(rng):
    x = rng.standard_normal((7, 4)) * 300
    x[2] = -np.inf
    x[3, 1] = -np.inf
    with np.errstate(divide="ignore"):
        ref = special.logsumexp(x, axis=-1)
    assert np.allclose(_logsumexp(x), ref, rtol=1e-15, atol=0, equal_nan=False)
    big = rng.standard_normal((3, 40))
    assert np.allclose(_logsumexp(big, keepdims=True), special.logsumexp(big, axis=-1, keepdims=True),
                       rtol=1e-15)


# -- predictions: the Mixture ---------------------------------------------------------
def one_d_mixture():
    pi = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    sigma = np.array([[0.05, 0.1, 0.07], [0.2, 0.03, 0.1]])
    mu = np.array([[[0.1], [0.5], [0.9]], [[-1.0], [0.0], [1.0]]])
    return Mixture(pi, sigma, mu)


def test_density_integrates_to_one_on_a_grid():
    mix = one_d_mixture()
    t = np.linspace(-3, 3, 60001)
    p = mix.pdf_grid(t[:, None])
    assert np.allclose(np.trapezoid(p, t, axis=1), 1.0, atol=1e-9)
    rng = np.random.default_rng(1)
    mix2 = Mixture(np.array([[0.3, 0.7]]), np.array([[0.2, 0.4]]), rng.standard_normal((1, 2, 2)))
    g = np.linspace(-4, 4, 801)
    G = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    p2 = mix2.pdf_grid(G).reshape(len(g), len(g))
    assert np.trapezoid(np.trapezoid(p2, g, axis=1), g) == pytest.approx(1.0, abs=1e-9)


def test_mean_variance_and_mode_match_the_density_on_a_grid():   # (5.158)-(5.160)
    mix = one_d_mixture()
    t = np.linspace(-3, 3, 200001)
    p = mix.pdf_grid(t[:, None])
    m = np.trapezoid(p * t, t, axis=1)
    v = np.trapezoid(p * (t - m[:, None]) ** 2, t, axis=1)
    assert np.allclose(mix.mean()[:, 0], m, atol=1e-10)
    assert np.allclose(mix.variance()[:, 0], v, atol=1e-10)
    assert np.allclose(mix.covariance()[:, 0, 0], v, atol=1e-10)
    mode, logp = mix.mode(return_density=True)
    assert np.allclose(mode[:, 0], t[np.argmax(p, axis=1)], atol=1e-4)
    assert np.allclose(logp, np.log(p.max(axis=1)), rtol=1e-8)
    assert np.allclose(mix.log_pdf(mode), logp, rtol=1e-14)


def test_mode_is_a_stationary_point_of_the_density_in_two_dimensions(rng):
    mix = Mixture(np.array([[0.5, 0.3, 0.2]]), np.array([[0.5, 0.4, 0.3]]),
                  rng.standard_normal((1, 3, 2)))
    mode = mix.mode()
    grad = central_differences(lambda x: mix.log_pdf(x[None])[0], mode[0])
    assert np.max(np.abs(grad)) < 1e-6
    nearby = mode + 0.01 * rng.standard_normal((50, 2))
    Mrep = Mixture(*(np.repeat(x, 50, axis=0) for x in mix))
    assert np.all(Mrep.log_pdf(nearby) <= mix.log_pdf(mode)[0] + 1e-12)


def test_sampling_is_reproducible_and_matches_mean_and_variance():
    mix = one_d_mixture()
    s1 = mix.sample(np.random.default_rng(5), n_samples=200000)
    s2 = mix.sample(np.random.default_rng(5), n_samples=200000)
    assert s1.shape == (200000, 2, 1)
    assert np.array_equal(s1, s2)
    se_mean = np.sqrt(mix.variance()[:, 0] / 200000)
    assert np.all(np.abs(s1.mean(axis=0)[:, 0] - mix.mean()[:, 0]) < 5 * se_mean)
    assert np.allclose(s1.var(axis=0)[:, 0], mix.variance()[:, 0], rtol=0.02)
    with pytest.raises(ValueError, match="n_samples"):
        mix.sample(np.random.default_rng(0), n_samples=0)


# -- configuration and bad input ---------------------------------------------------
def test_config_round_trip_and_equality():
    md = MixtureDensity(4, 2, min_width=0.01)
    assert output_from_config(md.config()) == md
    assert md != MixtureDensity(4, 2, min_width=0.0)
    assert hash(md) == hash(MixtureDensity(4, 2, min_width=0.01))


def test_bad_input_raises_value_error(rng):
    with pytest.raises(ValueError, match="n_components"):
        MixtureDensity(0)
    with pytest.raises(ValueError, match="min_width"):
        MixtureDensity(2, 1, min_width=-1.0)
    net = Network((1, 3, 5), output=MixtureDensity(3, 1))   # needs 9 outputs
    with pytest.raises(ValueError, match="needs a network with L\\*\\(K\\+2\\) = 9 outputs"):
        net.n_targets
    with pytest.raises(ValueError, match="MixtureDensity output"):
        predict_mixture(Network((1, 2, 1)), np.zeros(7), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="log_pdf_grid"):
        one_d_mixture().log_pdf(np.zeros((3, 1)))


# -- data sets -----------------------------------------------------------------------
def test_toy_inverse_follows_its_generating_formula():
    X, T = datasets.toy_inverse(500, np.random.default_rng(3))
    assert X.shape == T.shape == (500, 1)
    resid = X[:, 0] - (T[:, 0] + 0.3 * np.sin(2 * np.pi * T[:, 0]))
    assert np.all(np.abs(resid) <= 0.1) and np.abs(resid).max() > 0.09
    assert T.min() >= 0 and T.max() <= 1
    Xf, Tf = datasets.toy_inverse(500, np.random.default_rng(3), inverse=False)
    assert np.array_equal(Xf, T) and np.array_equal(Tf, X)
    with pytest.raises(ValueError, match="n must be"):
        datasets.toy_inverse(0)


def test_robot_arm_targets_reach_the_inputs_with_two_elbow_solutions():
    X, T = datasets.robot_arm(200, np.random.default_rng(4))
    assert X.shape == T.shape == (200, 2)
    assert np.allclose(datasets.robot_arm_forward(T), X, atol=1e-15)
    T2 = datasets.robot_arm_other_elbow(T)
    assert np.allclose(datasets.robot_arm_forward(T2), X, atol=1e-13)
    assert np.all(np.abs(T2[:, 1] - T[:, 1]) > 0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.all((r >= 0.6 - 1e-12) & (r <= 1.0 + 1e-12))   # |L1 - L2| <= r <= L1 + L2


# -- fitting ---------------------------------------------------------------------------
def test_fitting_the_toy_inverse_problem_recovers_three_branches():
    rng = np.random.default_rng(0)
    X, T = datasets.toy_inverse(300, rng)
    Z = (X - X.mean()) / X.std()
    net = Network((1, 5, 9), output=MixtureDensity(3, 1))
    w0 = init_weights(net, T, rng)
    res = minimize(lambda w: net.error_and_gradient(w, Z, T), w0, jac=True,
                   method="L-BFGS-B", options=dict(maxiter=300))
    x = 0.5
    roots = [brentq(lambda t: t + 0.3 * np.sin(2 * np.pi * t) - x, lo, hi)
             for lo, hi in [(0, 0.3), (0.3, 0.7), (0.7, 1)]]
    mix = predict_mixture(net, res.x, (np.array([[x]]) - X.mean()) / X.std())
    mu, pi = mix.mu[0, :, 0], mix.pi[0]
    for r in roots:
        k = np.argmin(np.abs(mu - r))
        assert abs(mu[k] - r) < 0.06 and pi[k] > 0.05
    # the mean (5.158) falls near the middle branch; at x = 0.2 one branch only
    single = predict_mixture(net, res.x, (np.array([[0.2]]) - X.mean()) / X.std())
    t_true = brentq(lambda t: t + 0.3 * np.sin(2 * np.pi * t) - 0.2, 0, 1)
    assert abs(single.mode()[0, 0] - t_true) < 0.05


def test_init_weights_puts_the_mixture_on_the_targets(rng):
    X, T = datasets.robot_arm(400, rng)
    net = Network((2, 6, 4 * 4), output=MixtureDensity(4, 2))
    w = init_weights(net, T, rng)
    mix = predict_mixture(net, w, X)
    assert np.allclose(mix.pi, 0.25, atol=0.05)
    assert np.all((mix.mean() > T.min(0) - 0.5) & (mix.mean() < T.max(0) + 0.5))
    check = check_directional(lambda v: net.error(v, X, T), lambda v: net.gradient(v, X, T),
                              w, rng, n_directions=4)
    assert check.ok
