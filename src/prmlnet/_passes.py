r"""The fast paths of a network's passes: buffers, and loops for dense layers.

:class:`~prmlnet.network.Network` runs its forward and backward passes through
the passes of each layer (:mod:`prmlnet.layers`), which any layer type
provides. For networks of :class:`~prmlnet.layers.Dense` layers — most of the
chapter's — the functions here run the same operations in one loop (unrolled for
one hidden layer), into a workspace's buffers where there is one
(:mod:`prmlnet.workspace`). Small networks spend most of their time in the
interpreter, large ones in allocating and touching fresh memory; these loops
remove both. The tests hold every path equal, bit for bit, to the layer-by-layer
one.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas as _blas

from .layers import Dense, pattern_sum
from .workspace import Scratch

#: Weights up to which a workspace keeps its own copy of w (and of the gradient)
#: with every layer's views made once: for small networks making the views on
#: each call costs more than copying the two vectors.
_COPY_W = 2048
#: Patterns × widest layer from which a workspace keeps the activations: below,
#: numpy's own small allocations are as fast and cause no page faults.
_KEEP_ARRAYS = 4096


class GradBuffers:
    """A workspace's buffers for one forward and backward pass over N patterns:
    a copy of w and a gradient with each layer's views (small networks), the
    activations of every layer (large passes)."""

    __slots__ = ("w", "g", "params", "grads", "fwd", "dx", "tmp", "out", "scratch")

    def __init__(self, net, N):
        dt, layers, L = net.dtype, net.layers, len(net.layers)
        e = np.empty
        self.w = self.g = self.params = self.grads = None
        if net.n_weights <= _COPY_W:
            self.w, self.g = e(net.n_weights, dt), e(net.n_weights, dt)
            self.params = [views(layer, self.w[s]) for layer, s in zip(layers, net._slices)]
            self.grads = [views(layer, self.g[s]) for layer, s in zip(layers, net._slices)]
        self.fwd, self.dx, self.tmp, self.out = [None] * L, [None] * L, [None] * L, None
        self.scratch = None if net._acts is not None else Scratch()     # image layers' own
        if N * net._widest >= _KEEP_ARRAYS:
            self.fwd = [(e((N, layer.n_out), dt),
                         None if layer.activation.name == "identity" else e((N, layer.n_out), dt))
                        for layer in layers]
            self.dx = [None] + [e((N, layer.n_in), dt) for layer in layers[1:]]
            self.tmp = [e((N, layer.n_out), dt) for layer in layers[:-1]] + [None]
            self.out = tuple(e((N, net.n_outputs), dt) for _ in range(3))


def views(layer, p):
    """What a layer's passes take for its slice ``p``: Dense layers a (W, b) pair."""
    return layer.unpack(p) if type(layer) is Dense else p


def dense_passes(net, w, X, T, out, b):
    """:meth:`Network._passes` for a network of :class:`~prmlnet.layers.Dense` layers:
    the operations of ``Dense.forward`` and ``Dense.backward`` in one loop,
    without a method call per layer (small networks spend most of their time
    in the interpreter). The tests hold the two equal bit for bit."""
    if b is not None and b.out is not None:
        return dense_passes_into(net, w, X, T, out, b)
    acts, dot, psum = net._acts, np.dot, pattern_sum
    if b is None or b.w is None:
        params = [layer.unpack(w[s]) for layer, s in zip(net.layers, net._slices)]
    else:
        np.copyto(b.w, w)
        params = b.params
    if len(params) == 2:                                 # one hidden layer, unrolled
        (W1, b1), (W2, b2) = params
        act = acts[0]
        a1 = X.dot(W1.T)                                 # (5.48), (5.49)
        a1 += b1
        z = act.h(a1)
        a = z.dot(W2.T)
        a += b2
        _, E, delta = net.output.evaluate(a, T)
        g, ((gW1, gb1), (gW2, gb2)) = gradient_views(net, out, b, dense=True)
        dz = delta.dot(W2)
        dot(delta.T, z, out=gW2)                         # (5.53)
        psum(delta, out=gb2)
        delta = act.backprop(dz, a1, z)                  # (5.56)
        dot(delta.T, X, out=gW1)
        psum(delta, out=gb1)
        return E, gradient_out(g, out, b)
    inputs, pre = [X], []
    z = X
    for (W, bias), act in zip(params[:-1], acts):          # (5.48), (5.49)
        a = z.dot(W.T)
        a += bias
        pre.append(a)
        z = act.h(a)
        inputs.append(z)
    W, bias = params[-1]
    a = z.dot(W.T)
    a += bias
    _, E, delta = net.output.evaluate(a, T)
    g, grads = gradient_views(net, out, b, dense=True)
    for l in range(len(params) - 1, 0, -1):              # (5.53), (5.56)
        gW, gb = grads[l]
        x = inputs[l]
        dz = delta.dot(params[l][0])
        dot(delta.T, x, out=gW)
        psum(delta, out=gb)
        delta = acts[l - 1].backprop(dz, pre[l - 1], x)
    gW, gb = grads[0]
    dot(delta.T, X, out=gW)
    psum(delta, out=gb)
    return E, gradient_out(g, out, b)

