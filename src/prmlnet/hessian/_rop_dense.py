r"""The R-operator of :mod:`prmlnet.hessian.rop` for networks of dense layers, fast.

The same four passes (§5.4.6), for one direction, arranged so that the matrix
products share operands and the elementwise work is done once:

* every array is contiguous (a and R{a} of the first layer from two products,
  not halves of one: the elementwise passes over halves ran at half speed), the
  weight matrices of small layers are multiplied as contiguous transposes
  (:data:`_TRANSPOSE`), and Σ_n is :func:`~prmlnet.layers.pattern_sum`;
* the products that share operands are done as one: the hidden layers'
  :math:`[\mathcal{R}\{\mathbf{z}\}; \mathbf{z}]\mathbf{W}^\mathrm{T}` and
  weight gradient :math:`[\boldsymbol\delta; \mathcal{R}\{\boldsymbol\delta\}]^\mathrm{T}
  [\mathcal{R}\{\mathbf{z}\}; \mathbf{z}]`, the output layer's
  :math:`[s\boldsymbol\delta, 0; \mathcal{R}\{\boldsymbol\delta\}, \boldsymbol\delta]
  [\mathbf{W}; \mathbf{V}]` (∂E/∂z and R{∂E/∂z} at once), and in deeper networks
  :math:`[\boldsymbol\delta; \mathcal{R}\{\boldsymbol\delta\}]\mathbf{W}` stacked by
  rows;
* for tanh units :math:`h'' \mathcal{R}\{a\} = -2 z h' \mathcal{R}\{a\} = -2 z \mathcal{R}\{z\}`,
  so :math:`h''` is never formed (and under the output layer the factor -2 rides
  on the K output deltas, an exact scaling);
* the δ of the first layer, which no product needs, is not computed.

Every array comes from a workspace's buffers when there is one (the same
operations either way, so the same bits); the tests hold the result equal to
the layer-by-layer passes of :mod:`prmlnet.hessian.rop` to rounding. The
caller splits the patterns into chunks small enough for the arrays of a chunk
to stay in the processor's cache (:func:`rows_per_chunk`).
"""

from __future__ import annotations

import numpy as np

from ..activations import ACTIVATIONS
from ..layers import pattern_sum

_TANH = ACTIVATIONS["tanh"].dh
_ZERO = ACTIVATIONS["relu"].d2h           # h'' = 0 (identity, relu)


