r"""Convolutional networks (PRML §5.5.6): convolution, subsampling and pooling layers.

An image travels through the network as one flat row in (C, H, W) order — the
flattened NCHW layout of PyTorch — so patterns stay rows of ``X`` and the
weights stay one flat vector ``w``. Each layer below declares the image shape
it takes (``in_shape``) and gives (``out_shape``); a :class:`~prmlnet.Dense`
layer after them simply reads the flat row.

``Conv2D``       several feature maps; each unit sees a small patch (its local
                 receptive field) of every input map, and all units of a map
                 share one kernel and one bias (weight sharing). Stride 1,
                 "valid" borders, zero padding as an option.
``Subsampling``  the book's subsampling layer: each unit averages a
                 non-overlapping 2×2 block of one map, multiplies by the map's
                 one adaptive weight, adds its one adaptive bias, then applies
                 its activation.
``MaxPool``      beyond the book: the largest value of each block, no weights.

Layouts follow PyTorch's: a convolution's slice of ``w`` holds the kernels
(n_maps, C, kh, kw) row-major (= ``torch.nn.Conv2d.weight``), then one bias per
map; a subsampling layer's holds its C weights, then its C biases.

Every layer implements the primitives of :mod:`prmlnet.layers`, so the passes
of :class:`~prmlnet.layers.Layer` (forward, backward, R-forward, R-backward)
and with them the gradient, H·v, the exact and approximate Hessians, the
Jacobian, the Laplace posterior and the evidence work unchanged. A convolution
is a matrix product: the input patches are gathered into a column matrix
("im2col", :func:`numpy.lib.stride_tricks.sliding_window_view`) and multiplied
by the kernels; no Python loop runs over pixels or patterns.

A network is typed as a short spec, parsed by :func:`network_from_spec`::

    "conv:6x5x5-sub-conv:16x5x5-sub-dense:120-dense:84"

(see :func:`parse_spec`).
"""

from __future__ import annotations

import re

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .activations import get_activation
from .layers import Dense, Layer

#: numbers in one column matrix (im2col) at most: 16 MiB in float64; larger batches
#: are convolved in chunks of patterns
_COL_FLOATS = 2 ** 21

__all__ = ["Conv2D", "Subsampling", "MaxPool", "parse_spec", "layers_from_spec",
           "network_from_spec", "spec_of", "layer_config", "layer_from_config"]


def _shape(in_shape, name="in_shape"):
    try:
        shape = tuple(int(s) for s in in_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name} must be three positive integers (C, H, W); got {in_shape!r}")
    return shape


def _flat(a, n):
    """``a`` (..., n) as (M, n) and the leading shape to restore."""
    return a.reshape(-1, n), a.shape[:-1]


class _Image(Layer):
    """What the image layers share: shapes, equality, pickling, repr."""

    in_shape: tuple
    out_shape: tuple

    def _key(self):
        raise NotImplementedError

    def __eq__(self, other):
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self):
        return hash((type(self).__name__,) + self._key())

    def __reduce__(self):
        return (layer_from_config, (layer_config(self),))

    @property
    def n_units(self):
        """Feature maps: what a weight-space symmetry (§5.1.1) permutes."""
        return self.out_shape[0]

    @property
    def n_biases(self):
        """One bias per map (none for max pooling), at the end of the layer's slice."""
        return 0 if self.n_weights == 0 else self.out_shape[0]


