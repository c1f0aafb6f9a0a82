r"""Numerical checkers for derivatives — for the test suite and for learners.

Central differences (5.69) are accurate to O(ε²) where one-sided differences are
O(ε); each step is scaled as ``h · max(1, |w_i|)`` so that large weights get
steps large enough to survive rounding.

Every checker returns numbers and a verdict; none of them prints.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._rng import as_rng

__all__ = [
    "relative_error",
    "central_differences",
    "check_gradient",
    "check_directional",
    "GradientCheck",
]


def relative_error(a, b) -> float:
    r"""``‖a - b‖ / max(‖a‖, ‖b‖)`` (Euclidean norms over all entries); 0 if both are 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def central_differences(f, w, h=1e-5):
    r"""Derivatives of ``f`` at ``w`` by central differences, one coordinate at a time.

    Parameters
    ----------
    f : callable ``f(w) -> float or ndarray``
    w : ndarray of shape (W,)
    h : float
        Relative step; coordinate ``i`` moves by ``h · max(1, |w_i|)``.

    Returns
    -------
    ndarray of shape ``np.shape(f(w)) + (W,)``: the gradient for scalar ``f``,
    the Jacobian ∂f/∂w otherwise.

    Notes
    -----
    .. math:: \frac{\partial E}{\partial w_{ji}} = \frac{E(w_{ji} + \epsilon) -
              E(w_{ji} - \epsilon)}{2\epsilon} + O(\epsilon^2) \quad (5.69)

    Costs 2W evaluations of ``f``: use :func:`check_directional` for large W.
    """
    w = np.array(w, dtype=float)
    f0 = np.asarray(f(w), dtype=float)
    out = np.empty(f0.shape + w.shape)
    for i in range(w.size):
        eps = h * max(1.0, abs(w[i]))
        wp, wm = w.copy(), w.copy()
        wp[i] += eps
        wm[i] -= eps
        out[..., i] = (np.asarray(f(wp), dtype=float) - np.asarray(f(wm), dtype=float)) / (2 * eps)
    return out


class GradientCheck(NamedTuple):
    """Result of a derivative check: the two computations, their relative error
    and whether it is below the tolerance."""

    analytic: np.ndarray
    numeric: np.ndarray
    error: float
    tol: float
    ok: bool


def check_gradient(f, grad, w, h=1e-5, tol=1e-7) -> GradientCheck:
    """Compare ``grad(w)`` with central differences of ``f`` on every coordinate.

    ``f`` may be vector-valued, ``grad`` then returns its Jacobian (…, W).
    """
    analytic = np.asarray(grad(w), dtype=float)
    numeric = central_differences(f, w, h)
    err = relative_error(analytic, numeric)
    return GradientCheck(analytic, numeric, err, tol, bool(err < tol))


def check_directional(f, grad, w, rng=None, n_directions=10, h=1e-5, tol=1e-7) -> GradientCheck:
    r"""Check a gradient along random directions; the cost does not grow with W.

    For unit directions :math:`\mathbf{v}`, compare :math:`\nabla f^\mathrm{T}\mathbf{v}`
    with :math:`(f(\mathbf{w} + \epsilon\mathbf{v}) - f(\mathbf{w} - \epsilon\mathbf{v}))/2\epsilon`,
    :math:`\epsilon = h \max(1, \|\mathbf{w}\|_\infty)`. ``analytic`` and
    ``numeric`` hold one directional derivative per direction (per output of a
    vector ``f``). Costs one gradient and 2 × ``n_directions`` evaluations.
    """
    rng = as_rng(rng)
    w = np.array(w, dtype=float)
    g = np.asarray(grad(w), dtype=float)
    V = rng.standard_normal((n_directions, w.size))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    eps = h * max(1.0, float(np.max(np.abs(w))))
    analytic = np.stack([g @ v for v in V])
    numeric = np.stack([
        (np.asarray(f(w + eps * v), dtype=float) - np.asarray(f(w - eps * v), dtype=float)) / (2 * eps)
        for v in V
    ])
    err = relative_error(analytic, numeric)
    return GradientCheck(analytic, numeric, err, tol, bool(err < tol))
