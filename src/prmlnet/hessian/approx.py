r"""Approximations of the Hessian (PRML §5.4.1–5.4.3).

``diagonal``               Becker & LeCun's diagonal approximation (5.79)–(5.81)
``outer_product``          the outer-product (Levenberg–Marquardt, Gauss–Newton)
                           approximation (5.84), (5.85) and its softmax form
``inverse_outer_product``  the inverse of the outer product plus αI, built
                           sequentially one pattern at a time (§5.4.3)

All are for the data error :math:`E_D`, a **sum over patterns**.
"""

from __future__ import annotations

import numpy as np

from ..layers import Dense
from ._memory import PEAK_COPIES, WORKSPACE_BYTES, check_matrix_memory
from .exact import _assemble, _chunk_size, output_curvature
from .mixed import outer_product_mixed

__all__ = ["outer_product", "diagonal", "inverse_outer_product", "output_derivatives"]


def _gn_curvature(output):
    """The outer-product weights of an output model, ``curvature(a, y, T)``."""
    return lambda a, y, T: output.curvature(a, y, T)


def output_derivatives(net, w, X):
    r""":math:`\mathbf{b}_{nk} = \partial a_{nk}/\partial\mathbf{w}`, shape (N, K, W) (5.84)."""
    return net.output_gradients(w, X, wrt="a")


def outer_product(net, w, X, T, *, chunk_size=None, max_bytes=None):
    r"""The outer-product (Gauss–Newton) approximation of the Hessian, (W, W).

    Returns
    -------
    ndarray of shape (W, W): :math:`\sum_n \mathbf{B}_n^\mathrm{T}\mathbf{C}_n\mathbf{B}_n`,
    positive semi-definite whenever every :math:`\mathbf{C}_n` is.

    Notes
    -----
    With :math:`\mathbf{B}_n = \partial\mathbf{a}_n/\partial\mathbf{w}` (K, W), the
    derivatives of the output pre-activations, and :math:`\mathbf{C}_n` the
    output model's ``curvature`` (its :math:`\partial^2 E_n/\partial\mathbf{a}_n^2`):

    .. math::
        \mathbf{H} \simeq \sum_n \mathbf{b}_n\mathbf{b}_n^\mathrm{T}
            \quad\text{(5.84, sum-of-squares, } \mathbf{C}_n = \mathbf{I})
        \qquad
        \mathbf{H} \simeq \sum_n y_n(1 - y_n)\,\mathbf{b}_n\mathbf{b}_n^\mathrm{T}
            \quad\text{(5.85, logistic)}

    and :math:`\mathbf{C}_n = \mathrm{diag}(\mathbf{y}_n) - \mathbf{y}_n\mathbf{y}_n^\mathrm{T}`
    for softmax. It drops the terms of the exact Hessian that hold the
    residuals :math:`\delta_k` (and :math:`h''`), so it is exact for a network
    linear in the weights with a linear output, and for zero residuals
    :math:`\mathbf{y}_n = \mathbf{t}_n`. Assembled per pair of layers as one
    matrix product over the patterns each (see :mod:`prmlnet.hessian.exact`).
    """
    w, X, T = net.check_data(w, X, T)
    _chunk_size(net, X.shape[0], chunk_size)                # a bad chunk_size fails first
    check_matrix_memory(net.n_weights, net.dtype.itemsize, PEAK_COPIES["outer_product"],
                        "the outer-product Hessian", max_bytes, workspace=WORKSPACE_BYTES)
    curv = _gn_curvature(net.output)
    if all(type(layer) is Dense for layer in net.layers):
        return _assemble(net, w, X, T, residual=False, curvature=curv, chunk_size=chunk_size)
    return outer_product_mixed(net, w, X, T, curv, chunk_size)


