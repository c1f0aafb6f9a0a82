r"""The convolutional layer (§5.5.6): feature maps with shared kernels, as matrix products."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.linalg import blas as _blas

from ..activations import get_activation
from ..workspace import scratch
from ._base import ImageLayer, _flat, _same_view, _shape

__all__ = ["Conv2D"]

#: bytes of one column matrix (im2col) at most: a batch is convolved in chunks of
#: patterns whose columns stay in the cache between being gathered and multiplied
_COL_BYTES = 2 * 2 ** 20
#: bytes of columns a forward pass may keep for the backward pass that follows it
#: (measured: keeping more costs more in page faults than it saves)
_KEEP_BYTES = 8 * 2 ** 20
#: bytes of the deltas and input maps of one chunk of the adjoint by kernel offsets
#: (:meth:`Conv2D._adjoint_by_offsets`): small enough to stay in a core's cache while
#: every offset's product passes over them (measured: 2× faster than the column
#: route at 32 patterns of the second LeNet convolution, 2× slower at 128)
_ADJ_BYTES = 2 ** 19


class Conv2D(ImageLayer):
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

    The sum is a matrix product: each pattern's receptive fields are gathered
    into a (C kh kw, H'W') column matrix and multiplied by the (M, C kh kw)
    kernels, in chunks of patterns whose columns fit ``_COL_BYTES``. The columns
    :meth:`linear` built (up to ``_KEEP_BYTES``) are kept for one
    :meth:`weight_grad` on the very same input array (the backward pass that
    follows a forward pass), then dropped. The adjoint (:meth:`input_grad`)
    forms no column matrix: each kernel offset adds one product into the
    shifted input maps (:meth:`_adjoint_by_offsets`). Inside a network's pass with a
    workspace (as :class:`~prmlnet.Objective` runs them) the column matrices,
    the adjoint's arrays and the pre-activations live in the workspace and are
    reused on the next pass: arrays of megabytes allocated afresh page-fault on
    every step (``benchmarks/bench_conv.py``, a LeNet-like net on 128 images of
    28×28 in a fresh process: 4,400–4,700 faults per step without, 800–1,300
    with, and steps 1.1–1.3× as fast with).
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
    def _im2col(self, x, key=None):
        """Input patches as columns: x (..., n_in) -> (..., C kh kw, H' W').

        Column (y, x) of a pattern holds the receptive field of output position
        (y, x), in the order (c, i, j) of the kernels' last three axes. With
        ``key``, into that array of the running pass's scratch, if there is one.
        """
        C, H, W = self.in_shape
        kh, kw = self.kernel_size
        _, OH, OW = self.out_shape
        lead = x.shape[:-1]
        x4 = x.reshape(-1, C, H, W)
        if self.padding:
            p = self.padding
            x4 = np.pad(x4, ((0, 0), (0, 0), (p, p), (p, p)))
        shape, sc = (x4.shape[0], C, kh, kw, OH, OW), scratch() if key is not None else None
        col = np.empty(shape, x.dtype) if sc is None else sc.take((id(self),) + key, shape,
                                                                  x.dtype)
        col[...] = sliding_window_view(x4, (kh, kw), axis=(2, 3)).transpose(0, 1, 4, 5, 2, 3)
        return col.reshape(*lead, self._ckk, OH * OW)

    def _by_map(self, delta):
        """(..., n_out) -> (..., M, H' W')."""
        return delta.reshape(*delta.shape[:-1], self.n_maps, -1)

    def _chunks(self, n, itemsize):
        """Ranges of patterns whose column matrix takes at most ``_COL_BYTES``."""
        per = itemsize * self._ckk * self.out_shape[1] * self.out_shape[2]
        step = max(1, _COL_BYTES // per)
        return [(s, min(n, s + step)) for s in range(0, n, step)]

    # -- primitives -----------------------------------------------------------
    def forward(self, p, x, out=None):
        """``(a, z)`` as :meth:`Layer.forward`, the pre-activations written into the
        buffer ``out[0]`` when there is one."""
        a = self.linear(p, x, out=None if out is None else out[0])
        return a, self.activation.apply(a, None if out is None else out[1])

    def linear(self, p, x, bias=True, out=None):
        K, b = self.unpack(p)
        K2 = K.reshape(self.n_maps, -1)
        xf, lead = _flat(x, self.n_in)
        shape = (xf.shape[0], self.n_maps, self.out_shape[1] * self.out_shape[2])
        dtype = np.result_type(K2, xf)
        if out is not None and out.dtype == dtype and out.size == np.prod(shape):
            a = out.reshape(shape)                          # (N, n_out) buffer, as a view
        else:
            a = np.empty(shape, dtype=dtype)
        chunks = self._chunks(xf.shape[0], xf.dtype.itemsize)
        keep = len(chunks) * _COL_BYTES <= _KEEP_BYTES
        cols = []
        for i, (s, e) in enumerate(chunks):
            col = self._im2col(xf[s:e], ("col", i if keep else 0))
            np.matmul(K2, col, out=a[s:e])                  # Σ_cij K_mcij z_c,y+i,x+j
            if keep:
                cols.append(col)
        # the backward pass right after needs the same columns: keep them (if few)
        memo = (x, cols) if keep else None
        sc = scratch()
        if sc is None:
            self._memo = memo
        else:
            sc.memo[id(self)] = memo
        if bias:
            a += b[:, None]
        return a.reshape(*lead, self.n_out)

    def _columns(self, x, chunks):
        """The column matrices of ``x``, chunk by chunk: those of the last :meth:`linear`
        if it was for this very array (used once, then dropped), else built anew."""
        sc = scratch()
        memo = getattr(self, "_memo", None) if sc is None else sc.memo.get(id(self))
        if memo is not None and _same_view(memo[0], x) and len(memo[1]) == len(chunks):
            if sc is None:
                self._memo = None
            else:
                sc.memo[id(self)] = None
            return memo[1]
        return (self._im2col(x[s:e], ("rebuilt",)) for s, e in chunks)

    def weight_grad(self, x, delta, out, bias=True, add=False):
        gK, gb = out[:self._k].reshape(self.n_maps, -1), out[self._k:]
        d = self._by_map(delta)                                         # (N, M, H'W')
        chunks = self._chunks(d.shape[0], x.dtype.itemsize)
        g = 0.0
        for (s, e), col in zip(chunks, self._columns(x, chunks)):
            g = g + np.matmul(d[s:e], np.swapaxes(col, -1, -2)).sum(axis=0)
        if add:                       # shared weights: Σ_n Σ_yx δ_myx z_c,y+i,x+j
            gK += g
            if bias:
                gb += d.sum(axis=2).sum(axis=0)
        else:
            gK[...] = g
            gb[...] = d.sum(axis=2).sum(axis=0) if bias else 0.0

    def input_grad(self, p, delta):
        df, lead = _flat(delta, self.n_out)
        return self._adjoint(self.unpack(p)[0], df).reshape(*lead, self.n_in)

    def _adjoint(self, K, df):
        r""":math:`\sum_m K_{mcij}\,\delta_{m,y-i,x-j}` for kernels ``K`` (M, C, kh, kw) and
        deltas ``df`` (N, n_out): (N, n_in), by :meth:`_adjoint_by_offsets` in chunks."""
        dtype = np.result_type(K, df)
        if dtype not in (np.float32, np.float64):
            dtype = np.dtype(np.float64)
        dx = np.empty((df.shape[0], self.n_in), dtype=dtype)
        Ks = np.ascontiguousarray(K.transpose(2, 3, 1, 0), dtype=dtype)      # (kh, kw, C, M)
        df = df.astype(dtype, copy=False)
        Hp, Wp = self._padded()
        step = max(1, _ADJ_BYTES // ((self.n_maps + self.in_shape[0]) * Hp * Wp * dx.itemsize))
        for s in range(0, df.shape[0], step):
            self._adjoint_by_offsets(Ks, df[s:s + step], dx[s:s + step])
        return dx

    def _padded(self):
        _, H, W = self.in_shape
        return H + 2 * self.padding, W + 2 * self.padding

    def _adjoint_by_offsets(self, Ks, delta, out):
        r"""The adjoint of :meth:`linear` for a chunk of n patterns, into ``out`` (n, n_in):
        one product per kernel offset, no column matrix.

        The deltas are laid map by map on the padded input's grid, zeros beyond
        H'×W', the chunk's patterns side by side: D, (M, n·Hp·Wp). Then offset
        (i, j) adds :math:`\sum_m K_{mcij} D_m` to the input maps (C, n·Hp·Wp)
        shifted by i·Wp + j positions — one BLAS gemm accumulating in place
        (β = 1); the zeros keep every shift inside its own pattern and map.
        ``Ks`` is the kernels as (kh, kw, C, M).
        """
        C, H, W = self.in_shape
        M, OH, OW = self.out_shape
        kh, kw = self.kernel_size
        Hp, Wp = self._padded()
        n, p = delta.shape[0], self.padding
        L = n * Hp * Wp
        sc = scratch()
        if sc is None:
            D = np.zeros((M, n, Hp, Wp), delta.dtype)
            acc = np.empty(C * L + (kh - 1) * Wp + kw, delta.dtype)
        else:                                           # entries beyond H'×W' stay 0 in it
            D = sc.take((id(self), "adj-D"), (M, n, Hp, Wp), delta.dtype, zero=True)
            acc = sc.take((id(self), "adj-acc"), (C * L + (kh - 1) * Wp + kw,), delta.dtype)
        D[:, :, :OH, :OW] = delta.reshape(n, M, OH, OW).transpose(1, 0, 2, 3)
        acc[C * L:] = 0.0                               # the tail that shifts run into
        a = D.reshape(M, L).T                           # (n·Hp·Wp, M), Fortran order
        gemm = _blas.dgemm if delta.dtype == np.float64 else _blas.sgemm
        for i in range(kh):
            for j in range(kw):
                st = i * Wp + j
                c = acc[st:st + C * L].reshape(C, L).T  # the input maps, shifted by (i, j)
                r = gemm(1.0, a, Ks[i, j].T, beta=1.0 if st else 0.0, c=c, overwrite_c=1)
                if r.ctypes.data != c.ctypes.data:      # not in place after all: copy back
                    c[...] = r
        dx = acc[:C * L].reshape(C, n, Hp, Wp)[:, :, p:p + H, p:p + W]
        out.reshape(n, C, H, W)[...] = dx.transpose(1, 0, 2, 3)

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
        gb = np.broadcast_to(d.sum(axis=-1).sum(axis=-2), (R, self.n_maps))
        if add:
            out[:, :self._k] += g
            if bias:
                out[:, self._k:] += gb
        else:
            out[:, :self._k] = g
            out[:, self._k:] = gb if bias else 0.0

    def input_grad_many(self, V, delta):
        R, M, C = V.shape[0], self.n_maps, self.in_shape[0]
        K = V[:, :self._k].reshape(R, M, C, *self.kernel_size)
        return np.stack([self._adjoint(K[r], delta if delta.ndim == 2 else delta[r])
                         for r in range(R)])                           # (R, N, n_in)
