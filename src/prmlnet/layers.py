r"""Layers: the weighted sums of a network, each followed by an activation.

A layer owns no weights. It is handed its slice ``p`` of the flat weight vector
``w`` and reads its parameters through :meth:`Dense.unpack`. Every layer type
provides four *primitives*, all linear in the parameters and in the input:

``linear(p, x)``                 the pre-activations a = W x + b        (5.48)
``linear(p, x, bias=False)``     the same without the bias
``weight_grad(x, delta, out)``   ∂E/∂p = Σ_n delta_n x_nᵀ (and Σ_n delta_n)  (5.53)
``input_grad(p, delta)``         ∂E/∂x = Wᵀ delta, a new array            (5.56)

and ``weight_grad_each`` for per-pattern derivatives. The four *passes* of the
design (forward, backward, R-forward, R-backward, §5.4.6) are written once in
:class:`Layer` from these primitives, so a convolution or subsampling layer
(§5.5.6) drops in by implementing the primitives alone. Because ``linear`` is
bilinear in (p, x), the R-operator follows by the product rule:

.. math:: \mathcal{R}\{a\} = \text{linear}(v, x) + \text{linear}(p, \mathcal{R}\{x\}, \text{bias}=\text{False})

Patterns run along the first axis of every array (N, ...).

A few hooks have defaults here that suit any layer linear in its input and with
each parameter entering each pre-activation at most once (Dense, convolution):
``input_grad_at`` (∂E/∂x given x too; max pooling routes by its input) and its
twin ``linear_at`` (∂a/∂x · dx given x: an input direction pushed through the
layer, as tangent propagation needs), ``linear_in_input``,
``weight_grad_sq``/``input_grad_sq`` (the squared Jacobians of the
Becker–LeCun diagonal), ``n_biases``, ``n_units``, ``workspace``, and
``channelwise``/``unit_params``/``input_params`` (the weight-space symmetries).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .activations import Activation, get_activation

__all__ = ["Layer", "Dense", "pattern_sum"]


@lru_cache(maxsize=32)
def _ones(n, dtype):
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def pattern_sum(delta, out=None):
    r""":math:`\sum_n \boldsymbol\delta_n` over the rows of ``delta`` (N, K): the bias
    gradients (5.53).

    A product with a vector of ones (a BLAS gemv): 2–10× faster than NumPy's
    reduction over rows for the chapter's layer widths (measured), and summed in
    the order the weight gradients' products sum.
    """
    return np.dot(_ones(delta.shape[0], delta.dtype), delta, out=out)


class Layer:
    """Base class: the four passes written from the primitives of a layer type.

    Every pass takes optional *buffers*, arrays of the result's shape that a
    workspace (:mod:`prmlnet.workspace`) keeps between calls. A layer may write
    its results there or ignore them and allocate; the values are the same.
    The passes here, written from the primitives, use the buffers only where an
    activation can write into them; :class:`Dense` writes all its results there.
    """

    n_in: int
    n_out: int
    n_weights: int
    activation: Activation

    # -- passes -------------------------------------------------------------
    def forward(self, p, x, out=None):
        r"""Pre-activations and outputs ``(a, z)`` of the layer for inputs ``x``.

        ``out``, optional: buffers ``(a, z)`` of shape (N, n_out) (z's may be
        None for the identity, whose z is a).

        Notes
        -----
        .. math:: a_j = \sum_i w_{ji} x_i + b_j, \qquad z_j = h(a_j) \quad (5.48, 5.49)
        """
        a = self.linear(p, x)
        return a, self.activation.apply(a, None if out is None else out[1])

    def backward(self, p, x, delta, out, need_input=True, buf=None):
        """Write ∂E/∂p into ``out``; return ∂E/∂x (or None if not needed).

        ``delta`` is ∂E/∂a for this layer's pre-activations, shape (N, n_out);
        ``buf``, optional, an (N, n_in) buffer for ∂E/∂x. ∂E/∂x is computed
        before ``out`` is written, so ``out`` may even be ``p``'s own memory.
        """
        dx = self.input_grad(p, delta) if need_input else None
        self.weight_grad(x, delta, out)
        return dx

    def r_forward(self, p, v, x, rx, a, z, dh=None, out=None, need_z=True):
        r"""R-forward pass (§5.4.6): :math:`(\mathcal{R}\{a\}, \mathcal{R}\{z\})`.

        ``v`` is this layer's slice of the direction; ``rx`` is R{x} (None for the
        network input, whose R{x} is zero). (5.101)–(5.103), written for any layer. ``dh``, if given, is h'(a) already
        computed (the backward pass needs it too). ``out``, optional: buffers
        ``(ra, rz, tmp)`` of shape (N, n_out). With ``need_z=False`` (the output
        layer) R{z} is None.
        """
        ra = self.linear(v, x)                         # Σ_i v_ji x_i            (5.101)
        if rx is not None:
            ra += self.linear(p, rx, bias=False)       # + Σ_j w_kj R{z_j}       (5.103)
        if not need_z:
            return ra, None
        dh = self.activation.derivative(a, z) if dh is None else dh
        return ra, np.multiply(dh, ra, out=None if out is None else out[1])   # R{z_j} (5.102)

    def r_backward(self, p, v, x, rx, delta, rdelta, out, need_input=True, bufs=None):
        r"""Write the Hessian-vector product for this layer's weights into ``out``.

        Returns :math:`\mathcal{R}\{\partial E/\partial x\}` (or None). ``bufs``,
        optional: ``(r_dx, tmp_dx, tmp_w)`` — two (N, n_in) buffers and one of the
        layer's weight shape.

        Notes
        -----
        .. math:: \mathcal{R}\{\partial E/\partial w_{ji}\} = \mathcal{R}\{\delta_j\} x_i + \delta_j \mathcal{R}\{x_i\}
                  \quad (5.110, 5.111)
        """
        self.weight_grad(x, rdelta, out)               # R{δ_k} z_j   (5.110; x_i R{δ_j}, 5.111)
        if rx is not None:
            self.weight_grad(rx, delta, out, bias=False, add=True)   # + δ_k R{z_j}  (5.110)
        if not need_input:
            return None
        r_dx = self.input_grad(p, rdelta)              # Σ_k w_kj R{δ_k}   } the sums of
        r_dx += self.input_grad(v, delta)              # + Σ_k v_kj δ_k    } (5.107)
        return r_dx

    # -- hooks with defaults (see the module docstring) ------------------------
    @property
    def n_biases(self) -> int:
        """Biases at the end of the layer's slice (one per unit for Dense)."""
        return self.n_out

    @property
    def n_units(self) -> int:
        """Units a weight-space symmetry permutes (§5.1.1): outputs, or feature maps."""
        return self.n_out

    #: whether output map c depends on input map c only (subsampling, pooling)
    channelwise = False

    def unit_params(self):
        """(n_units, k) indices into the layer's slice: each unit's incoming weights and
        bias, moved together by a weight-space symmetry (§5.1.1). Default: the layout
        ``W`` (n_out, n_in) row-major, then ``b`` (Dense)."""
        k = self.n_out * self.n_in
        W = np.arange(k).reshape(self.n_out, self.n_in)
        return np.concatenate([W, k + np.arange(self.n_out)[:, None]], axis=1)

    def input_params(self, n_channels):
        """(n_channels, k) indices of the weights that multiply each input channel — a
        block of n_in / n_channels consecutive inputs —, or None where the layer is not
        linear in its input. Default: the columns of ``W`` (Dense)."""
        if self.n_in % n_channels:
            return None
        W = np.arange(self.n_out * self.n_in).reshape(self.n_out, n_channels, -1)
        return W.transpose(1, 0, 2).reshape(n_channels, -1)

    def workspace(self) -> int:
        """Floats of scratch per pattern and R-direction (sizes the Hessian's blocks)."""
        return self.n_in + self.n_out

    #: whether the pre-activations are linear in the input, a = A(p) x + b, with A not
    #: depending on x (False for max pooling, whose routing follows x)
    linear_in_input = True

    def linear_at(self, p, x, dx):
        r"""The pre-activations' change along input directions ``dx`` at the inputs ``x``:
        :math:`\sum_i (\partial a_j/\partial x_i)\,\dot x_i`, without the bias.

        ``x`` is (N, n_in); ``dx`` (N, n_in) or S directions per pattern (N, S, n_in);
        returns (N, n_out) or (N, S, n_out). The adjoint of :meth:`input_grad_at` in
        its delta. A layer linear in x ignores x: ``linear(p, dx, bias=False)``.
        """
        if dx.ndim == 3:
            N, S, n = dx.shape
            return self.linear(p, dx.reshape(N * S, n), bias=False).reshape(N, S, -1)
        return self.linear(p, dx, bias=False)

    def input_grad_at(self, p, x, delta):
        """∂E/∂x at the inputs ``x`` (N, n_in), for ``delta`` (N, n_out) or K rows per
        pattern (N, K, n_out). A layer linear in x ignores x."""
        if delta.ndim == 3:
            N, K, n = delta.shape
            return self.input_grad(p, delta.reshape(N * K, n)).reshape(N, K, -1)
        return self.input_grad(p, delta)

    def weight_grad_sq(self, x, d2, out):
        """Write :math:`\\sum_n \\sum_j d2_{nj} (\\partial a_{nj}/\\partial p)^2` into ``out``
        (the Becker–LeCun diagonal (5.79)); right whenever each parameter enters each
        pre-activation at most once, so that the square is ``x²``."""
        self.weight_grad(x * x, d2, out)

    def input_grad_sq(self, p, x, d2):
        """:math:`\\sum_k (\\partial a_k/\\partial x_j)^2\\, d2_k` (the Becker–LeCun
        recursion (5.81)); the squared weights for a layer linear in x."""
        return self.input_grad(p * p, d2)

    # -- the same two passes for R directions at once -----------------------
    # R-quantities carry a leading axis of directions: V is (R, n_weights),
    # R{x}, R{a}, R{delta} are (R, N, n). The base class loops over the
    # directions with the single-direction primitives; a layer type may
    # override ``linear_many``/``weight_grad_many``/``input_grad_many`` with
    # matrix products (Dense does).
    def linear_many(self, V, x):
        """``linear(V[r], x)`` for every direction r, shape (R, N, n_out)."""
        return np.stack([self.linear(v, x) for v in V])

    def weight_grad_many(self, x, delta, out, bias=True, add=False):
        """``weight_grad`` per direction; ``x`` (N, n_in) or (R, N, n_in),
        ``delta`` (N, n_out) or (R, N, n_out), ``out`` (R, n_weights)."""
        for r in range(out.shape[0]):
            self.weight_grad(x if x.ndim == 2 else x[r], delta if delta.ndim == 2 else delta[r],
                             out[r], bias=bias, add=add)

    def input_grad_many(self, V, delta):
        """``input_grad(V[r], delta)`` for every direction r, shape (R, N, n_in)."""
        return np.stack([self.input_grad(v, delta) for v in V])

    def r_forward_many(self, p, V, x, rx, a, z, dh=None, out=None, need_z=True):
        r"""R-forward pass for R directions ``V`` (R, n_weights) at once.

        ``rx`` is (R, N, n_in) or None; returns R{a}, R{z} of shape (R, N, n_out)
        (R{z} None with ``need_z=False``). ``out`` as for :meth:`r_forward`,
        with the leading axis R.
        """
        ra = self.linear_many(V, x)
        if rx is not None:
            ra += self.linear(p, rx, bias=False)
        if not need_z:
            return ra, None
        dh = self.activation.derivative(a, z) if dh is None else dh
        return ra, np.multiply(dh, ra, out=None if out is None else out[1])

    def r_backward_many(self, p, V, x, rx, delta, rdelta, out, need_input=True, bufs=None):
        r"""R-backward pass for R directions; writes (R, n_weights) into ``out``.

        Returns R{∂E/∂x} of shape (R, N, n_in) (or None).
        """
        self.weight_grad_many(x, rdelta, out)
        if rx is not None:
            self.weight_grad_many(rx, delta, out, bias=False, add=True)
        if not need_input:
            return None
        r_dx = self.input_grad(p, rdelta)
        r_dx += self.input_grad_many(V, delta)
        return r_dx