def rows_per_chunk(net) -> int:
    """Patterns per chunk of the R-passes: about 2 MiB (the size of a core's L2 cache
    here) of the ten or so arrays of the widest layer alive at once, at least 64."""
    return max(64, 2 ** 21 // (80 * net._widest))


class _Buffers:
    """Every array of one H·v over N patterns."""

    __slots__ = ("s0", "z", "h1", "s", "ra", "d", "c", "p", "r", "t", "out")

    def __init__(self, net, N):
        dt, e = net.dtype, np.empty
        n = [layer.n_out for layer in net.layers]
        self.s0 = e((2, N, n[0]), dt)                               # [a; R{a}] of layer 0
        self.z = [e((2, N, m), dt) for m in n[:-1]]                 # [R{z}; z]
        self.h1 = [e((N, m), dt) for m in n[:-1]]
        self.s = [None] + [e((2, N, m), dt) for m in n[1:]]        # [R{x} Wᵀ; x Wᵀ]
        self.ra = [None] + [e((N, m), dt) for m in n[1:]]
        self.d = [e((N, n[0]), dt)] + [e((2, N, m), dt) for m in n[1:]]   # [δ; R{δ}]
        self.c = np.zeros((2, N, 2 * n[-1]), dt)                    # [[s δ, 0]; [R{δ}, δ]]
        self.p = [e((2, N, m), dt) for m in n[:-1]]                 # [∂E/∂z; R{Σ w δ}]
        self.r = [e((N, m), dt) for m in n[:-1]]
        self.t = [e((N, m), dt) for m in n[:-1]]
        self.out = (e((N, n[-1]), dt), e((N, n[-1]), dt))


#: weight matrices up to this many entries are multiplied as contiguous copies of
#: their transposes: for a layer with few units on one side, OpenBLAS runs
#: x Wᵀ 1.5–2.5× faster that way (measured), and the copy costs a microsecond
_TRANSPOSE = 2 ** 14


def _transposed(M):
    return np.ascontiguousarray(M.T) if M.size <= _TRANSPOSE else M.T


def stacked_weights(net, w, v):
    """Per layer ``(Wᵀ, b, Vᵀ, b_v, [W; V], W, V)``: the transposes for the forward
    products, the stack for the output layer's backward product."""
    layers, slices = net.layers, net.layer_slices()
    L = len(layers)
    out = []
    for l, (layer, s) in enumerate(zip(layers, slices)):
        (W, b), (V, bv) = layer.unpack(w[s]), layer.unpack(v[s])
        WV = np.concatenate([W, V]) if l == L - 1 else None
        out.append((_transposed(W), b, _transposed(V), bv, WV, W, V))
    return out


def r_passes(net, w, X, T, v, out=None, b=None, P=None):
    """H·v for one direction ``v`` (W,) of a network of Dense layers; checked inputs.

    ``P``, optional: :func:`stacked_weights` (the same for every chunk).
    """
    layers, slices = net.layers, net.layer_slices()
    L = len(layers)
    N = X.shape[0]
    if b is None:
        b = _Buffers(net, N)
    if P is None:
        P = stacked_weights(net, w, v)
    dot, mul = np.dot, np.multiply
    # Forward pass (5.48, 5.49) beside the R-forward pass
    Wt, bias, Vt, vb = P[0][:4]
    a = dot(X, Wt, out=b.s0[0])
    a += bias
    ra = dot(X, Vt, out=b.s0[1])                              # R{a} = V x + b_v
    ra += vb
    pre, r_pre = [a], [ra]
    for l in range(1, L):
        act = layers[l - 1].activation
        Z = b.z[l - 1]
        z = act.apply(a, Z[1])
        if z is not Z[1]:                                      # the identity (or an
            np.copyto(Z[1], z)                                 # activation of a user's)
        h1 = act.derivative(a, Z[1], b.h1[l - 1])
        mul(h1, ra, out=Z[0])                                  # R{z} = h'(a) R{a}
        Wt, bias, Vt, vb = P[l][:4]
        S = b.s[l]
        dot(Z.reshape(2 * N, -1), Wt, out=S.reshape(2 * N, -1))   # [W R{z}; W z]
        a = S[1]
        a += bias
        ra = dot(Z[1], Vt, out=b.ra[l])
        ra += vb
        ra += S[0]                                             # R{a} = V z + b_v + W R{z}
        pre.append(a)
        r_pre.append(ra)
    top = b.d[-1][0] if L > 1 else None
    y, _, delta = net.output.evaluate(a, T, (b.out[0], b.out[1], top))
    r_delta = net.output.r_delta(a, y, T, ra)
    # Backward pass (5.56) beside the R-backward pass
    if out is None:
        out = np.empty(net.n_weights, dtype=net.dtype)
    for l in range(L - 1, 0, -1):
        WV, W, V = P[l][4:]
        D = b.d[l]
        act, h1, Z = layers[l - 1].activation, b.h1[l - 1], b.z[l - 1]
        Pq = b.p[l - 1]
        tanh = act.dh is _TANH
        if l == L - 1:                                         # the K outputs
            if delta is not D[0]:                              # an output model's own array
                np.copyto(D[0], delta)
            np.copyto(D[1], r_delta)
            K = W.shape[0]
            C = b.c                                            # C[0, :, K:] stays 0
            scale = -2.0 if tanh and l == 1 else 1.0           # -2 ∂E/∂z, exactly
            mul(delta, scale, out=C[0, :, :K])
            C[1, :, :K] = r_delta
            C[1, :, K:] = delta
            dot(C.reshape(2 * N, -1), WV, out=Pq.reshape(2 * N, -1))   # [s Σ w δ;
            dz, r_dz = Pq[0], Pq[1]                            #  Σ w R{δ} + Σ v δ]
        else:
            dot(D.reshape(2 * N, -1), W, out=Pq.reshape(2 * N, -1))  # [Σ w δ; Σ w R{δ}]
            dz, r_dz = Pq[0], Pq[1]
            r_dz += dot(D[0], V, out=b.r[l - 1])
            scale = 1.0
        gW, gb = layers[l].unpack(out[slices[l]])
        dot(D.reshape(2 * N, -1).T, Z.reshape(2 * N, -1), out=gW)   # Σ δ R{z}ᵀ + R{δ} zᵀ
        pattern_sum(D[1], out=gb)
        Dq = b.d[l - 1]
        rd = Dq[1] if l > 1 else Dq
        mul(r_dz, h1, out=rd)                                  # h'(a) R{Σ w δ}
        t = b.t[l - 1]
        if tanh:                                               # + h'' R{a} Σ w δ, with
            mul(Z[1], Z[0], out=t)                             # h'' R{a} = -2 z R{z}
            t *= dz
            if scale == 1.0:
                rd -= t
                rd -= t
            else:
                rd += t
        elif act.d2h is not _ZERO:
            t = act.second_derivative(pre[l - 1], Z[1], h1, t)
            t *= r_pre[l - 1]
            t *= dz
            rd += t
        if l > 1:
            mul(dz, h1, out=Dq[0])                             # δ_j = h'(a_j) Σ_k w_kj δ_k
    gW, gb = layers[0].unpack(out[slices[0]])
    rd = b.d[0] if L > 1 else r_delta
    dot(rd.T, X, out=gW)
    pattern_sum(rd, out=gb)
    return out
