r"""Training with transformed data (PRML §5.5.3, §5.5.5).

A **random transformation** is a small object called as ``transform(X, rng)``:
it returns new flat rows, each pattern of ``X`` (N, D) transformed by its own
random draw from the numpy Generator ``rng``, and never modifies ``X``. The
same generator state gives the same result, so a training run that draws its
transformations from a seeded generator is reproducible.

- :class:`RandomAffine` — small random shifts, rotations and changes of size;
- :class:`ElasticWarp` — the "synthetic warping" of Figure 5.14: a random
  displacement field per image, each pixel's displacement drawn independently
  and the field smoothed by a Gaussian (Simard et al. 2003);
- :class:`InputNoise` — additive Gaussian noise of variance ξ² on every input
  (§5.5.5; any data, not only images);
- :class:`Compose` — several in turn.

Two ways to train with them: **afresh for every mini-batch** of an online
method (``prmlnet.optim.train_online(..., transform=...)``: the network never
sees the same pattern twice), or a **fixed augmented set** for the batch
methods, :func:`augment`: the originals and ``n_copies`` transformed copies of
each. Image transformations resample with ``scipy.ndimage`` (spline order 1 by
default: no overshoot outside the original grey levels) and fill what comes
in from outside the image with 0.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .images import _rows, image_shape

__all__ = ["RandomAffine", "ElasticWarp", "InputNoise", "Compose", "augment"]


def _finite(name, value, low=0.0):
    v = float(value)
    if not (math.isfinite(v) and v >= low):
        raise ValueError(f"{name} must be a finite number >= {low:g}; got {value!r}")
    return v


class _ImageTransform:
    """Shared by the image transformations: the shape, interpolation and a per-image loop."""

    def __init__(self, shape, order, mode):
        self.shape = image_shape(shape)
        self.order = int(order)
        if not 0 <= self.order <= 5:
            raise ValueError(f"order must be a spline order 0..5; got {order!r}")
        self.mode = mode

    def __call__(self, X, rng):
        imgs, dims = _rows(X, self.shape)
        out = np.empty_like(imgs)
        for n in range(imgs.shape[0]):
            coords = self._coordinates(rng, dims[1:])
            for ch in range(dims[0]):
                out[n, ch] = ndimage.map_coordinates(imgs[n, ch], coords, order=self.order,
                                                     mode=self.mode, cval=0.0)
        return out.reshape(imgs.shape[0], -1)

    def __eq__(self, other):
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None


class RandomAffine(_ImageTransform):
    r"""Random small shifts, rotations and scalings of images, one draw per image.

    Parameters
    ----------
    shape : (H, W) or (C, H, W)
        The images' shape.
    shift : float, default 1.0
        Each of the two shifts is uniform on [−shift, shift] pixels.
    angle : float, default 0.0
        The rotation (about the centre) is uniform on [−angle, angle] radians.
    scale : float, default 0.0
        The size is multiplied by a factor uniform on [1 − scale, 1 + scale].
    order : int, default 1
        Spline order of the interpolation.
    mode : str, default "grid-constant"
        ``scipy.ndimage`` boundary mode.

    Notes
    -----
    Output pixel p is read from the input at
    :math:`\mathbf{p}_0 + \mathbf{R}(\theta)(\mathbf{p} - \mathbf{p}_0)/s - \mathbf{t}`
    (the conventions of :mod:`prmlnet.invariance.images`).
    """

    def __init__(self, shape, shift=1.0, angle=0.0, scale=0.0, *, order=1,
                 mode="grid-constant"):
        super().__init__(shape, order, mode)
        self.shift = _finite("shift", shift)
        self.angle = _finite("angle", angle)
        self.scale = _finite("scale", scale)
        if self.scale >= 1:
            raise ValueError(f"scale must be < 1 (a factor in [1 - scale, 1 + scale]); "
                             f"got {scale!r}")

    def __repr__(self):
        return (f"RandomAffine({self.shape}, shift={self.shift:g}, angle={self.angle:g}, "
                f"scale={self.scale:g})")

    def _coordinates(self, rng, hw):
        t = rng.uniform(-self.shift, self.shift, 2)
        th = rng.uniform(-self.angle, self.angle)
        s = rng.uniform(1.0 - self.scale, 1.0 + self.scale)
        c, si = math.cos(th), math.sin(th)
        A = np.array([[c, si], [-si, c]]) / s
        p0 = (np.array(hw, dtype=float) - 1.0) / 2.0
        p = np.indices(hw, dtype=float).reshape(2, -1)
        q = p0[:, None] + A @ (p - p0[:, None]) - t[:, None]
        return q.reshape((2,) + tuple(hw))


class ElasticWarp(_ImageTransform):
    r"""Elastic distortion: a smooth random displacement field per image (Figure 5.14).

    Parameters
    ----------
    shape : (H, W) or (C, H, W)
    alpha : float, default 1.0
        Root-mean-square displacement, in pixels.
    sigma : float, default 2.0
        Width (standard deviation, pixels) of the Gaussian that smooths the field:
        small σ gives a jittery warp, large σ a gentle bend.
    order, mode
        As for :class:`RandomAffine`.

    Notes
    -----
    Each of the two displacement components :math:`\Delta r, \Delta c` starts
    as independent standard normal values per pixel, is smoothed by
    ``scipy.ndimage.gaussian_filter`` of width σ, and is scaled so that the
    field's root-mean-square length is α; output pixel p is read from the input
    at :math:`\mathbf{p} + \Delta(\mathbf{p})`.
    """

    def __init__(self, shape, alpha=1.0, sigma=2.0, *, order=1, mode="grid-constant"):
        super().__init__(shape, order, mode)
        self.alpha = _finite("alpha", alpha)
        self.sigma = _finite("sigma", sigma)
        if self.sigma == 0:
            raise ValueError("sigma must be > 0")

    def __repr__(self):
        return f"ElasticWarp({self.shape}, alpha={self.alpha:g}, sigma={self.sigma:g})"

    def displacement(self, rng):
        """One random displacement field, shape (2, H, W): (Δr, Δc) in pixels."""
        hw = self.shape[1:]
        d = np.stack([ndimage.gaussian_filter(rng.standard_normal(hw), self.sigma,
                                              mode="reflect") for _ in range(2)])
        rms = math.sqrt(float(np.mean(np.sum(d * d, axis=0))))
        return d * (self.alpha / rms) if rms > 0 else d

    def warp(self, X, field):
        """Every image of ``X`` warped by the same given ``field`` (2, H, W)."""
        imgs, dims = _rows(X, self.shape)
        field = np.asarray(field, dtype=float)
        if field.shape != (2,) + dims[1:]:
            raise ValueError(f"field must have shape {(2,) + dims[1:]}; got {field.shape}")
        coords = np.indices(dims[1:], dtype=float) + field
        out = np.stack([[ndimage.map_coordinates(im, coords, order=self.order, mode=self.mode,
                                                 cval=0.0) for im in img] for img in imgs])
        return out.reshape(imgs.shape[0], -1)

    def _coordinates(self, rng, hw):
        return np.indices(hw, dtype=float) + self.displacement(rng)


class InputNoise:
    r"""Additive Gaussian input noise: :math:`\mathbf{x} + \xi\boldsymbol\epsilon`,
    :math:`\boldsymbol\epsilon \sim \mathcal{N}(\mathbf{0}, \mathbf{I})` (§5.5.5).

    Parameters
    ----------
    xi : float
        ξ, the noise standard deviation (in the units of the inputs).
    """

    def __init__(self, xi):
        self.xi = _finite("xi", xi)

    def __repr__(self):
        return f"InputNoise(xi={self.xi:g})"

    def __eq__(self, other):
        return type(other) is InputNoise and other.xi == self.xi

    __hash__ = None

    def __call__(self, X, rng):
        X = np.asarray(X, dtype=float)
        return X + self.xi * rng.standard_normal(X.shape)


class Compose:
    """Random transformations applied in turn: ``Compose(a, b)(X, rng) = b(a(X, rng), rng)``."""

    def __init__(self, *transforms):
        if not transforms or not all(callable(t) for t in transforms):
            raise ValueError("Compose takes one or more transformations (callables X, rng -> X)")
        self.transforms = tuple(transforms)

    def __repr__(self):
        return f"Compose({', '.join(map(repr, self.transforms))})"

    def __eq__(self, other):
        return type(other) is Compose and other.transforms == self.transforms

    __hash__ = None

    def __call__(self, X, rng):
        for t in self.transforms:
            X = t(X, rng)
        return X


def augment(X, T, transform, n_copies, rng, *, keep_original=True):
    """A fixed augmented training set: ``n_copies`` transformed copies of every pattern.

    Parameters
    ----------
    X : ndarray (N, D)
    T : ndarray (N, K)
        Targets, repeated unchanged with their patterns (invariance: the label of
        a transformed digit is the digit's).
    transform : callable ``(X, rng) -> X``
    n_copies : int >= 1
    rng : numpy Generator or int seed
    keep_original : bool, default True
        Put the untransformed patterns first.

    Returns
    -------
    (X_aug, T_aug) with ``(n_copies + keep_original) · N`` rows: the originals,
    then copy 1 of every pattern, copy 2, ...
    """
    from .._rng import as_rng

    X, T = np.asarray(X, dtype=float), np.asarray(T)
    if X.ndim != 2 or T.shape[:1] != X.shape[:1]:
        raise ValueError(f"X must be (N, D) and T have N rows; got {X.shape} and {T.shape}")
    if isinstance(n_copies, bool) or int(n_copies) != n_copies or n_copies < 1:
        raise ValueError(f"n_copies must be a positive integer; got {n_copies!r}")
    if not callable(transform):
        raise ValueError("transform must be a callable (X, rng) -> X")
    rng = as_rng(rng)
    parts = [X] if keep_original else []
    parts += [transform(X, rng) for _ in range(int(n_copies))]
    reps = len(parts)
    return np.concatenate(parts), np.concatenate([T] * reps)