class Dense(Layer):
    r"""Fully connected layer: ``a = x Wᵀ + b`` with ``W`` of shape (n_out, n_in).

    In the flat vector the layer's slice holds ``W`` row-major (``W[j, i]`` is
    PRML's :math:`w_{ji}`, and equals ``torch.nn.Linear.weight``) followed by
    the bias vector ``b``.
    """

    def __init__(self, n_in: int, n_out: int, activation="tanh"):
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.n_weights = self.n_out * self.n_in + self.n_out
        self._k = self.n_out * self.n_in              # where the bias starts
        self._shape = (self.n_out, self.n_in)
        self.activation = get_activation(activation)

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, {self.activation.name!r})"

    def __eq__(self, other):
        return (type(other) is Dense and other.n_in == self.n_in
                and other.n_out == self.n_out and other.activation == self.activation)

    def __hash__(self):
        return hash((Dense, self.n_in, self.n_out, self.activation.name))

    def unpack(self, p):
        """Views ``(W, b)`` into the layer's slice ``p`` of the flat vector (``p``
        itself if it is such a pair already: a workspace makes the views once)."""
        if type(p) is tuple:
            return p
        k = self._k
        return p[:k].reshape(self._shape), p[k:]

    def fan_in(self):
        """Number of inputs feeding each unit, including the bias."""
        return self.n_in + 1

    # -- passes into buffers (the same operations as the primitives) ---------
    def forward(self, p, x, out=None):
        W, b = p if type(p) is tuple else self.unpack(p)
        if out is None:
            a = x.dot(W.T)                             # (5.48)
            a += b
            return a, self.activation.apply(a)         # (5.49)
        a = np.dot(x, W.T, out=out[0])
        a += b
        return a, self.activation.apply(a, out[1])

    def backward(self, p, x, delta, out, need_input=True, buf=None):
        dx = None
        if need_input:
            W = p[0] if type(p) is tuple else p[:self._k].reshape(self._shape)
            dx = np.dot(delta, W, out=buf)             # Σ_k w_kj δ_k   (5.56)
        gW, gb = out if type(out) is tuple else self.unpack(out)
        np.dot(delta.T, x, out=gW)                     # (5.53) summed over n
        pattern_sum(delta, out=gb)
        return dx

    def r_forward(self, p, v, x, rx, a, z, dh=None, out=None, need_z=True):
        if out is None:
            return super().r_forward(p, v, x, rx, a, z, dh, need_z=need_z)
        V, bv = self.unpack(v)
        ra = np.dot(x, V.T, out=out[0])
        ra += bv
        if rx is not None:
            ra += np.dot(rx, self.unpack(p)[0].T, out=out[2])
        if not need_z:
            return ra, None
        dh = self.activation.derivative(a, z) if dh is None else dh
        return ra, np.multiply(dh, ra, out=out[1])

    def r_backward(self, p, v, x, rx, delta, rdelta, out, need_input=True, bufs=None):
        if bufs is None:
            return super().r_backward(p, v, x, rx, delta, rdelta, out, need_input)
        gW, gb = self.unpack(out)
        np.dot(rdelta.T, x, out=gW)
        pattern_sum(rdelta, out=gb)
        if rx is not None:
            gW += np.dot(delta.T, rx, out=bufs[2])
        if not need_input:
            return None
        r_dx = np.dot(rdelta, self.unpack(p)[0], out=bufs[0])
        r_dx += np.dot(delta, self.unpack(v)[0], out=bufs[1])
        return r_dx

    # -- primitives ---------------------------------------------------------
    def linear(self, p, x, bias=True):
        W, b = self.unpack(p)
        a = x.dot(W.T)                                 # (5.48)
        if bias:
            a += b
        return a

    def weight_grad(self, x, delta, out, bias=True, add=False):
        gW, gb = self.unpack(out)
        if add:
            gW += delta.T.dot(x)
            if bias:
                gb += pattern_sum(delta)
        else:
            np.dot(delta.T, x, out=gW)                 # (5.53) summed over n
            if bias:
                pattern_sum(delta, out=gb)
            else:
                gb[...] = 0.0

    def input_grad(self, p, delta):
        W, _ = self.unpack(p)
        return delta.dot(W)                            # Σ_k w_kj δ_k   (5.56)

    def linear_many(self, V, x):
        k = self.n_out * self.n_in
        VW = V[:, :k].reshape(-1, self.n_out, self.n_in)
        ra = np.matmul(x, VW.transpose(0, 2, 1))       # (5.48) per direction
        ra += V[:, None, k:]
        return ra

    def weight_grad_many(self, x, delta, out, bias=True, add=False):
        k = self.n_out * self.n_in
        gW = np.matmul(np.swapaxes(delta, -1, -2), x)   # (5.53) per direction
        gW = np.broadcast_to(gW, (out.shape[0],) + gW.shape[-2:]).reshape(out.shape[0], k)
        if add:
            out[:, :k] += gW
            if bias:
                out[:, k:] += np.add.reduce(delta, axis=-2)
        else:
            out[:, :k] = gW
            out[:, k:] = np.add.reduce(delta, axis=-2) if bias else 0.0

    def input_grad_many(self, V, delta):
        k = self.n_out * self.n_in
        return np.matmul(delta, V[:, :k].reshape(-1, self.n_out, self.n_in))   # (5.56)

    def weight_grad_each(self, x, delta, out):
        """Per-pattern, per-row derivatives: ``out[n, k] = ∂a^{(k)}_n / ∂p``.

        ``x`` is (N, n_in); ``delta`` is (N, K, n_out) — for each pattern, K rows
        of ∂(something)/∂a; ``out`` is (N, K, n_weights).
        """
        N, K, _ = delta.shape
        k = self.n_out * self.n_in
        gW = out[:, :, :k].reshape(N, K, self.n_out, self.n_in)
        np.multiply(delta[:, :, :, None], x[:, None, None, :], out=gW)
        out[:, :, k:] = delta