def diagonal(net, w, X, T, *, chunk_size=None):
    r"""Becker & LeCun's diagonal approximation of the Hessian, (W,).

    Notes
    -----
    Second derivatives with respect to the pre-activations are backpropagated
    with the off-diagonal terms neglected:

    .. math::
        \frac{\partial^2 E_n}{\partial w_{ji}^2} = \frac{\partial^2 E_n}{\partial a_j^2} z_i^2
            \quad (5.79)

        \frac{\partial^2 E_n}{\partial a_j^2} \simeq h'(a_j)^2\sum_k w_{kj}^2
            \frac{\partial^2 E_n}{\partial a_k^2} + h''(a_j)\sum_k w_{kj}
            \frac{\partial E_n}{\partial a_k} \quad (5.81)

    starting from the exact :math:`\partial^2 E_n/\partial a_k^2` at the outputs
    (the diagonal of :math:`\mathbf{C}_n`); ``z_i = 1`` for a bias. Costs about
    one backpropagation. Compare :func:`exact_diagonal`, which keeps the
    neglected terms. The approximation may be far from the truth (§5.4.1):
    the tour shows how far.

    Any layer type takes part through its ``weight_grad_sq`` and
    ``input_grad_sq`` (:mod:`prmlnet.layers`): the squared derivatives
    :math:`(\partial a_j/\partial w)^2` and :math:`(\partial a_k/\partial z_j)^2`.
    For a shared weight (a convolution kernel, §5.5.6) (5.79) is summed over
    every connection the weight serves — LeCun's own use of the approximation on
    convolutional networks — and the cross terms between those connections are
    dropped with the other off-diagonal terms. A subsampling unit's weight
    enters through the sum of its block, so its square is that of the block mean.
    """
    w, X, T = net.check_data(w, X, T)
    layers, slices = net.layers, net.layer_slices()
    out = np.zeros(net.n_weights, dtype=net.dtype)
    step = _chunk_size(net, X.shape[0], chunk_size)
    for start in range(0, X.shape[0], step):
        Xc, Tc = X[start:start + step], T[start:start + step]
        c = net._forward(w, Xc)
        a = c.a[-1]
        delta = net.output.delta(a, c.y, Tc)
        d2 = np.diagonal(output_curvature(net.output, a, c.y, Tc), axis1=1, axis2=2)
        g = np.empty(net.n_weights, dtype=net.dtype)
        for l in range(len(layers) - 1, -1, -1):
            layer, s, x = layers[l], slices[l], c.inputs[l]
            layer.weight_grad_sq(x, d2, g[s])                      # (5.79), summed over n
            out[s] += g[s]
            if l > 0:
                act, a_l = layers[l - 1].activation, c.a[l - 1]
                dh = act.dh(a_l, x)
                dz = layer.input_grad_at(w[s], x, delta)             # Σ_k w_kj δ_k
                d2 = dh ** 2 * layer.input_grad_sq(w[s], x, d2) + act.d2h(a_l, x, dh) * dz  # (5.81)
                delta = dh * dz                                     # (5.56)
    return out


def inverse_outer_product(net, w, X, T, alpha, *, max_bytes=None):
    r"""The inverse of the outer-product Hessian plus :math:`\alpha\mathbf{I}`, one pattern
    at a time (§5.4.3).

    Parameters
    ----------
    alpha : float > 0
        Start of the recursion, :math:`\mathbf{H}_0 = \alpha\mathbf{I}` (the
        weight-decay term of the regularized error; it makes every step
        invertible).

    Returns
    -------
    ndarray of shape (W, W): :math:`(\alpha\mathbf{I} + \sum_n
    \mathbf{B}_n^\mathrm{T}\mathbf{C}_n\mathbf{B}_n)^{-1}`.

    Notes
    -----
    One pattern at a time; for a single output the update is (5.89),

    .. math:: \mathbf{H}_{L+1}^{-1} = \mathbf{H}_L^{-1} - \frac{\mathbf{H}_L^{-1}
              \mathbf{b}_{L+1}\mathbf{b}_{L+1}^\mathrm{T}\mathbf{H}_L^{-1}}
              {1 + \mathbf{b}_{L+1}^\mathrm{T}\mathbf{H}_L^{-1}\mathbf{b}_{L+1}}

    and for K outputs its rank-K (Woodbury) form,
    :math:`\mathbf{G} \leftarrow \mathbf{G} - \mathbf{G}\mathbf{B}^\mathrm{T}
    \mathbf{C}(\mathbf{I} + \mathbf{B}\mathbf{G}\mathbf{B}^\mathrm{T}\mathbf{C})^{-1}
    \mathbf{B}\mathbf{G}`, which needs no inverse of :math:`\mathbf{C}_n` (the
    softmax one is singular). Cost :math:`O(N K W^2)`: no W×W inversion.
    """
    w, X, T = net.check_data(w, X, T)
    alpha = float(alpha)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 (H_0 = alpha I must be invertible); got {alpha}")
    W = net.n_weights
    check_matrix_memory(W, 8, PEAK_COPIES["inverse_outer_product"],
                        "the inverse outer-product Hessian", max_bytes, workspace=WORKSPACE_BYTES)
    G = np.eye(W) / alpha                                            # H_0^{-1}
    curv = _gn_curvature(net.output)
    step = 256
    for start in range(0, X.shape[0], step):
        Xc, Tc = X[start:start + step], T[start:start + step]
        Bs = output_derivatives(net, w, Xc)                          # (n, K, W)
        c = net._forward(w, Xc)
        Cs = curv(c.a[-1], c.y, Tc)
        K = Cs.shape[1]
        eye = np.eye(K)
        for B, C in zip(Bs, Cs):                                     # one pattern at a time
            GBt = G.dot(B.T)                                         # (W, K) = H_L^{-1} b
            S = eye + B.dot(GBt).dot(C)                                # 1 + bᵀ H^{-1} b  (K = 1)
            U = GBt.dot(C).dot(np.linalg.inv(S))                     # (W, K)
            G -= U.dot(GBt.T)                                        # (5.89)
    return 0.5 * (G + G.T)
