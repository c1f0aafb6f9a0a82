r"""The exact Hessian-vector product by the R-operator (PRML §5.4.6).

Pearlmutter's operator :math:`\mathcal{R}\{\cdot\} = \mathbf{v}^\mathrm{T}\nabla`
differentiates every quantity of forward and backward propagation along a
direction :math:`\mathbf{v}` of weight space. Applied to the gradient it gives
:math:`\mathcal{R}\{\nabla E\} = \mathbf{H}\mathbf{v}` exactly, at the cost of
about two gradient evaluations and without forming :math:`\mathbf{H}`.

The code below is written so that it can be laid beside forward propagation
(5.48, 5.49) and backpropagation (5.56, 5.53): every line of the R-pass is the
R-image of the line beside it.

.. math::
    \mathcal{R}\{a_j\} = \sum_i v_{ji} x_i + \sum_i w_{ji}\mathcal{R}\{x_i\}, \qquad
    \mathcal{R}\{z_j\} = h'(a_j)\,\mathcal{R}\{a_j\}

    \mathcal{R}\{\delta_j\} = h''(a_j)\mathcal{R}\{a_j\}\sum_k w_{kj}\delta_k
        + h'(a_j)\sum_k v_{kj}\delta_k + h'(a_j)\sum_k w_{kj}\mathcal{R}\{\delta_k\}

    \mathcal{R}\Big\{\frac{\partial E}{\partial w_{ji}}\Big\} =
        \mathcal{R}\{\delta_j\}\,x_i + \delta_j\,\mathcal{R}\{x_i\}

At the outputs :math:`\mathcal{R}\{\delta_k\}` comes from the output model's
``r_delta`` (for the canonical pairs, :math:`\mathcal{R}\{y_k\}`).

All results are for the data error :math:`E_D`, a **sum over patterns**.
"""

from __future__ import annotations

import math

import numpy as np

from ..layers import Dense
from . import _rop_dense

__all__ = ["hvp"]


def check_direction(net, v, name="v"):
    """Return ``v`` as a (W,) or (R, W) array of the network's dtype, or raise."""
    if (type(v) is np.ndarray and v.dtype is net.dtype and v.ndim == 1
            and v.shape[0] == net.n_weights and math.isfinite(np.vdot(v, v))):
        return v                                        # the fast path of the checks below
    v = np.asarray(v)
    W = net.n_weights
    if v.ndim not in (1, 2) or v.shape[-1] != W:
        raise ValueError(
            f"{name} has shape {v.shape}; it must be a direction of shape ({W},) "
            f"or a block of directions (R, {W}), like the weight vector"
        )
    if v.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric; got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=net.dtype)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return v


def hvp(net, w, X, T, v, *, workspace=None):
    r"""Exact Hessian-vector product :math:`\mathbf{H}\mathbf{v}` of the error (§5.4.6).

    Parameters
    ----------
    net : Network
    w : ndarray of shape (W,)
    X : ndarray of shape (N, D)
    T : ndarray of shape (N, K)
    v : ndarray of shape (W,) or (R, W)
        One direction, or R directions at once (rows): the R-quantities of all
        of them then travel together with a leading axis, shape (R, N, n), so
        every layer does a few batched matrix products.
    workspace : Workspace, optional
        Buffers kept between calls (``net.workspace()``); same results bit for bit.

    Returns
    -------
    ndarray of the shape of ``v``:
    :math:`\mathbf{H}\mathbf{v} = \mathcal{R}\{\nabla E\}`, with
    :math:`\mathbf{H} = \nabla\nabla E` the Hessian of the error summed over
    patterns (one row per direction).

    Notes
    -----
    One forward, one R-forward, one backward and one R-backward pass: about two
    gradient evaluations, for any depth, hidden activation and output model.
    """
    w, X, T = net.check_data(w, X, T)
    return _hvp(net, w, X, T, check_direction(net, v), ws=net._check_workspace(workspace))


#: patterns × widest layer (× directions) from which the R-passes keep their arrays
#: in a workspace
_KEEP_ARRAYS = 4096


def _hvp(net, w, X, T, v, out=None, ws=None):
    """R-operator for one direction (W,) or R directions (R, W); inputs already checked.

    With R directions the R-quantities carry a leading axis of directions,
    shape (R, N, n); the output model's ``r_delta`` broadcasts over it.
    """
    N = X.shape[0]
    R = v.shape[0] if v.ndim == 2 else 0
    if not R and net._acts is not None:                  # dense layers, one direction
        return _dense_hvp(net, w, X, T, v, out, ws)
    if ws is None or N * max(R, 1) * net._widest < _KEEP_ARRAYS or not ws.acquire():
        return _r_passes(net, w, X, T, v, out, None)
    try:
        return _r_passes(net, w, X, T, v, out,
                         ws.get(("hvp", N, R), lambda: _RBuffers(net, N, R)))
    finally:
        ws.release()