def dense_passes_into(net, w, X, T, out, b):
    """:func:`dense_passes` writing every activation into the workspace."""
    L, acts = len(net.layers), net._acts
    fwd, dx, tmp = b.fwd, b.dx, b.tmp
    params = net._params(w, b)
    if b.w is None:
        params = [layer.unpack(p) for layer, p in zip(net.layers, params)]
    inputs, pre = [X] * L, [None] * L
    z = X
    for l in range(L):                                   # (5.48), (5.49)
        W, bias = params[l]
        a = np.dot(z, W.T, out=fwd[l][0])
        a += bias
        pre[l] = a
        if l < L - 1:
            z = inputs[l + 1] = acts[l].apply(a, fwd[l][1])
    _, E, delta = net.output.evaluate(a, T, b.out)
    g, grads = gradient_views(net, out, b, dense=True)
    for l in range(L - 1, -1, -1):                       # (5.53), (5.56)
        gW, gb = grads[l]
        if l:
            dz = np.dot(delta, params[l][0], out=dx[l])
        np.dot(delta.T, inputs[l], out=gW)
        pattern_sum(delta, out=gb)
        if l:
            delta = acts[l - 1].backprop(dz, pre[l - 1], inputs[l], tmp[l - 1])
    return E, gradient_out(g, out, b)

def gradient_views(net, out, b, dense=False):
    """The gradient array the backward pass writes, and its per-layer views."""
    if b is not None and b.g is not None:
        return b.g, b.grads
    g = np.empty(net.n_weights, dtype=net.dtype) if out is None else out
    if dense:
        return g, [layer.unpack(g[s]) for layer, s in zip(net.layers, net._slices)]
    return g, [g[s] for s in net._slices]

def gradient_out(g, out, b):
    """The caller's gradient: a new array or ``out``, never the workspace's."""
    if b is None or b.g is None:
        return g
    if out is None:
        return g.copy()
    np.copyto(out, g)
    return out


def gradient_step(net, w, X, T, eta, out, b):
    """E(w), and ``out`` ← w − η∇E(w) for a network of Dense layers.

    Backpropagation as in :func:`dense_passes`, except that each layer's weight
    gradient goes straight into ``out``: the product that computes it, a BLAS
    gemm with β = 1, adds −η times it to the layer's weights there (``out``
    may be ``w`` itself: a layer's weights are read for the δ below before they
    are changed). No gradient array is formed.
    """
    layers, slices, acts = net.layers, net._slices, net._acts
    L = len(layers)
    nones = (None,) * L
    fwd, dx, tmp, bout = (nones, nones, nones, None) if b is None or b.out is None else (
        b.fwd, b.dx, b.tmp, b.out)                      # (b's copy of w is not used here)
    params = [layer.unpack(w[s]) for layer, s in zip(layers, slices)]
    inputs, pre = [X] * L, [None] * L
    z = X
    for l in range(L):                                   # (5.48), (5.49)
        W, bias = params[l]
        o = fwd[l]
        a = z.dot(W.T) if o is None else np.dot(z, W.T, out=o[0])
        a += bias
        pre[l] = a
        if l < L - 1:
            z = inputs[l + 1] = acts[l].h(a) if o is None else acts[l].apply(a, o[1])
    _, E, delta = net.output.evaluate(a, T, bout)
    if out is not w:
        np.copyto(out, w)
    gemm = _blas.dgemm if net.dtype == np.float64 else _blas.sgemm
    neg_eta = np.full(X.shape[0], -eta, dtype=net.dtype)   # b ← b − η Σ_n δ_n, one gemv
    for l in range(L - 1, -1, -1):                       # (5.53), (5.56), and (5.41)
        if l:
            dz = delta.dot(params[l][0]) if dx[l] is None else np.dot(delta, params[l][0],
                                                                      out=dx[l])
        Wo, bo = layers[l].unpack(out[slices[l]])
        x = np.ascontiguousarray(inputs[l])
        delta = np.ascontiguousarray(delta)
        c = gemm(-eta, x.T, delta.T, beta=1.0, c=Wo.T, trans_b=1, overwrite_c=1)
        if c.ctypes.data != Wo.ctypes.data:              # not in place after all: copy back
            Wo[...] = c.T
        bo += neg_eta.dot(delta)
        if l:
            delta = acts[l - 1].backprop(dz, pre[l - 1], inputs[l], tmp[l - 1])
    return E