class Conv2D(_Image):
    r"""Convolutional layer: ``n_maps`` feature maps with shared kernels (§5.5.6).

    Parameters
    ----------
    in_shape : (C, H, W)
        Shape of the input image (C maps of H×W).
    n_maps : int
        Number of feature maps M.
    kernel_size : int or (kh, kw)
        Size of each unit's receptive field.
    activation : str, default "tanh"
    padding : int, default 0
        Zeros added on each border; 0 is "valid" convolution, ``(k - 1) // 2``
        keeps the size for an odd kernel.

    Notes
    -----
    Unit (m, y, x) of the output sums over the input maps c and the kernel
    offsets (i, j):

    .. math:: a_{m y x} = \sum_{c,i,j} K_{m c i j}\, z_{c,\, y+i,\, x+j} + b_m

    (a cross-correlation, as in PyTorch's ``conv2d``). The weights are shared:
    the layer has :math:`M (C k_h k_w + 1)` adaptive parameters for
    :math:`M H' W' (C k_h k_w + 1)` connections, and shifting the input image
    shifts every feature map (translation equivariance).
    """

    def __init__(self, in_shape, n_maps, kernel_size, activation="tanh", padding=0):
        C, H, W = _shape(in_shape)
        kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
        kh, kw, M, pad = int(kh), int(kw), int(n_maps), int(padding)
        if M < 1 or kh < 1 or kw < 1 or pad < 0:
            raise ValueError(f"n_maps and the kernel size must be >= 1 and padding >= 0; got "
                             f"n_maps={n_maps!r}, kernel_size={kernel_size!r}, padding={padding!r}")
        OH, OW = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
        if OH < 1 or OW < 1:
            raise ValueError(f"a {kh}x{kw} kernel does not fit in a {H}x{W} image"
                             + (f" padded by {pad}" if pad else ""))
        self.in_shape, self.out_shape = (C, H, W), (M, OH, OW)
        self.n_maps, self.kernel_size, self.padding = M, (kh, kw), pad
        self.n_in, self.n_out = C * H * W, M * OH * OW
        self._ckk = C * kh * kw
        self._k = M * self._ckk                       # where the biases start
        self.n_weights = self._k + M
        self.activation = get_activation(activation)

    def _key(self):
        return (self.in_shape, self.n_maps, self.kernel_size, self.padding, self.activation.name)

    def __repr__(self):
        return (f"Conv2D({self.in_shape}, {self.n_maps}, {self.kernel_size}, "
                f"{self.activation.name!r}" + (f", padding={self.padding}" if self.padding else "")
                + ")")

    def unpack(self, p):
        """Views ``(K, b)``: kernels (M, C, kh, kw) and biases (M,)."""
        C = self.in_shape[0]
        return p[:self._k].reshape(self.n_maps, C, *self.kernel_size), p[self._k:]

    def fan_in(self):
        return self._ckk + 1

    def unit_params(self):
        """Each map's kernel and bias, (M, C kh kw + 1)."""
        K = np.arange(self._k).reshape(self.n_maps, self._ckk)
        return np.concatenate([K, self._k + np.arange(self.n_maps)[:, None]], axis=1)

    def input_params(self, n_channels):
        """The kernel entries K[:, c] that read input map c, (C, M kh kw)."""
        C = self.in_shape[0]
        if n_channels != C:
            return None
        return np.arange(self._k).reshape(self.n_maps, C, -1).transpose(1, 0, 2).reshape(C, -1)

    def workspace(self):
        return self.n_in + 2 * self.n_out + self._ckk * self.out_shape[1] * self.out_shape[2]

    # -- the column matrix ----------------------------------------------------
    def _im2col(self, x):
        """Input patches as columns: x (..., n_in) -> (..., C kh kw, H' W').

        Column (y, x) of a pattern holds the receptive field of output position
        (y, x), in the order (c, i, j) of the kernels' last three axes.
        """
        C, H, W = self.in_shape
        kh, kw = self.kernel_size
        _, OH, OW = self.out_shape
        lead = x.shape[:-1]
        x4 = x.reshape(-1, C, H, W)
        if self.padding:
            p = self.padding
            x4 = np.pad(x4, ((0, 0), (0, 0), (p, p), (p, p)))
        col = np.empty((x4.shape[0], C, kh, kw, OH, OW), dtype=x.dtype)
        col[...] = sliding_window_view(x4, (kh, kw), axis=(2, 3)).transpose(0, 1, 4, 5, 2, 3)
        return col.reshape(*lead, self._ckk, OH * OW)

    def _input_grad(self, Kt, delta):
        r""":math:`\sum_m K_{mcij}\,\delta_{m,y-i,x-j}` for kernels ``Kt`` (..., C kh kw, M)
        and deltas (..., N, n_out): the adjoint of the convolution, (..., N, n_in).

        The deltas are laid on the (padded) input's row width, so that each
        kernel offset (i, j) adds one contiguous run of the flat input image:
        H' rows of width W + 2·padding, the columns past W' holding zeros.
        """
        C, H, W = self.in_shape
        M, OH, OW = self.out_shape
        kh, kw = self.kernel_size
        p = self.padding
        Hp, Wp = H + 2 * p, W + 2 * p
        lead = delta.shape[:-1]
        wide = np.zeros((*lead, M, OH, Wp), dtype=delta.dtype)
        wide[..., :OW] = delta.reshape(*lead, M, OH, OW)
        dcol = np.matmul(Kt, wide.reshape(*lead, M, OH * Wp))             # (..., C kh kw, L)
        out_lead = dcol.shape[:-2]
        dcol = dcol.reshape(-1, C, kh * kw, OH * Wp)
        dx = np.zeros((dcol.shape[0], C, Hp * Wp + kw - 1), dtype=delta.dtype)
        L = OH * Wp
        for t, start in enumerate((i * Wp + j) for i in range(kh) for j in range(kw)):
            dx[:, :, start:start + L] += dcol[:, :, t]        # a loop over kernel offsets only
        dx = dx[:, :, :Hp * Wp].reshape(-1, C, Hp, Wp)
        if p:
            dx = dx[:, :, p:p + H, p:p + W]
        return dx.reshape(*out_lead, self.n_in)

    def _by_map(self, delta):
        """(..., n_out) -> (..., M, H' W')."""
        return delta.reshape(*delta.shape[:-1], self.n_maps, -1)

    def _chunks(self, n):
        """Ranges of patterns whose column matrix holds at most ``_COL_FLOATS`` numbers."""
        step = max(1, _COL_FLOATS // (self._ckk * self.out_shape[1] * self.out_shape[2]))
        return [(s, min(n, s + step)) for s in range(0, n, step)]

    # -- primitives -----------------------------------------------------------
    def linear(self, p, x, bias=True):
        K, b = self.unpack(p)
        K2 = K.reshape(self.n_maps, -1)
        xf, lead = _flat(x, self.n_in)
        a = np.empty((xf.shape[0], self.n_maps, self.out_shape[1] * self.out_shape[2]),
                     dtype=np.result_type(K2, xf))
        chunks = self._chunks(xf.shape[0])
        for s, e in chunks:
            col = self._im2col(xf[s:e])
            np.matmul(K2, col, out=a[s:e])                  # Σ_cij K_mcij z_c,y+i,x+j
        # the backward pass right after needs the same columns: keep them (one chunk only)
        self._memo = (x, col) if len(chunks) == 1 else None
        if bias:
            a += b[:, None]
        return a.reshape(*lead, self.n_out)

    def _columns(self, x):
        """The column matrix of ``x`` (one chunk), from the last :meth:`linear` if it was
        for this very array; used once, then dropped."""
        memo = getattr(self, "_memo", None)
        if memo is not None and memo[0] is x:
            self._memo = None
            return memo[1]
        return self._im2col(x)

    def weight_grad(self, x, delta, out, bias=True, add=False):
        gK, gb = out[:self._k].reshape(self.n_maps, -1), out[self._k:]
        d = self._by_map(delta)                                         # (N, M, H'W')
        chunks = self._chunks(d.shape[0])
        if len(chunks) == 1:
            g = np.matmul(d, np.swapaxes(self._columns(x), -1, -2)).sum(axis=0)
        else:
            g = sum(np.matmul(d[s:e], np.swapaxes(self._im2col(x[s:e]), -1, -2)).sum(axis=0)
                    for s, e in chunks)
        if add:                       # shared weights: Σ_n Σ_yx δ_myx z_c,y+i,x+j
            gK += g
            if bias:
                gb += d.sum(axis=(0, 2))
        else:
            gK[...] = g
            gb[...] = d.sum(axis=(0, 2)) if bias else 0.0

    def input_grad(self, p, delta):
        K, _ = self.unpack(p)
        Kt = K.reshape(self.n_maps, -1).T
        df, lead = _flat(delta, self.n_out)
        chunks = self._chunks(df.shape[0])
        if len(chunks) == 1:
            return self._input_grad(Kt, delta)                          # Σ_m K_mcij δ_myx
        dx = np.empty((df.shape[0], self.n_in), dtype=np.result_type(Kt, df))
        for s, e in chunks:
            dx[s:e] = self._input_grad(Kt, df[s:e])
        return dx.reshape(*lead, self.n_in)

    def weight_grad_each(self, x, delta, out):
        N, Kr, _ = delta.shape
        d = delta.reshape(N, Kr * self.n_maps, -1)
        g = np.matmul(d, np.swapaxes(self._im2col(x), -1, -2))         # (N, K M, C kh kw)
        out[:, :, :self._k] = g.reshape(N, Kr, self._k)
        out[:, :, self._k:] = d.sum(axis=2).reshape(N, Kr, self.n_maps)

    def linear_many(self, V, x):
        R, N, M = V.shape[0], x.shape[0], self.n_maps
        a = np.matmul(V[:, :self._k].reshape(R * M, -1), self._im2col(x))   # (N, R M, H'W')
        a = a.reshape(N, R, M, -1).transpose(1, 0, 2, 3)
        a = a + V[:, None, self._k:, None]
        return a.reshape(R, N, self.n_out)

    def weight_grad_many(self, x, delta, out, bias=True, add=False):
        R = out.shape[0]
        d = self._by_map(delta)                             # (N, M, P) or (R, N, M, P)
        g = np.matmul(d, np.swapaxes(self._im2col(x), -1, -2)).sum(axis=-3)
        g = np.broadcast_to(g, (R,) + g.shape[-2:]).reshape(R, self._k)
        gb = np.broadcast_to(d.sum(axis=(-3, -1)), (R, self.n_maps))
        if add:
            out[:, :self._k] += g
            if bias:
                out[:, self._k:] += gb
        else:
            out[:, :self._k] = g
            out[:, self._k:] = gb if bias else 0.0

    def input_grad_many(self, V, delta):
        R = V.shape[0]
        Kt = V[:, :self._k].reshape(R, 1, self.n_maps, self._ckk).swapaxes(-1, -2)
        return self._input_grad(Kt, delta)                              # (R, N, n_in)


class Subsampling(_Image):
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
        C, H, W = _shape(in_shape)
        s = int(size)
        if s < 1 or H % s or W % s:
            raise ValueError(f"subsampling by {size}x{size} blocks needs a size >= 1 that "
                             f"divides the {H}x{W} maps")
        self.in_shape, self.out_shape, self.size = (C, H, W), (C, H // s, W // s), s
        self.n_in, self.n_out = C * H * W, C * (H // s) * (W // s)
        self.n_weights = 2 * C
        self.activation = get_activation(activation)

    def _key(self):
        return (self.in_shape, self.size, self.activation.name)

    def __repr__(self):
        return (f"Subsampling({self.in_shape}" + (f", {self.size}" if self.size != 2 else "")
                + f", {self.activation.name!r})")

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
        return a.reshape(*a.shape[:-2], -1, C, self.n_out // C).sum(axis=(-3, -1))

    # -- primitives -----------------------------------------------------------
    def linear(self, p, x, bias=True):
        w, b = self.unpack(p)
        a = self._mean(x) * w[:, None, None]                       # w_c z̄_cyx
        if bias:
            a += b[:, None, None]
        return a.reshape(*x.shape[:-1], self.n_out)

    def weight_grad(self, x, delta, out, bias=True, add=False):
        C = self.in_shape[0]
        gw = self._sum_maps(delta * self._mean(x).reshape(delta.shape))
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


class MaxPool(_Image):
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
    the passes that need it (:meth:`input_grad_at`, the R-passes); the rest of
    the library sees only those passes.
    """

    def __init__(self, in_shape, size=2, activation="identity"):
        C, H, W = _shape(in_shape)
        s = int(size)
        if s < 1 or H % s or W % s:
            raise ValueError(f"max pooling by {size}x{size} blocks needs a size >= 1 that "
                             f"divides the {H}x{W} maps")
        self.in_shape, self.out_shape, self.size = (C, H, W), (C, H // s, W // s), s
        self.n_in, self.n_out = C * H * W, C * (H // s) * (W // s)
        self.n_weights = 0
        self.activation = get_activation(activation)

    def _key(self):
        return (self.in_shape, self.size, self.activation.name)

    def __repr__(self):
        return (f"MaxPool({self.in_shape}" + (f", {self.size}" if self.size != 2 else "")
                + f", {self.activation.name!r})")

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
        xf, lead = _flat(x, self.n_in)
        return self._blocks(xf).max(axis=-1).reshape(*lead, self.n_out)

    def weight_grad(self, x, delta, out, bias=True, add=False):
        pass                                    # no weights

    def input_grad(self, p, delta):
        raise ValueError("max pooling routes deltas to the maxima of its input; call "
                         "input_grad_at(p, x, delta) with the input x")

    def input_grad_at(self, p, x, delta):
        return self._scatter(self._source(x), delta)

    def weight_grad_each(self, x, delta, out):
        pass

    def weight_grad_sq(self, x, d2, out):
        pass

    def input_grad_sq(self, p, x, d2):
        return self._scatter(self._source(x), d2)                 # (∂a/∂z)² = ∂a/∂z ∈ {0, 1}

    # -- passes: the routing depends on x, the weights play no part ------------
    def backward(self, p, x, delta, out, need_input=True):
        return self.input_grad_at(p, x, delta) if need_input else None

    def r_forward(self, p, v, x, rx, a, z, dh=None):
        ra = (np.zeros_like(a) if rx is None else self._gather(self._source(x), rx))
        return ra, (self.activation.dh(a, z) if dh is None else dh) * ra

    def r_forward_many(self, p, V, x, rx, a, z, dh=None):
        if rx is None:
            ra = np.zeros((V.shape[0],) + a.shape, dtype=a.dtype)
        else:
            ra = self._gather(self._source(x), rx)
        return ra, (self.activation.dh(a, z) if dh is None else dh) * ra

    def r_backward(self, p, v, x, rx, delta, rdelta, out, need_input=True):
        return self.input_grad_at(p, x, rdelta) if need_input else None

    def r_backward_many(self, p, V, x, rx, delta, rdelta, out, need_input=True):
        if not need_input:
            return None
        src = self._source(x)
        out_ = np.zeros(rdelta.shape[:-1] + (self.n_in,), dtype=rdelta.dtype)
        np.put_along_axis(out_, np.broadcast_to(src, rdelta.shape), rdelta, axis=-1)
        return out_


# -- the spec: a network typed in one line ------------------------------------
_ITEM = re.compile(r"^(conv|sub|max|dense)(?::([0-9x]+))?((?::[a-z0-9=]+)*)$")


def parse_spec(spec):
    """Parse a layer spec into a list of ``(kind, sizes, options)``.

    Items are separated by ``-``:

    ``conv:MxK`` or ``conv:MxKHxKW``   M feature maps, K×K (or KH×KW) kernels
    ``sub`` or ``sub:S``               the book's subsampling, S×S blocks (default 2)
    ``max`` or ``max:S``               max pooling, S×S blocks (default 2)
    ``dense:M``                        M fully connected hidden units

    Each item may end in options ``:pad=P`` (conv only) and ``:ACTIVATION``
    (``tanh``, ``relu``, ...; otherwise the network's hidden activation, and
    identity for ``max``). Example: ``"conv:6x5x5-sub-conv:16x5x5:relu-max-dense:84"``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a layer spec is a string like 'conv:6x5x5-sub-dense:30'; got {spec!r}")
    items = []
    for raw in spec.strip().lower().split("-"):
        m = _ITEM.match(raw.strip())
        if not m:
            raise ValueError(f"cannot read {raw!r} in the layer spec {spec!r}; items are "
                             "conv:MxK[xK], sub[:S], max[:S], dense:M, each optionally "
                             "followed by :pad=P or :ACTIVATION")
        kind, size, opts = m.group(1), m.group(2), m.group(3)
        nums = [int(s) for s in size.split("x") if s] if size else []
        want = {"conv": (2, 3), "dense": (1,), "sub": (0, 1), "max": (0, 1)}[kind]
        if len(nums) not in want or (size and "" in size.split("x")) or min(nums, default=1) < 1:
            raise ValueError(f"{raw!r} in the layer spec {spec!r}: {kind} takes "
                             + {"conv": "M x K or M x KH x KW (positive integers)",
                                "dense": "a positive number of units",
                                "sub": "at most a block size", "max": "at most a block size"}[kind])
        options = {}
        for o in filter(None, opts.split(":")):
            if o.startswith("pad="):
                if kind != "conv" or not o[4:].isdigit():
                    raise ValueError(f"{raw!r} in the layer spec {spec!r}: pad=P (an integer) "
                                     "belongs to conv items only")
                options["padding"] = int(o[4:])
            else:
                get_activation(o)                      # raises on an unknown name
                options["activation"] = o
        items.append((kind, nums, options))
    return items


def layers_from_spec(spec, input_shape, n_outputs, hidden="tanh"):
    """The layers of a spec on images of ``input_shape``, then a dense output layer.

    Parameters
    ----------
    spec : str
        See :func:`parse_spec`.
    input_shape : (C, H, W)
    n_outputs : int
        Units of the final (identity) layer, whose outputs the output model reads.
    hidden : str
        Activation of the items that name none (``max`` items default to identity).
    """
    shape = _shape(input_shape, "input_shape")
    n_outputs = int(n_outputs)
    if n_outputs < 1:
        raise ValueError(f"n_outputs must be >= 1; got {n_outputs}")
    layers, flat = [], None
    for kind, nums, opts in parse_spec(spec):
        act = opts.get("activation", "identity" if kind == "max" else hidden)
        if kind == "dense":
            n_in = int(np.prod(shape)) if flat is None else flat
            layers.append(Dense(n_in, nums[0], act))
            flat = nums[0]
            continue
        if flat is not None:
            raise ValueError(f"in the layer spec {spec!r} a {kind} item follows a dense one; "
                             "image layers come first")
        try:
            if kind == "conv":
                kernel = nums[1] if len(nums) == 2 else tuple(nums[1:])
                layer = Conv2D(shape, nums[0], kernel, act, opts.get("padding", 0))
            else:
                cls = Subsampling if kind == "sub" else MaxPool
                layer = cls(shape, nums[0] if nums else 2, act)
        except ValueError as e:
            raise ValueError(f"layer {len(layers) + 1} of {spec!r} on {shape} maps: {e}") from None
        layers.append(layer)
        shape = layer.out_shape
    n_in = int(np.prod(shape)) if flat is None else flat
    layers.append(Dense(n_in, n_outputs, "identity"))
    return layers


def network_from_spec(spec, input_shape, n_outputs, *, hidden="tanh", output="linear",
                      dtype=np.float64):
    """A :class:`~prmlnet.Network` from a layer spec (see :func:`parse_spec`).

    Examples
    --------
    >>> from prmlnet.convolution import network_from_spec
    >>> net = network_from_spec("conv:6x3x3-sub-dense:30", (1, 8, 8), 10, output="softmax")
    >>> [type(l).__name__ for l in net.layers], net.n_weights
    (['Conv2D', 'Subsampling', 'Dense', 'Dense'], 2032)
    """
    from .network import Network

    return Network.from_layers(layers_from_spec(spec, input_shape, n_outputs, hidden),
                               output=output, dtype=dtype)


def spec_of(net):
    """The spec string of a network's hidden layers (the inverse of :func:`network_from_spec`,
    activations always written out)."""
    items = []
    for layer in net.layers[:-1]:
        act = layer.activation.name
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            k = f"{kh}" if kh == kw else f"{kh}x{kw}"
            pad = f":pad={layer.padding}" if layer.padding else ""
            items.append(f"conv:{layer.n_maps}x{k}{pad}:{act}")
        elif isinstance(layer, (Subsampling, MaxPool)):
            kind = "sub" if isinstance(layer, Subsampling) else "max"
            items.append(f"{kind}:{layer.size}:{act}")
        elif isinstance(layer, Dense):
            items.append(f"dense:{layer.n_out}:{act}")
        else:
            raise ValueError(f"no spec item for a {type(layer).__name__} layer")
    return "-".join(items)


# -- layers as JSON (model files) ----------------------------------------------
def layer_config(layer):
    """A layer's description as plain JSON values (no weights)."""
    act = layer.activation.name
    if isinstance(layer, Conv2D):
        return {"type": "conv2d", "in_shape": list(layer.in_shape), "n_maps": layer.n_maps,
                "kernel_size": list(layer.kernel_size), "padding": layer.padding,
                "activation": act}
    if isinstance(layer, (Subsampling, MaxPool)):
        return {"type": "subsampling" if isinstance(layer, Subsampling) else "maxpool",
                "in_shape": list(layer.in_shape), "size": layer.size, "activation": act}
    if type(layer) is Dense:
        return {"type": "dense", "n_in": layer.n_in, "n_out": layer.n_out, "activation": act}
    raise ValueError(f"no configuration for a {type(layer).__name__} layer")


def layer_from_config(config):
    """Rebuild a layer from :func:`layer_config`."""
    try:
        kind, act = config["type"], config["activation"]
        if kind == "conv2d":
            return Conv2D(config["in_shape"], config["n_maps"], tuple(config["kernel_size"]),
                          act, config.get("padding", 0))
        if kind in ("subsampling", "maxpool"):
            cls = Subsampling if kind == "subsampling" else MaxPool
            return cls(config["in_shape"], config["size"], act)
        if kind == "dense":
            return Dense(config["n_in"], config["n_out"], act)
    except (KeyError, TypeError) as e:
        raise ValueError(f"the layer description {config!r} is incomplete ({e!r})") from None
    raise ValueError(f"unknown layer type {config.get('type')!r} in {config!r}")
