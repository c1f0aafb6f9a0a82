r"""Feed-forward networks (PRML §5.1–5.3) over one flat weight vector ``w``.

A :class:`Network` is an immutable *description* — layer sizes, activations,
output model — that owns no weights. Every method takes the weight vector ``w``
(length :attr:`Network.n_weights`) explicitly and is pure: same inputs, same
outputs, nothing mutated.

Shapes: inputs ``X`` are (N, D), targets ``T`` are (N, K) (class labels one-hot
for ``softmax``, 0/1 for ``logistic``), outputs ``y`` are (N, K).

Errors and gradients are **sums over patterns** (5.11, 5.44), not means.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .activations import get_activation
from .layers import Dense, Layer
from .outputs import get_output
from ._rng import as_rng

__all__ = ["Network", "ForwardCache"]


class ForwardCache(NamedTuple):
    """What the forward pass leaves for the backward pass.

    ``inputs[l]`` is the input of layer ``l`` (``inputs[0]`` is X, then the
    hidden-unit outputs z); ``a[l]`` its pre-activations; ``y`` the outputs.
    """

    inputs: list
    a: list
    y: np.ndarray


class Network:
    r"""A feed-forward network of any depth with a flat weight vector.

    Parameters
    ----------
    sizes : sequence of int
        ``(D, M1, ..., K)``: inputs, hidden units of each hidden layer, outputs.
    hidden : str or sequence of str, default "tanh"
        Hidden activation, one name for all hidden layers or one per layer:
        ``tanh``, ``logistic``, ``identity``, ``relu``, ``softplus``.
    output : str or OutputModel, default "linear"
        ``linear`` (sum-of-squares), ``logistic`` (cross-entropy, K independent
        binary outputs) or ``softmax`` (multiclass cross-entropy).
    dtype : numpy dtype, default float64
        float32 is allowed where speed matters; float64 is the default.

    Notes
    -----
    The weight vector holds, for each layer from input to output, the matrix
    :math:`W_l` (n_out, n_in) row-major followed by its bias :math:`b_l`. The
    network function of two layers is

    .. math:: y_k(\mathbf{x}, \mathbf{w}) = f\Big(\sum_j w^{(2)}_{kj}
              h\Big(\sum_i w^{(1)}_{ji} x_i + w^{(1)}_{j0}\Big) + w^{(2)}_{k0}\Big)
              \quad (5.7)

    Use :meth:`from_layers` to build a network from layer objects of any type
    (for example convolutional layers) that implement the primitives of
    :mod:`prmlnet.layers`.
    """

    __slots__ = ("layers", "output", "dtype", "_slices", "n_weights", "sizes")

    def __init__(self, sizes: Sequence[int], hidden="tanh", output="linear",
                 dtype=np.float64):
        sizes = tuple(sizes)
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))
                   for s in sizes):
            raise ValueError(f"sizes must be integers (units per layer); got {sizes}")
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(
                f"sizes must list at least an input and an output size, all >= 1; got {sizes}"
            )
        n_hidden = len(sizes) - 2
        if isinstance(hidden, str) or not isinstance(hidden, Sequence):
            hidden = [hidden] * n_hidden
        hidden = list(hidden)
        if len(hidden) != n_hidden:
            raise ValueError(
                f"got {len(hidden)} hidden activations for {n_hidden} hidden layers"
            )
        acts = [get_activation(h) for h in hidden] + [get_activation("identity")]
        layers = [Dense(sizes[l], sizes[l + 1], acts[l]) for l in range(len(sizes) - 1)]
        self._init(layers, output, dtype)

    @classmethod
    def from_layers(cls, layers: Sequence[Layer], output="linear", dtype=np.float64):
        """A network from layer objects; the last layer's activation must be identity
        (the output model supplies the output activation)."""
        net = cls.__new__(cls)
        net._init(list(layers), output, dtype)
        return net

    @classmethod
    def from_spec(cls, spec, input_shape, n_outputs, *, hidden="tanh", output="linear",
                  dtype=np.float64):
        """A network from a layer spec such as ``"conv:6x5x5-sub-dense:30"`` on images
        of ``input_shape`` (C, H, W); see :func:`prmlnet.convolution.network_from_spec`."""
        from .convolution import network_from_spec
        return network_from_spec(spec, input_shape, n_outputs, hidden=hidden, output=output,
                                 dtype=dtype)

    def _init(self, layers, output, dtype):
        if not layers:
            raise ValueError("a network needs at least one layer")
        for l in range(1, len(layers)):
            if layers[l].n_in != layers[l - 1].n_out:
                raise ValueError(
                    f"layer {l} takes {layers[l].n_in} inputs but layer {l - 1} "
                    f"gives {layers[l - 1].n_out} outputs"
                )
        if layers[-1].activation.name != "identity":
            raise ValueError("the last layer's activation must be 'identity'; "
                             "the output model applies the output activation")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float64 or float32; got {dtype}")
        stops = np.cumsum([0] + [layer.n_weights for layer in layers])
        set_ = object.__setattr__
        output = get_output(output)
        if output.name == "softmax" and layers[-1].n_out < 2:
            raise ValueError("a softmax output layer needs at least 2 units (one softmax output "
                             "is always 1, so its error is always 0); use output='logistic' "
                             "for a single output")
        set_(self, "layers", tuple(layers))
        set_(self, "output", output)
        set_(self, "dtype", dtype)
        set_(self, "_slices", tuple(slice(int(a), int(b)) for a, b in zip(stops[:-1], stops[1:])))
        set_(self, "n_weights", int(stops[-1]))
        set_(self, "sizes", (layers[0].n_in,) + tuple(layer.n_out for layer in layers))

    def __setattr__(self, name, value):
        raise AttributeError("Network is immutable; build a new one instead")

    def __reduce__(self):
        return (Network.from_layers, (list(self.layers), self.output, self.dtype))

    def __repr__(self):
        if not all(type(layer) is Dense for layer in self.layers):
            return (f"Network.from_layers({list(self.layers)!r}, output={self.output.name!r}"
                    + (", dtype=float32" if self.dtype == np.float32 else "") + ")")
        hidden = [layer.activation.name for layer in self.layers[:-1]]
        h = hidden[0] if len(set(hidden)) == 1 else hidden
        return (f"Network({self.sizes}, hidden={h!r}, output={self.output.name!r}"
                + (", dtype=float32" if self.dtype == np.float32 else "") + ")")

    def __eq__(self, other):
        return (isinstance(other, Network) and self.layers == other.layers
                and self.output == other.output and self.dtype == other.dtype)

    def __hash__(self):
        return hash((self.layers, self.output, self.dtype))

    # -- the weight vector ----------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    @property
    def n_targets(self) -> int:
        return self.output.n_targets(self.n_outputs)

    def unpack(self, w):
        """Per-layer views ``[(W_1, b_1), ..., (W_L, b_L)]`` into ``w`` (or a
        gradient or direction of the same layout)."""
        w = self.check_weights(w)
        return [layer.unpack(w[s]) for layer, s in zip(self.layers, self._slices)]

    def layer_slices(self):
        """The slice of ``w`` that belongs to each layer."""
        return self._slices

    def weight_groups(self):
        """Named index groups of ``w``: the weights and the biases of each layer.

        These are the groups of the consistent priors of §5.5.1.
        """
        groups = {}
        for l, (layer, s) in enumerate(zip(self.layers, self._slices), start=1):
            idx = np.arange(s.start, s.stop)
            k = layer.n_weights - layer.n_biases
            groups[f"W{l}"] = idx[:k]
            groups[f"b{l}"] = idx[k:]
        return groups

    def init_weights(self, rng=None):
        r"""Random initial weights.

        Each weight and bias of a unit with ``n_in`` inputs is drawn from
        :math:`\mathcal{N}(0, 1/(n_\text{in} + 1))` — Netlab's choice, the bias
        counted as one more input. With inputs of unit variance this makes the
        pre-activations of unit order: the sigmoids start in the region where
        they are neither linear nor saturated, so gradients neither vanish nor
        explode (§5.2 and Bishop 1995 §7.4), and the initial outputs are of the
        order of standardised targets.

        Parameters
        ----------
        rng : numpy Generator, int seed or None
        """
        rng = as_rng(rng)
        w = np.empty(self.n_weights, dtype=np.float64)
        for layer, s in zip(self.layers, self._slices):
            w[s] = rng.standard_normal(layer.n_weights) / np.sqrt(layer.fan_in())
        return w.astype(self.dtype, copy=False)

    # -- input checks ---------------------------------------------------------
    def check_weights(self, w):
        """Return ``w`` as a 1-D array of this network's dtype, or raise ValueError."""
        w = np.asarray(w)
        if w.ndim != 1 or w.shape[0] != self.n_weights:
            raise ValueError(
                f"weight vector has shape {w.shape}; this network needs a 1-D "
                f"vector of length {self.n_weights} (see Network.n_weights)"
            )
        if w.dtype != self.dtype:
            w = w.astype(self.dtype)
        if not np.isfinite(w).all():
            raise ValueError("weight vector holds NaN or infinite values")
        return w

    def check_inputs(self, X, name="X"):
        """Return ``X`` as an (N, D) array of this network's dtype, or raise ValueError."""
        X = np.asarray(X)
        if X.dtype.kind not in "fiub":
            raise ValueError(f"{name} must be numeric; got dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (N, {self.n_inputs}); got shape {X.shape}"
                + ("; use X.reshape(-1, 1) for a single input" if X.ndim == 1 else "")
            )
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"{name} has {X.shape[1]} columns; this network takes {self.n_inputs} inputs"
            )
        if X.shape[0] == 0:
            raise ValueError(f"{name} is empty (0 patterns)")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not np.all(np.isfinite(X)):
            rows = np.flatnonzero(~np.all(np.isfinite(X), axis=1))[:5].tolist()
            raise ValueError(f"{name} holds NaN or infinite values (rows {rows})")
        return X

    def check_targets(self, T, N):
        """Return ``T`` as an (N, K) array, or raise ValueError."""
        T = np.asarray(T)
        K = self.n_targets
        if T.dtype.kind not in "fiub":
            raise ValueError(f"T must be numeric; got dtype {T.dtype}")
        if T.ndim != 2:
            raise ValueError(
                f"T must be 2-D (N, {K}); got shape {T.shape}"
                + ("; use T.reshape(-1, 1) for a single target" if T.ndim == 1 else "")
            )
        if T.shape[1] != K:
            raise ValueError(f"T has {T.shape[1]} columns; this network has {K} targets")
        if T.shape[0] != N:
            raise ValueError(f"X has {N} patterns but T has {T.shape[0]}; they must match")
        T = np.ascontiguousarray(T, dtype=self.dtype)
        if not np.all(np.isfinite(T)):
            rows = np.flatnonzero(~np.all(np.isfinite(T), axis=1))[:5].tolist()
            raise ValueError(f"T holds NaN or infinite values (rows {rows})")
        self.output.check_targets(T)
        return T

    def check_data(self, w, X, T=None):
        """Checked ``(w, X, T)``; ``T`` may be None."""
        w = self.check_weights(w)
        X = self.check_inputs(X)
        if T is not None:
            T = self.check_targets(T, X.shape[0])
        return w, X, T

    # -- forward propagation (5.48, 5.49) -------------------------------------
    def forward(self, w, X):
        """Forward propagation; returns a :class:`ForwardCache`."""
        w, X, _ = self.check_data(w, X)
        return self._forward(w, X)

    def _forward(self, w, X):
        inputs, pre = [], []
        z = X
        for layer, s in zip(self.layers, self._slices):
            inputs.append(z)
            a, z = layer.forward(w[s], z)              # (5.48), (5.49)
            pre.append(a)
        return ForwardCache(inputs, pre, self.output.output(a))

    def predict(self, w, X):
        """Network outputs ``y(x, w)``, shape (N, K)."""
        return self.forward(w, X).y

    def error(self, w, X, T):
        """The error E(w), summed over patterns."""
        w, X, T = self.check_data(w, X, T)
        c = self._forward(w, X)
        return self.output.error(c.a[-1], c.y, T)

    # -- error backpropagation (5.50–5.57) ------------------------------------
    def backward(self, w, cache, delta_out, out=None):
        r"""Gradient of the error with respect to ``w``, from the output deltas.

        Parameters
        ----------
        w : ndarray of shape (W,)
        cache : ForwardCache
        delta_out : ndarray of shape (N, K)
            :math:`\delta_k = \partial E / \partial a_k` for each pattern (5.51);
            ``y - t`` for the canonical output/error pairs (5.18).
        out : ndarray of shape (W,), optional
            Buffer to write the gradient into.

        Notes
        -----
        .. math:: \delta_j = h'(a_j) \sum_k w_{kj} \delta_k \quad (5.56), \qquad
                  \frac{\partial E}{\partial w_{ji}} = \sum_n \delta_{nj} z_{ni} \quad (5.53, 5.57)
        """
        g = np.empty(self.n_weights, dtype=self.dtype) if out is None else out
        delta = delta_out
        L = len(self.layers)
        for l in range(L - 1, -1, -1):
            layer, s = self.layers[l], self._slices[l]
            # ∂E/∂w_ji = Σ_n δ_j z_i into g (5.53, 5.57); dz = Σ_k w_kj δ_k, the sum of (5.56)
            dz = layer.backward(w[s], cache.inputs[l], delta, g[s], need_input=l > 0)
            if l > 0:
                below = self.layers[l - 1]
                a, z = cache.a[l - 1], cache.inputs[l]
                dz *= below.activation.dh(a, z)                 # (5.56): dz is our own
                delta = dz
        return g

    def error_and_gradient(self, w, X, T, out=None, check=True):
        """``(E, ∇E)`` from one forward and one backward pass.

        Parameters
        ----------
        out : ndarray of shape (W,), optional
            Buffer for the gradient (a training loop reuses one; no allocation).
        check : bool, default True
            ``False`` skips the input checks, for loops over data already checked
            once (with :meth:`check_data`); wrong input then gives wrong results.
        """
        if check:
            w, X, T = self.check_data(w, X, T)
        return self._error_and_gradient(w, X, T, out)

    def _error_and_gradient(self, w, X, T, out=None):
        c = self._forward(w, X)
        a, y = c.a[-1], c.y
        E, delta = self.output.error_and_delta(a, y, T)   # δ_k = ∂E/∂a_k (5.51): y_k − t_k (5.54)
        return E, self.backward(w, c, delta, out)

    def gradient(self, w, X, T):
        """∇E(w) by error backpropagation, summed over patterns (5.57)."""
        return self.error_and_gradient(w, X, T)[1]

    # -- Jacobians (5.3.4) ----------------------------------------------------
    def _backprop_rows(self, w, cache, rows, stop=0, each=None):
        """Backpropagate K rows of output-side derivatives per pattern.

        ``rows`` is (N, K, n_out_L): for each pattern, K vectors ∂(·)/∂a_L. The
        rows travel down as (5.74) does; with ``each`` (N, K, W) the per-pattern
        weight derivatives are written into it. Returns the rows at the input of
        layer ``stop`` (∂(·)/∂x for stop = 0).
        """
        delta = rows
        for l in range(len(self.layers) - 1, stop - 1, -1):
            layer, s = self.layers[l], self._slices[l]
            if each is not None:
                layer.weight_grad_each(cache.inputs[l], delta, each[:, :, s])
            dz = layer.input_grad_at(w[s], cache.inputs[l], delta)
            if l > stop and l > 0:
                below = self.layers[l - 1]
                h1 = below.activation.dh(cache.a[l - 1], cache.inputs[l])
                delta = dz * h1[:, None, :]                       # (5.74)
            else:
                delta = dz
        return delta

    def jacobian(self, w, X):
        r"""The input Jacobian :math:`J_{nki} = \partial y_{nk} / \partial x_{ni}`.

        Returns
        -------
        ndarray of shape (N, K, D)

        Notes
        -----
        Computed by backpropagation (§5.3.4):

        .. math:: J_{ki} = \sum_j w_{ji} \frac{\partial y_k}{\partial a_j}, \qquad
                  \frac{\partial y_k}{\partial a_j} = h'(a_j) \sum_l w_{lj}
                  \frac{\partial y_k}{\partial a_l} \quad (5.73, 5.74)
        """
        w, X, _ = self.check_data(w, X)
        c = self._forward(w, X)
        rows = self.output.output_jacobian(c.a[-1], c.y)          # ∂y_k/∂a_l at the outputs
        return self._backprop_rows(w, c, rows)

    def output_gradients(self, w, X, wrt="y"):
        r"""Per-pattern derivatives of the outputs with respect to the weights.

        Parameters
        ----------
        wrt : {"y", "a"}
            ``"y"``: :math:`\partial y_{nk}/\partial \mathbf{w}`;
            ``"a"``: :math:`\mathbf{b}_{nk} = \partial a_{nk}/\partial \mathbf{w}`
            of the output pre-activations, the vectors of the outer-product
            approximation (5.84, 5.85).

        Returns
        -------
        ndarray of shape (N, K, W)
        """
        if wrt not in ("y", "a"):
            raise ValueError(f"wrt must be 'y' or 'a'; got {wrt!r}")
        w, X, _ = self.check_data(w, X)
        c = self._forward(w, X)
        N, K = c.y.shape
        if wrt == "y":
            rows = self.output.output_jacobian(c.a[-1], c.y)
        else:
            rows = np.broadcast_to(np.eye(K, dtype=self.dtype), (N, K, K)).copy()
        each = np.empty((N, K, self.n_weights), dtype=self.dtype)
        self._backprop_rows(w, c, rows, stop=0, each=each)
        return each
