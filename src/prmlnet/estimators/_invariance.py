"""The estimators' invariance parameters (PRML §5.5.3–5.5.5), in one place.

:class:`~prmlnet.estimators._base.BaseMLP` calls these helpers; they read the
parameters

``image_shape``   (H, W) or (C, H, W) of each row, for the image transformations
``invariances``   names of the transformations for tangent propagation
``tangent_prop``  λ of tangent propagation (0: off)
``tikhonov``      λ of the Tikhonov regularizer (0: off)
``augment``       None, a name or tuple of names of random transformations, or a
                  callable ``(X, rng) -> X``
``n_augment``     transformed copies per pattern in the fixed set of batch methods

from the estimator; :class:`~prmlnet.estimators._base.BaseMLP` holds class-level
defaults (no invariance), so estimators that do not take them are unaffected. An
estimator whose rows are always images (``_reads_images = True``,
:class:`~prmlnet.estimators.ConvNetClassifier`) may leave ``image_shape`` None:
the shape it reads from the data at fit time (``image_shape_``) is used. Image
transformations act on the raw images: with ``standardize=True`` the helpers undo
and redo the standardisation around them, and tangent vectors are divided by
``x_scale_`` (the chain rule).
"""

from __future__ import annotations

import math

import numpy as np

#: the shorthand names of ``augment`` and what they stand for (raw input units)
AUGMENTATIONS = {
    "affine": "RandomAffine(shape, shift=0.5, angle=0.1, scale=0.05): shifts up to half a "
              "pixel, rotations up to 0.1 rad (5.7°), sizes within ±5 %",
    "elastic": "ElasticWarp(shape, alpha=0.5, sigma=1.5): smooth random displacements of "
               "half a pixel (rms)",
    "noise": "InputNoise(0.1): Gaussian noise of standard deviation 0.1 on every input",
}

PARAMS = ("image_shape", "invariances", "tangent_prop", "tikhonov", "augment", "n_augment")


def _get(est, name):
    return getattr(est, name)


def _shape(est):
    """The image shape of the rows: the parameter, else the one the estimator read from
    the data (``image_shape_``, set when the network is built), else None."""
    shape = _get(est, "image_shape")
    return getattr(est, "image_shape_", None) if shape is None else shape


def _names(est):
    a = _get(est, "augment")
    if a is None or callable(a):
        return ()
    return (a,) if isinstance(a, str) else tuple(a)


def check_params(est):
    """Raise ValueError on a bad invariance parameter (before any work)."""
    from ..invariance.images import image_shape, transform_names

    shape = _get(est, "image_shape")
    if shape is not None:
        image_shape(shape)
    images = shape is not None or getattr(est, "_reads_images", False)
    for name in ("tangent_prop", "tikhonov"):
        v = _get(est, name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not (
                math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
    inv = _get(est, "invariances")
    if inv:
        transform_names(inv)
    if _get(est, "tangent_prop") > 0 and (not inv or not images):
        raise ValueError("tangent_prop needs the transformations (invariances=, e.g. "
                         "('translate', 'rotate')) and the image shape (image_shape=)")
    a = _get(est, "augment")
    if a is not None and not callable(a):
        names = _names(est)
        bad = [n for n in names if n not in AUGMENTATIONS]
        if not names or bad:
            raise ValueError(f"augment must be None, a callable (X, rng) -> X, or names from "
                             f"{sorted(AUGMENTATIONS)}; got {a!r}")
        if not images and any(n != "noise" for n in names):
            raise ValueError(f"augment={a!r} transforms images: give image_shape=")
    n = _get(est, "n_augment")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n_augment must be a positive integer; got {n!r}")


def active(est):
    """Whether any invariance parameter changes the training."""
    return bool(_get(est, "tangent_prop") or _get(est, "tikhonov")
                or _get(est, "augment") is not None)


def check_features(est, n_features):
    """Raise ValueError if ``image_shape`` does not hold ``n_features`` pixels."""
    from ..invariance.images import image_shape

    shape = _get(est, "image_shape")
    if shape is not None:
        image_shape(shape, n_features)


def _raw(est, X):
    m, s = getattr(est, "x_mean_", None), getattr(est, "x_scale_", None)
    return X if m is None else X * s + m


def _cooked(est, X):
    m, s = getattr(est, "x_mean_", None), getattr(est, "x_scale_", None)
    return X if m is None else (X - m) / s


def _tangents(est, X):
    """Tangent vectors of the network inputs ``X`` (N, S, D), in the network's units."""
    from ..invariance.images import image_tangents

    tau = image_tangents(_raw(est, X), _shape(est), _get(est, "invariances"))
    s = getattr(est, "x_scale_", None)
    return tau if s is None else tau / s


def terms(est, net, X):
    """The regularizer terms for an objective over the network inputs ``X``."""
    from ..invariance import TangentPropagation, Tikhonov

    out = []
    lam = float(_get(est, "tangent_prop"))
    if lam > 0:
        from ._base import ONLINE_METHODS
        fresh = _get(est, "augment") is not None and est.method in ONLINE_METHODS
        # inputs transformed afresh for every mini-batch: tangents of the batch's own inputs
        tangents = (lambda Xb: _tangents(est, Xb)) if fresh else _tangents(est, X)
        out.append(TangentPropagation(net, tangents, lam))
    lam = float(_get(est, "tikhonov"))
    if lam > 0:
        out.append(Tikhonov(net, lam))
    return out


def _random_transform(est):
    """The random transformation on raw inputs, or None."""
    from ..invariance import transformed as aug

    a = _get(est, "augment")
    if a is None or callable(a):
        return a
    shape = _shape(est)
    make = {"affine": lambda: aug.RandomAffine(shape, shift=0.5, angle=0.1, scale=0.05),
            "elastic": lambda: aug.ElasticWarp(shape, alpha=0.5, sigma=1.5),
            "noise": lambda: aug.InputNoise(0.1)}
    parts = [make[n]() for n in _names(est)]
    return parts[0] if len(parts) == 1 else aug.Compose(*parts)


def transform(est):
    """The random transformation as it acts on the network inputs (standardised), or None."""
    t = _random_transform(est)
    if t is None or getattr(est, "x_mean_", None) is None:
        return t
    return lambda X, rng: _cooked(est, t(_raw(est, X), rng))


def augmented(est, X, T, rng):
    """``(X, T)`` with ``n_augment`` transformed copies of every pattern (batch methods)."""
    from ..invariance.transformed import augment

    t = transform(est)
    if t is None:
        return X, T
    return augment(X, T, t, _get(est, "n_augment"), rng)
