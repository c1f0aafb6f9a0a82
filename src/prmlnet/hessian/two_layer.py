r"""The exact Hessian of a two-layer network by the explicit formulas of §5.4.5.

Kept for learners: each block is one line beside its equation. The general,
faster assembly of :func:`prmlnet.hessian.exact` reduces to these formulas for
two layers, and the tests hold the two equal.

Notation of the book: first-layer weights :math:`w^{(1)}_{ji}` from input i to
hidden unit j, second-layer weights :math:`w^{(2)}_{kj}`; biases are the weights
from an extra input :math:`x_0 = 1` and an extra hidden unit :math:`z_0 = 1`;
:math:`\delta_k = \partial E_n/\partial a_k` and
:math:`M_{kk'} = \partial^2 E_n/\partial a_k\,\partial a_{k'}` at the outputs.
"""

from __future__ import annotations

import numpy as np

from ..layers import Dense

from .exact import output_curvature

__all__ = ["exact_two_layer"]


def _augmented_index(n_out, n_in, start):
    """Flat positions of a layer's (n_out, n_in + 1) weights, bias last."""
    idx = np.empty((n_out, n_in + 1), dtype=np.intp)
    idx[:, :n_in] = start + np.arange(n_out * n_in).reshape(n_out, n_in)
    idx[:, n_in] = start + n_out * n_in + np.arange(n_out)
    return idx.ravel()


def exact_two_layer(net, w, X, T):
    r"""The exact Hessian of a two-layer network, (W, W), from (5.93)–(5.95).

    Notes
    -----
    Summed over patterns n:

    .. math::
        \frac{\partial^2 E_n}{\partial w^{(2)}_{kj}\partial w^{(2)}_{k'j'}} = z_j z_{j'} M_{kk'}
            \quad (5.93)

        \frac{\partial^2 E_n}{\partial w^{(1)}_{ji}\partial w^{(1)}_{j'i'}} =
            x_i x_{i'} h''(a_{j'}) I_{jj'}\sum_k w^{(2)}_{kj'}\delta_k
            + x_i x_{i'} h'(a_{j'}) h'(a_j)\sum_k\sum_{k'} w^{(2)}_{k'j'} w^{(2)}_{kj} M_{kk'}
            \quad (5.94)

        \frac{\partial^2 E_n}{\partial w^{(1)}_{ji}\partial w^{(2)}_{kj'}} =
            x_i h'(a_j)\Big\{\delta_k I_{jj'} + z_{j'}\sum_{k'} w^{(2)}_{k'j} M_{kk'}\Big\}
            \quad (5.95)
    """
    if len(net.layers) != 2:
        raise ValueError(f"exact_two_layer needs a network with one hidden layer; this one "
                         f"has {len(net.layers) - 1}; use prmlnet.hessian.exact")
    if not all(type(layer) is Dense for layer in net.layers):
        raise ValueError("exact_two_layer writes out the formulas for two dense layers; use "
                         "prmlnet.hessian.exact for other layer types")
    w, X, T = net.check_data(w, X, T)
    (W1, b1), (W2, b2) = net.unpack(w)
    h = net.layers[0].activation
    N = X.shape[0]
    M_, K = W2.shape[1], W2.shape[0]
    one = np.ones((N, 1), dtype=X.dtype)
    # forward propagation (5.48, 5.49) and the output derivatives
    a1 = X.dot(W1.T) + b1
    z = h.h(a1)
    a2 = z.dot(W2.T) + b2
    y = net.output.output(a2)
    delta = net.output.delta(a2, y, T)                       # δ_k
    Mkk = output_curvature(net.output, a2, y, T)             # M_kk'
    h1, h2 = h.dh(a1, z), h.d2h(a1, z)
    x = np.hstack([X, one])                                  # x_0 = 1
    zt = np.hstack([z, one])                                 # z_0 = 1

    # (5.93): both weights in the second layer
    H22 = np.einsum("nj,nJ,nkK->kjKJ", zt, zt, Mkk, optimize=True)
    # (5.94): both weights in the first layer
    WMW = np.einsum("kj,nkK,KJ->njJ", W2, Mkk, W2, optimize=True)   # Σ_kk' w_kj w_k'j' M_kk'
    A = h1[:, :, None] * WMW * h1[:, None, :]
    idx = np.arange(M_)
    A[:, idx, idx] += h2 * delta.dot(W2)                     # h''(a_j) Σ_k w_kj δ_k on j = j'
    H11 = np.einsum("ni,nI,njJ->jiJI", x, x, A, optimize=True)
    # (5.95): one weight in each layer (the bias unit z_0 gets no δ_k I_jj' term)
    MW = np.einsum("nkK,Kj->nkj", Mkk, W2)                   # Σ_k' M_kk' w_k'j
    H12 = np.einsum("ni,nj,nJ,nkj->jikJ", x, h1, zt, MW, optimize=True)
    H12[:, :, :, idx] += np.einsum("ni,nj,nk->jik", x, h1, delta)[:, :, :, None] \
        * np.eye(M_)[:, None, None, :]

    # into the flat layout of w
    s1, s2 = net.layer_slices()
    i1 = _augmented_index(M_, X.shape[1], s1.start)
    i2 = _augmented_index(K, M_, s2.start)
    W = net.n_weights
    H = np.empty((W, W), dtype=net.dtype)
    n1, n2 = i1.size, i2.size
    H[np.ix_(i1, i1)] = H11.reshape(n1, n1)
    H[np.ix_(i2, i2)] = H22.reshape(n2, n2)
    H[np.ix_(i1, i2)] = H12.reshape(n1, n2)
    H[np.ix_(i2, i1)] = H12.reshape(n1, n2).T
    return H
