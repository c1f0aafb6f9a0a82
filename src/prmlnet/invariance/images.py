r"""Transformations of images and their tangent vectors (PRML §5.5.4).

Images are flat rows, as everywhere in prmlnet, with a declared shape: (H, W)
for one channel or (C, H, W), row-major (NCHW flattened). Pixel (r, c) has its
row r counted downwards and its column c rightwards, as images are displayed;
the centre is :math:`\mathbf{p}_0 = ((H-1)/2, (W-1)/2)`.

Each transformation :math:`s(\mathbf{x}, \xi)` resamples the image at moved
points by ``scipy.ndimage`` spline interpolation (``affine_transform``,
``map_coordinates``), with :math:`s(\mathbf{x}, 0) = \mathbf{x}`:

=============== ============================================== ======================
name            the image sampled at                           ξ in
=============== ============================================== ======================
``translate_x`` (r, c − ξ): the content moves right            pixels
``translate_y`` (r − ξ, c): the content moves down             pixels
``rotate``      p₀ + R(ξ)(p − p₀): anticlockwise as displayed  radians
``scale``       p₀ + (p − p₀)/(1 + ξ): the content grows       relative size
``thicken``     p + ξ ∇f/‖∇f‖: bright strokes grow             pixels
=============== ============================================== ======================

(R(ξ) = [[cos ξ, sin ξ], [−sin ξ, cos ξ]] in (r, c) coordinates; the image
gradient ∇f of ``thicken`` is ``numpy.gradient``'s.) The tangent vector
:math:`\boldsymbol\tau = \partial s(\mathbf{x}, \xi)/\partial\xi|_{\xi=0}` is
computed by central differences of the transformed image,
:math:`(s(\mathbf{x}, \epsilon) - s(\mathbf{x}, -\epsilon))/2\epsilon`: the
derivative of the spline interpolant of the image. For a smooth image f these
tend to

.. math:: \tau_{\text{tx}} = -\partial_c f, \quad \tau_{\text{ty}} = -\partial_r f, \quad
          \tau_{\text{rot}} = (c - c_0)\,\partial_r f - (r - r_0)\,\partial_c f,

          \tau_{\text{scale}} = -(r - r_0)\,\partial_r f - (c - c_0)\,\partial_c f, \quad
          \tau_{\text{thick}} = \|\nabla f\|

Pixels moved in from outside the image are 0 (``mode="grid-constant"``: a dark
background, as in the digits); other ``scipy.ndimage`` modes may be given.
Small images interpolate coarsely: :func:`upsample` enlarges them with
``scipy.ndimage.zoom`` first where that matters (rotations of 8×8 digits).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["TRANSFORMS", "image_shape", "transform_images", "image_tangents", "upsample"]

TRANSFORMS = ("translate_x", "translate_y", "rotate", "scale", "thicken")
_ALIASES = {"translate": ("translate_x", "translate_y")}


def image_shape(shape, n_features=None):
    """``(C, H, W)`` from a declared (H, W) or (C, H, W), checked; raise ValueError if bad.

    ``n_features``, if given, must equal C·H·W.
    """
    try:
        dims = tuple(int(d) for d in shape)
        ok = len(dims) in (2, 3) and all(d >= 1 and d == s for d, s in zip(dims, shape))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"image shape must be (H, W) or (C, H, W) of positive integers; "
                         f"got {shape!r}")
    dims = (1,) * (3 - len(dims)) + dims
    if n_features is not None and math.prod(dims) != n_features:
        raise ValueError(f"image shape {tuple(shape)} holds {math.prod(dims)} pixels but the "
                         f"rows have {n_features} features")
    return dims


def transform_names(transforms):
    """The transformation names, with ``"translate"`` standing for both translations."""
    if isinstance(transforms, str):
        transforms = (transforms,)
    names = []
    for t in transforms:
        for name in _ALIASES.get(t, (t,)):
            if name not in TRANSFORMS:
                raise ValueError(f"unknown transformation {t!r}; choose from "
                                 f"{', '.join(TRANSFORMS + tuple(_ALIASES))}")
            if name not in names:
                names.append(name)
    if not names:
        raise ValueError("no transformation given")
    return tuple(names)


def _rows(X, shape):
    """``X`` as an (N, C, H, W) float array (a view where possible), and the shape."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"images must be flat rows, an (N, D) array; got shape {X.shape}")
    dims = image_shape(shape, X.shape[1])
    return X.reshape((X.shape[0],) + dims), dims


def _affine(img, A, t, order, mode):
    """``img`` sampled at p₀ + A (p − p₀) − t (affine_transform: input = A o + offset)."""
    p0 = (np.array(img.shape, dtype=float) - 1.0) / 2.0
    return ndimage.affine_transform(img, A, p0 - A @ p0 - t, order=order, mode=mode, cval=0.0)


