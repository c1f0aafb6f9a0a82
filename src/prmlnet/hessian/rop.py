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

import numpy as np

__all__ = ["hvp", "hvp_many"]


def check_direction(net, v, name="v"):
    """Return ``v`` as a (W,) or (R, W) array of the network's dtype, or raise."""
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


def hvp(net, w, X, T, v):
    r"""Exact Hessian-vector product :math:`\mathbf{H}\mathbf{v}` of the error (§5.4.6).

    Parameters
    ----------
    net : Network
    w : ndarray of shape (W,)
    X : ndarray of shape (N, D)
    T : ndarray of shape (N, K)
    v : ndarray of shape (W,) or (R, W)
        One direction, or R directions at once (rows).

    Returns
    -------
    ndarray of the shape of ``v``:
    :math:`\mathbf{H}\mathbf{v} = \mathcal{R}\{\nabla E\}`, with
    :math:`\mathbf{H} = \nabla\nabla E` the Hessian of the error summed over
    patterns.

    Notes
    -----
    One forward, one R-forward, one backward and one R-backward pass: about two
    gradient evaluations, for any depth, hidden activation and output model.
    """
    w, X, T = net.check_data(w, X, T)
    return _hvp(net, w, X, T, check_direction(net, v))


def hvp_many(net, w, X, T, V):
    """:func:`hvp` for a block of directions ``V`` (R, W), one pass for all; returns (R, W).

    The R-quantities of all directions travel together with a leading axis,
    shape (R, N, n), so every layer does a few batched matrix products.
    """
    w, X, T = net.check_data(w, X, T)
    return _hvp(net, w, X, T, check_direction(net, V, "V"))


def _hvp(net, w, X, T, v, out=None):
    """R-operator for one direction (W,) or R directions (R, W); inputs already checked.

    With R directions the R-quantities carry a leading axis of directions,
    shape (R, N, n); the output model's ``r_delta`` broadcasts over it.
    """
    many = v.ndim == 2
    layers, slices = net.layers, net.layer_slices()
    L = len(layers)
    inputs, r_inputs, pre, r_pre, slopes = [], [], [], [], []
    # Forward pass (5.48, 5.49)               beside it the R-forward pass
    x, rx = X, None
    for l, (layer, s) in enumerate(zip(layers, slices)):
        inputs.append(x)
        r_inputs.append(rx)
        a, z = layer.forward(w[s], x)
        h1 = layer.activation.dh(a, z) if l < L - 1 else 1.0          # h'(a_j)
        r_forward = layer.r_forward_many if many else layer.r_forward
        ra, rz = r_forward(w[s], v[..., s], x, rx, a, z, dh=h1)       # R{a_j}, R{z_j}
        pre.append(a)
        r_pre.append(ra)
        slopes.append(h1)
        x, rx = z, rz
    a, ra = pre[-1], r_pre[-1]
    y = net.output.output(a)
    delta = net.output.delta(a, y, T)                    # (5.18) for the canonical pairs
    r_delta = net.output.r_delta(a, y, T, ra)            # R{δ_k}
    # Backward pass (5.56)                    beside it the R-backward pass
    if out is None:
        out = np.empty(v.shape, dtype=net.dtype)
    for l in range(L - 1, -1, -1):
        layer, s = layers[l], slices[l]
        r_backward = layer.r_backward_many if many else layer.r_backward
        r_dz = r_backward(w[s], v[..., s], inputs[l], r_inputs[l], delta, r_delta, out[..., s],
                          need_input=l > 0)              # R{∂E/∂w} (§5.4.6) and R{Σ_k w_kj δ_k}
        if l == 0:
            break
        dz = layer.input_grad_at(w[s], inputs[l], delta)   # Σ_k w_kj δ_k
        act, a, z, h1 = layers[l - 1].activation, pre[l - 1], inputs[l], slopes[l - 1]
        t = act.d2h(a, z, h1)                            # h''(a_j), then × R{a_j} Σ_k w_kj δ_k
        own = isinstance(t, np.ndarray) and t.shape == r_dz.shape and t.flags.writeable
        t = np.multiply(t, r_pre[l - 1], out=t if own else None)
        t *= dz
        r_dz *= h1
        r_dz += t
        r_delta = r_dz              # R{δ_j} = h''(a_j) R{a_j} Σ w δ + h'(a_j) R{Σ w δ}
        dz *= h1
        delta = dz                  # δ_j = h'(a_j) Σ_k w_kj δ_k                 (5.56)
    return out


def _hvp_many(net, w, X, T, V, out=None):
    """:func:`_hvp` for a block of directions V (R, W)."""
    return _hvp(net, w, X, T, V, out)
