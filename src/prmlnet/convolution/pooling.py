r"""Subsampling (the book's, §5.5.6) and max pooling (beyond the book) over feature maps."""

from __future__ import annotations

import numpy as np

from ..activations import get_activation
from ._base import ImageLayer, _flat, _same_view, _shape

__all__ = ["Subsampling", "MaxPool"]


class _Blocks(ImageLayer):
    """What the two pooling layers share: non-overlapping s×s blocks of every map."""

    def _set_blocks(self, in_shape, size, activation, what):
        C, H, W = _shape(in_shape)
        s = int(size)
        if s < 1 or H % s or W % s:
            raise ValueError(f"{what} by {size}x{size} blocks needs a size >= 1 that "
                             f"divides the {H}x{W} maps")
        self.in_shape, self.out_shape, self.size = (C, H, W), (C, H // s, W // s), s
        self.n_in, self.n_out = C * H * W, C * (H // s) * (W // s)
        self.activation = get_activation(activation)

    def _key(self):
        return (self.in_shape, self.size, self.activation.name)

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_shape}"
                + (f", {self.size}" if self.size != 2 else "") + f", {self.activation.name!r})")


class Subsampling(_Blocks):
    r"""The book's subsampling layer (§5.5.6): 2×2 averages × one weight + one bias per map.

    Parameters
    ----------
    in_shape : (C, H, W)
        H and W must be multiples of ``size``.
    size : int, default 2
        Side of the non-overlapping blocks.
    activation : str, default "tanh"

    Notes
    -----
    With :math:`\bar z_{c y x}` the mean of block (y, x) of input map c,

    .. math:: a_{c y x} = w_c\, \bar z_{c y x} + b_c, \qquad z = h(a)

    so the layer has 2C adaptive parameters (its slice of ``w`` holds the C
    weights, then the C biases). The layer is linear in its input, so the
    passes of :class:`~prmlnet.layers.Layer` apply as they are.
    """

    def __init__(self, in_shape, size=2, activation="tanh"):
        self._set_blocks(in_shape, size, activation, "subsampling")
        self.n_weights = 2 * self.in_shape[0]

    def unpack(self, p):
        """Views ``(w, b)``: one weight and one bias per map, each (C,)."""
        C = self.in_shape[0]
        return p[:C], p[C:]

    def fan_in(self):
        return 2                       # the block mean and the bias

    channelwise = True

    def unit_params(self):
        C = self.in_shape[0]
        return np.stack([np.arange(C), C + np.arange(C)], axis=1)

    def input_params(self, n_channels):
        return np.arange(n_channels)[:, None] if n_channels == self.in_shape[0] else None

    def _mean(self, x):
        """Block means (..., C, H', W') of inputs (..., n_in), as sums of strided slices."""
        C, OH, OW = self.out_shape
        s, lead = self.size, x.shape[:-1]
        pairs = x.reshape(-1, s)                           # neighbours along a row
        r = pairs[:, 0].copy()
        for i in range(1, s):
            r += pairs[:, i]
        rows = r.reshape(-1, s, OW)                        # then neighbouring rows
        m = rows[:, 0].copy()
        for i in range(1, s):
            m += rows[:, i]
        m *= 1.0 / (s * s)
        return m.reshape(*lead, C, OH, OW)

    def _spread(self, d, scale):
        """(..., n_out) -> (..., n_in): each value times ``scale`` (C,) or (R, 1, C), copied
        onto its block."""
        C, OH, OW = self.out_shape
        s = self.size
        d = d.reshape(*d.shape[:-1], C, OH * OW) * scale[..., :, None]
        lead = d.shape[:-2]
        r = np.repeat(d.reshape(-1, OW), s, axis=1)                     # along each row
        r = np.repeat(r.reshape(-1, 1, OW * s), s, axis=1)              # then each row s times
        return r.reshape(*lead, self.n_in)

    def _sum_maps(self, a):
        """(..., N, n_out) -> (..., C): sums over patterns and positions of each map."""
        C = self.out_shape[0]
        return a.reshape(*a.shape[:-2], -1, C, self.n_out // C).sum(axis=-1).sum(axis=-2)

    # -- primitives -----------------------------------------------------------
    def _means(self, x):
        """:meth:`_mean` of ``x``, from the last :meth:`linear` if it was for this very
        array (the backward pass right after it); used once, then dropped."""
        memo = getattr(self, "_memo", None)
        if memo is not None and _same_view(memo[0], x):
            self._memo = None
            return memo[1]
        return self._mean(x)

    def linear(self, p, x, bias=True):
        w, b = self.unpack(p)
        m = self._mean(x)
        self._memo = (x, m)
        a = m * w[:, None, None]                                    # w_c z̄_cyx
        if bias:
            a += b[:, None, None]
        return a.reshape(*x.shape[:-1], self.n_out)

    def weight_grad(self, x, delta, out, bias=True, add=False):
        C = self.in_shape[0]
        gw = self._sum_maps(delta * self._means(x).reshape(delta.shape))
        gb = self._sum_maps(delta) if bias else 0.0
        if add:
            out[:C] += gw
            out[C:] += gb
        else:
            out[:C], out[C:] = gw, gb

    def input_grad(self, p, delta):
        w, _ = self.unpack(p)
        return self._spread(delta, w / self.size ** 2)            # ∂a_cyx/∂z = w_c / 4

    def weight_grad_each(self, x, delta, out):
        N, Kr, _ = delta.shape
        C = self.in_shape[0]
        d = delta.reshape(N, Kr, C, -1)
        out[:, :, :C] = np.einsum("nkcp,ncp->nkc", d, self._mean(x).reshape(N, C, -1))
        out[:, :, C:] = d.sum(axis=3)

    def linear_many(self, V, x):
        C = self.in_shape[0]
        m = self._mean(x)                                          # (N, C, H', W')
        a = m[None] * V[:, None, :C, None, None] + V[:, None, C:, None, None]
        return a.reshape(V.shape[0], x.shape[0], self.n_out)

    def weight_grad_many(self, x, delta, out, bias=True, add=False):
        C = self.in_shape[0]
        m = self._mean(x).reshape(*x.shape[:-1], self.n_out)
        g = np.concatenate([np.broadcast_to(self._sum_maps(delta * m), (out.shape[0], C)),
                            np.broadcast_to(self._sum_maps(delta) if bias else
                                            np.zeros(C, out.dtype), (out.shape[0], C))], axis=1)
        if add:
            out += g
        else:
            out[...] = g

    def input_grad_many(self, V, delta):
        C = self.in_shape[0]
        return self._spread(delta[None], V[:, None, :C] / self.size ** 2)

    # -- the Becker–LeCun diagonal: (∂a/∂w)² has a sum of four terms inside ----
    def weight_grad_sq(self, x, d2, out):
        C = self.in_shape[0]
        m = self._mean(x).reshape(d2.shape)
        out[:C] = self._sum_maps(d2 * m * m)                       # (∂a/∂w_c)² = z̄²
        out[C:] = self._sum_maps(d2)

    def input_grad_sq(self, p, x, d2):
        w, _ = self.unpack(p)
        return self._spread(d2, (w / self.size ** 2) ** 2)


class MaxPool(_Blocks):
    r"""Max pooling over non-overlapping blocks — beyond the book, which subsamples by averaging.

    Parameters
    ----------
    in_shape : (C, H, W)
        H and W must be multiples of ``size``.
    size : int, default 2
    activation : str, default "identity"
        Applied after the maximum (usually identity: the maps are already activated).

    Notes
    -----
    :math:`a_{cyx} = \max_{(i, j) \in \text{block}(y, x)} z_{c i j}`; no adaptive
    parameters. The layer is piecewise linear: its derivative routes each
    delta to the input where the maximum was attained (the first one on a tie,
    a one-sided derivative), and its second derivative is zero almost
    everywhere. Because that routing depends on the input, the layer overrides
    the hooks that need it (:meth:`input_grad_at` for deltas, :meth:`linear_at`
    for input directions such as tangents, the R-passes); the rest of the
    library sees only those hooks.
    """

    def __init__(self, in_shape, size=2, activation="identity"):
        self._set_blocks(in_shape, size, activation, "max pooling")
        self.n_weights = 0

    def unpack(self, p):
        return p[:0], p[:0]

    def fan_in(self):
        return 1

    channelwise = True

    def unit_params(self):
        return np.zeros((self.in_shape[0], 0), dtype=np.intp)

    def input_params(self, n_channels):
        return None                    # max(-z) is not -max(z): not linear in its input

    def _blocks(self, x):
        C, OH, OW = self.out_shape
        s = self.size
        b = x.reshape(-1, C, OH, s, OW, s).transpose(0, 1, 2, 4, 3, 5)
        return b.reshape(-1, C, OH, OW, s * s)

    def _source(self, x):
        """Flat input index of each output's maximum, (N, n_out)."""
        C, OH, OW = self.out_shape
        s, W = self.size, self.in_shape[2]
        k = self._blocks(x).argmax(axis=-1)
        rows = np.arange(OH)[:, None] * s + k // s
        cols = np.arange(OW)[None, :] * s + k % s
        c = np.arange(C)[:, None, None] * (self.in_shape[1] * W)
        return (c + rows * W + cols).reshape(x.shape[0], self.n_out)

    def _gather(self, src, r):
        """r (..., N, n_in) at the maxima: (..., N, n_out)."""
        return np.take_along_axis(r, np.broadcast_to(src, r.shape[:-1] + src.shape[-1:]), axis=-1)

    def _scatter(self, src, d):
        """The adjoint of :meth:`_gather`: d (N, [K,] n_out) -> (N, [K,] n_in)."""
        idx = src if d.ndim == 2 else src[:, None, :]
        out = np.zeros(d.shape[:-1] + (self.n_in,), dtype=d.dtype)
        np.put_along_axis(out, np.broadcast_to(idx, d.shape), d, axis=-1)
        return out

    # -- primitives -----------------------------------------------------------
    def linear(self, p, x, bias=True):
        if not bias:
            raise ValueError("max pooling is not linear in its input, so it has no linear part "
                             "to push a direction through; linear_at(p, x, dx) routes dx by the "
                             "maxima of x")
        xf, lead = _flat(x, self.n_in)
        return self._blocks(xf).max(axis=-1).reshape(*lead, self.n_out)

    def weight_grad(self, x, delta, out, bias=True, add=False):
        pass                                    # no weights

    def input_grad(self, p, delta):
        raise ValueError("max pooling routes deltas to the maxima of its input; call "
                         "input_grad_at(p, x, delta) with the input x")

    linear_in_input = False

    def input_grad_at(self, p, x, delta):
        return self._scatter(self._source(x), delta)

    def linear_at(self, p, x, dx):
        """``dx`` (N, [S,] n_in) read at the maxima of ``x``: (N, [S,] n_out)."""
        src = self._source(x)
        return self._gather(src if dx.ndim == 2 else src[:, None, :], dx)

    def weight_grad_each(self, x, delta, out):
        pass

    def weight_grad_sq(self, x, d2, out):
        pass

    def input_grad_sq(self, p, x, d2):
        return self._scatter(self._source(x), d2)                 # (∂a/∂z)² = ∂a/∂z ∈ {0, 1}

    # -- passes: the routing depends on x, the weights play no part ------------
    def backward(self, p, x, delta, out, need_input=True, buf=None):
        return self.input_grad_at(p, x, delta) if need_input else None

    def r_forward(self, p, v, x, rx, a, z, dh=None, out=None, need_z=True):
        ra = np.zeros_like(a) if rx is None else self.linear_at(p, x, rx)
        if not need_z:
            return ra, None
        return ra, (self.activation.dh(a, z) if dh is None else dh) * ra

    def r_forward_many(self, p, V, x, rx, a, z, dh=None, out=None, need_z=True):
        if rx is None:
            ra = np.zeros((V.shape[0],) + a.shape, dtype=a.dtype)
        else:
            ra = self._gather(self._source(x), rx)
        if not need_z:
            return ra, None
        return ra, (self.activation.dh(a, z) if dh is None else dh) * ra

    def r_backward(self, p, v, x, rx, delta, rdelta, out, need_input=True, bufs=None):
        return self.input_grad_at(p, x, rdelta) if need_input else None

    def r_backward_many(self, p, V, x, rx, delta, rdelta, out, need_input=True, bufs=None):
        if not need_input:
            return None
        src = self._source(x)
        out_ = np.zeros(rdelta.shape[:-1] + (self.n_in,), dtype=rdelta.dtype)
        np.put_along_axis(out_, np.broadcast_to(src, rdelta.shape), rdelta, axis=-1)
        return out_