def _moved(img, name, xi, order, mode):
    """One 2-D image under transformation ``name`` with parameter ``xi``."""
    I2, zero = np.eye(2), np.zeros(2)
    if name == "translate_x":
        return _affine(img, I2, np.array([0.0, xi]), order, mode)
    if name == "translate_y":
        return _affine(img, I2, np.array([xi, 0.0]), order, mode)
    if name == "rotate":
        c, s = math.cos(xi), math.sin(xi)
        return _affine(img, np.array([[c, s], [-s, c]]), zero, order, mode)
    if name == "scale":
        return _affine(img, I2 / (1.0 + xi), zero, order, mode)
    # thicken: sample uphill along the unit image gradient
    g = np.stack(np.gradient(img))
    norm = np.sqrt(np.sum(g * g, axis=0))
    n = np.divide(g, norm, out=np.zeros_like(g), where=norm > 0)
    return ndimage.map_coordinates(img, np.indices(img.shape) + xi * n, order=order, mode=mode,
                                   cval=0.0)


def transform_images(X, shape, transform, amount, *, order=3, mode="grid-constant"):
    """Every image of ``X`` under one transformation (see the module docstring).

    Parameters
    ----------
    X : ndarray (N, D)
        Flat images.
    shape : (H, W) or (C, H, W)
    transform : str
        One of :data:`TRANSFORMS`.
    amount : float
        ξ, in pixels (translations, thickening), radians (rotation) or relative
        size (scale: 0.1 enlarges by 10 %).
    order : int, default 3
        Spline order of ``scipy.ndimage``'s interpolation.
    mode : str, default "grid-constant"
        ``scipy.ndimage`` boundary mode (grid-constant: 0 outside the image, the
        spline running on into it).

    Returns
    -------
    ndarray (N, D): a new array; every channel moves alike.
    """
    (name,) = transform_names(transform)
    imgs, dims = _rows(X, shape)
    out = np.empty_like(imgs)
    for n in range(imgs.shape[0]):
        for ch in range(dims[0]):
            out[n, ch] = _moved(imgs[n, ch], name, float(amount), order, mode)
    return out.reshape(X.shape[0], -1)


def image_tangents(X, shape, transforms=TRANSFORMS, *, step=1e-2, order=3, mode="grid-constant"):
    r"""Tangent vectors of images by central differences of transformed images (§5.5.4).

    Parameters
    ----------
    X : ndarray (N, D)
        Flat images.
    shape : (H, W) or (C, H, W)
    transforms : sequence of str, default all of :data:`TRANSFORMS`
        ``"translate"`` stands for ``"translate_x", "translate_y"``.
    step : float, default 1e-2
        ε of the central difference, in the units of each transformation.
    order, mode
        As for :func:`transform_images`.

    Returns
    -------
    ndarray (N, S, D): τ of each image for each of the S transformations, per
    unit of ξ (per pixel, per radian, per unit relative size).

    Notes
    -----
    .. math:: \boldsymbol\tau_n = \frac{s(\mathbf{x}_n, \epsilon) - s(\mathbf{x}_n, -\epsilon)}{2\epsilon}
              = \frac{\partial s(\mathbf{x}_n, \xi)}{\partial\xi}\Big|_{\xi=0} + O(\epsilon^2)
    """
    names = transform_names(transforms)
    step = float(step)
    if not (step > 0 and math.isfinite(step)):
        raise ValueError(f"step must be a finite number > 0; got {step!r}")
    imgs, dims = _rows(X, shape)
    N = imgs.shape[0]
    tau = np.empty((N, len(names)) + dims)
    for n in range(N):
        for ch in range(dims[0]):
            img = imgs[n, ch]
            for k, name in enumerate(names):
                plus = _moved(img, name, step, order, mode)
                minus = _moved(img, name, -step, order, mode)
                tau[n, k, ch] = (plus - minus) / (2.0 * step)
    return tau.reshape(N, len(names), -1)


def upsample(X, shape, factor, *, order=3):
    """Enlarge images by ``factor`` with ``scipy.ndimage.zoom`` (spline ``order``).

    Returns ``(X_up, shape_up)``: flat rows of the enlarged images, and their
    (C, H·factor, W·factor) shape. Values are clipped to the input's range (a
    cubic spline overshoots a little at sharp edges).
    """
    imgs, dims = _rows(X, shape)
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"factor must be a positive integer; got {factor!r}")
    up = ndimage.zoom(imgs, (1, 1, factor, factor), order=order, mode="nearest", grid_mode=True)
    up = np.clip(up, imgs.min(), imgs.max())
    return up.reshape(imgs.shape[0], -1), up.shape[1:]
