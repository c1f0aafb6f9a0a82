r"""Hessians of networks with layers of any type (convolution, subsampling, §5.5.6).

The block formulas of :mod:`prmlnet.hessian.exact` are written for dense
layers. A network whose top layers are dense — a convolutional network with
its fully connected layers, say — splits into a *head* (layers of any type)
and a dense *tail*. The weights of the tail do not act on the head, so the
tail's block of the Hessian is the Hessian of the tail alone, as a network of
its own, on the head's outputs :math:`\mathbf{z}^{(l_0)}`:

.. math:: \mathbf{H}_{\text{tail},\text{tail}} = \nabla_\text{tail}\nabla_\text{tail}
          E\big(\mathbf{z}^{(l_0)}(\mathbf{x}_n),\ \mathbf{w}_\text{tail}\big)

which the block formulas give in :math:`O(N W_\text{tail}^2)`. The rows of
the head's weights — few, since weight sharing keeps convolutional layers
small — come from the R-operator (§5.4.6) applied to the unit directions
:math:`\mathbf{e}_i`, many at a time: :math:`\mathbf{H}\mathbf{e}_i` is row i.
Symmetry gives the rest. Nothing here knows what a convolution is: the head's
layers are used only through the passes of :class:`prmlnet.layers.Layer`.

All results are for the data error :math:`E_D` summed over patterns.
"""

from __future__ import annotations

import numpy as np

from ..layers import Dense
from .exact import _WORKSPACE, _assemble, _chunk_size, _dense_diagonal
from .rop import _hvp_many

__all__ = ["dense_tail", "exact_mixed", "outer_product_mixed", "exact_diagonal_mixed",
           "rop_rows"]


def dense_tail(net):
    """Index l0 of the first layer of the run of dense layers that ends the network
    (``len(net.layers)`` when the last layer is not dense)."""
    l0 = len(net.layers)
    while l0 > 0 and type(net.layers[l0 - 1]) is Dense:
        l0 -= 1
    return l0


def _tail(net, l0):
    from ..network import Network
    return Network.from_layers(net.layers[l0:], output=net.output, dtype=net.dtype)


def _head_outputs(net, w, X, l0, step):
    """The outputs :math:`\\mathbf{z}^{(l_0)}` of the head (the tail's inputs), (N, n)."""
    parts = []
    for start in range(0, X.shape[0], step):
        z = X[start:start + step]
        for layer, s in zip(net.layers[:l0], net.layer_slices()[:l0]):
            _, z = layer.forward(w[s], z)
        parts.append(z)
    return np.concatenate(parts)


def rop_rows(net, w, X, T, stop):
    r"""Rows ``0 .. stop-1`` of H by the R-operator on unit directions, in blocks.

    Yields ``(r0, r1, rows)`` with ``rows`` = :math:`\mathbf{H}[r_0:r_1, :]`
    summed over all patterns. The blocks of directions and the chunks of
    patterns are sized so that the R-quantities fit the workspace.
    """
    W, N = net.n_weights, X.shape[0]
    per = 3 * sum(layer.workspace() for layer in net.layers)      # floats per pattern·direction
    budget = max(1, _WORKSPACE // (net.dtype.itemsize * per))    # pattern·directions at once
    block = int(max(1, min(stop, budget // N if budget >= N else 1, 512)))
    step = int(max(1, min(N, budget // block)))
    for r0 in range(0, stop, block):
        r1 = min(stop, r0 + block)
        V = np.zeros((r1 - r0, W), dtype=net.dtype)
        V[np.arange(r1 - r0), np.arange(r0, r1)] = 1.0
        rows = np.zeros((r1 - r0, W), dtype=net.dtype)
        for start in range(0, N, step):
            rows += _hvp_many(net, w, X[start:start + step], T[start:start + step], V)
        yield r0, r1, rows


def exact_mixed(net, w, X, T, chunk_size=None):
    """The exact (W, W) Hessian: head rows by the R-operator, the dense tail by blocks."""
    W = net.n_weights
    l0 = dense_tail(net)
    h = net.layer_slices()[l0].start if l0 < len(net.layers) else W
    H = np.zeros((W, W), dtype=net.dtype)
    for r0, r1, rows in rop_rows(net, w, X, T, h):
        H[r0:r1] = rows
    if h < W:
        tail = _tail(net, l0)
        Z = _head_outputs(net, w, X, l0, _chunk_size(net, X.shape[0], chunk_size))
        H[h:, h:] = _assemble(tail, w[h:], Z, T, chunk_size=chunk_size)
        H[h:, :h] = H[:h, h:].T
    head = H[:h, :h]
    head[...] = 0.5 * (head + head.T)
    return H


def outer_product_mixed(net, w, X, T, curvature, chunk_size=None):
    r"""The outer-product Hessian :math:`\sum_n \mathbf{B}_n^\mathrm{T}\mathbf{C}_n\mathbf{B}_n`:
    head rows from the per-pattern derivatives :math:`\mathbf{B}_n`, the tail by blocks."""
    W = net.n_weights
    l0 = dense_tail(net)
    h = net.layer_slices()[l0].start if l0 < len(net.layers) else W
    G = np.zeros((W, W), dtype=net.dtype)
    K = net.n_outputs
    step = int(max(1, min(X.shape[0], _WORKSPACE // (2 * net.dtype.itemsize * K * W))))
    for start in range(0, X.shape[0], step):
        Xc, Tc = X[start:start + step], T[start:start + step]
        B = net.output_gradients(w, Xc, wrt="a")                         # (n, K, W)  (5.84)
        c = net._forward(w, Xc)
        CB = np.matmul(curvature(c.a[-1], c.y, Tc), B)
        G[:h] += B[:, :, :h].reshape(-1, h).T.dot(CB.reshape(-1, W))
    if h < W:
        Z = _head_outputs(net, w, X, l0, _chunk_size(net, X.shape[0], chunk_size))
        G[h:, h:] = _assemble(_tail(net, l0), w[h:], Z, T, residual=False,
                              curvature=curvature, chunk_size=chunk_size)
        G[h:, :h] = G[:h, h:].T
    head = G[:h, :h]
    head[...] = 0.5 * (head + head.T)
    return G


def exact_diagonal_mixed(net, w, X, T, chunk_size=None):
    """The diagonal of the exact Hessian: head entries from blocks of R-operator rows,
    the tail's from the dense diagonal formula on the head's outputs."""
    W = net.n_weights
    l0 = dense_tail(net)
    h = net.layer_slices()[l0].start if l0 < len(net.layers) else W
    out = np.zeros(W, dtype=net.dtype)
    for r0, r1, rows in rop_rows(net, w, X, T, h):
        out[r0:r1] = rows[np.arange(r1 - r0), np.arange(r0, r1)]
    if h < W:
        Z = _head_outputs(net, w, X, l0, _chunk_size(net, X.shape[0], chunk_size))
        out[h:] = _dense_diagonal(_tail(net, l0), w[h:], Z, T, chunk_size)
    return out