def _dense_hvp(net, w, X, T, v, out, ws):
    """H·v of a dense network (:mod:`._rop_dense`), over chunks of patterns that stay
    in cache, summed."""
    N = X.shape[0]
    chunks = max(1, N // _rop_dense.rows_per_chunk(net))     # equal chunks, none too small
    step = -(-N // chunks)
    P = _rop_dense.stacked_weights(net, w, v)
    if out is None:
        out = np.empty(net.n_weights, dtype=net.dtype)
    part = out if N <= step else np.empty_like(out)
    busy = ws is None or not ws.acquire()
    try:
        for i, s in enumerate(range(0, N, step)):
            n = min(step, N - s)
            b = None if busy else ws.get(("hvp", n), lambda: _rop_dense._Buffers(net, n))
            _rop_dense.r_passes(net, w, X[s:s + n], T[s:s + n], v, out if i == 0 else part,
                                b, P)
            if i:
                out += part
    finally:
        if not busy:
            ws.release()
    return out


class _RBuffers:
    """A workspace's arrays for the R-passes over N patterns and R directions
    (R = 0: one direction, no leading axis)."""

    __slots__ = ("fwd", "h1", "rfwd", "rbwd", "dz", "t", "out")

    def __init__(self, net, N, R):
        dt, layers, L = net.dtype, net.layers, len(net.layers)
        lead = (R,) if R else ()
        e = np.empty
        hidden = [l < L - 1 for l in range(L)]
        self.fwd = [(e((N, m.n_out), dt), e((N, m.n_out), dt) if hidden[l] else None)
                    for l, m in enumerate(layers)]
        self.h1 = [e((N, m.n_out), dt) if hidden[l] else None for l, m in enumerate(layers)]
        self.rfwd = [(e(lead + (N, m.n_out), dt),
                      e(lead + (N, m.n_out), dt) if hidden[l] else None,
                      e(lead + (N, m.n_out), dt) if l else None) for l, m in enumerate(layers)]
        self.rbwd = [(e(lead + (N, m.n_in), dt), e(lead + (N, m.n_in), dt),
                      e((m.n_out, m.n_in), dt)) if l else None for l, m in enumerate(layers)]
        self.dz = [e((N, m.n_in), dt) if l else None for l, m in enumerate(layers)]
        self.t = [(e((N, m.n_out), dt), e(lead + (N, m.n_out), dt) if R else None)
                  if hidden[l] else None for l, m in enumerate(layers)]
        self.out = tuple(e((N, net.n_outputs), dt) for _ in range(3))

    @classmethod
    def none(cls, L):
        """No buffers: every pass allocates its results."""
        b = cls.__new__(cls)
        b.fwd = b.h1 = b.rfwd = b.rbwd = b.dz = b.t = (None,) * L
        b.out = None
        return b


def _r_passes(net, w, X, T, v, out, b):
    """The four passes; with ``b`` (a workspace's buffers) written into its arrays."""
    many = v.ndim == 2
    layers, slices = net.layers, net.layer_slices()
    L = len(layers)
    if b is None:
        b = _RBuffers.none(L)
    inputs, r_inputs, pre, r_pre, slopes = [None] * L, [None] * L, [None] * L, [None] * L, [None] * L
    # Forward pass (5.48, 5.49)               beside it the R-forward pass
    x, rx = X, None
    for l in range(L):
        layer, s = layers[l], slices[l]
        hidden = l < L - 1
        a, z = layer.forward(w[s], x, b.fwd[l])
        h1 = layer.activation.derivative(a, z, b.h1[l]) if hidden else None    # h'(a_j)
        r_forward = layer.r_forward_many if many else layer.r_forward
        ra, rz = r_forward(w[s], v[..., s], x, rx, a, z, dh=h1, out=b.rfwd[l],
                           need_z=hidden)                                      # R{a_j}, R{z_j}
        inputs[l], r_inputs[l], pre[l], r_pre[l], slopes[l] = x, rx, a, ra, h1
        x, rx = z, rz
    a, ra = pre[-1], r_pre[-1]
    y, _, delta = net.output.evaluate(a, T, b.out)       # δ_k = y - t for the canonical pairs
    r_delta = net.output.r_delta(a, y, T, ra)            # R{δ_k}
    # Backward pass (5.56)                    beside it the R-backward pass
    if out is None:
        out = np.empty(v.shape, dtype=net.dtype)
    for l in range(L - 1, -1, -1):
        layer, s = layers[l], slices[l]
        r_backward = layer.r_backward_many if many else layer.r_backward
        r_dz = r_backward(w[s], v[..., s], inputs[l], r_inputs[l], delta, r_delta, out[..., s],
                          need_input=l > 0, bufs=None if many else b.rbwd[l])
        if l == 0:                                       # R{∂E/∂w} (§5.4.6) and R{Σ_k w_kj δ_k}
            break
        if type(layer) is Dense:
            dz = np.dot(delta, layer.unpack(w[s])[0], out=b.dz[l])   # Σ_k w_kj δ_k
        else:
            dz = layer.input_grad_at(w[s], inputs[l], delta)
        act, a, z, h1 = layers[l - 1].activation, pre[l - 1], inputs[l], slopes[l - 1]
        tb = b.t[l - 1]
        t = act.second_derivative(a, z, h1, None if tb is None else tb[0])   # h''(a_j)
        if tb is not None and t is tb[0]:                # then × R{a_j} Σ_k w_kj δ_k
            t = np.multiply(t, r_pre[l - 1], out=tb[1] if many else t)
        else:
            own = isinstance(t, np.ndarray) and t.shape == r_dz.shape and t.flags.writeable
            t = np.multiply(t, r_pre[l - 1], out=t if own else None)
        t *= dz
        r_dz *= h1
        r_dz += t
        r_delta = r_dz              # R{δ_j} = h''(a_j) R{a_j} Σ w δ + h'(a_j) R{Σ w δ}
        dz *= h1
        delta = dz                  # δ_j = h'(a_j) Σ_k w_kj δ_k                 (5.56)
    return out
