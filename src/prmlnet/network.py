r"""Feed-forward networks (PRML §5.1–5.3) over one flat weight vector ``w``.

A :class:`Network` is an immutable *description* — layer sizes, activations,
output model — that owns no weights. Every method takes the weight vector ``w``
(length :attr:`Network.n_weights`) explicitly and is pure: same inputs, same
outputs, nothing mutated.

Shapes: inputs ``X`` are (N, D), targets ``T`` are (N, K) (class labels one-hot
for ``softmax``, 0/1 for ``logistic``), outputs ``y`` are (N, K).

Errors and gradients are **sums over patterns** (5.11, 5.44), not means.

Repeated calls on batches of the same size can reuse their buffers through a
:class:`~prmlnet.workspace.Workspace` (``workspace=net.workspace()``), with the
same results bit for bit.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple, Sequence

import numpy as np

from ._checks import InputChecks
from .activations import get_activation
from .jacobians import Jacobians
from .layers import Dense, Layer
from .outputs import OutputModel, get_output
from .workspace import Workspace, scratch_active
from ._passes import (_COPY_W, _KEEP_ARRAYS, GradBuffers, dense_passes, gradient_out,
                      gradient_step, gradient_views)
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


class Network(InputChecks, Jacobians):
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

    __slots__ = ("layers", "output", "dtype", "_slices", "n_weights", "sizes", "_widest", "_acts",
                 "_n_targets", "_checks_targets")

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
        set_(self, "_widest", max(self.sizes))
        try:                            # (the slow checks say why, where it raises)
            set_(self, "_n_targets", self.output.n_targets(self.sizes[-1]))
        except ValueError:
            set_(self, "_n_targets", -1)
        set_(self, "_checks_targets",
             type(self.output).check_targets is not OutputModel.check_targets)
        # the hidden activations, for the loop specialised to dense layers (else None)
        set_(self, "_acts", tuple(layer.activation for layer in layers)
             if all(type(layer) is Dense for layer in layers) else None)

    def __setattr__(self, name, value):
        raise AttributeError("Network is immutable; build a new one instead")

    def __reduce__(self):
        return (Network.from_layers, (list(self.layers), self.output, self.dtype))

    def workspace(self, max_sets=4) -> Workspace:
        """Buffers for repeated calls (see :mod:`prmlnet.workspace`).

        Pass it as ``workspace=`` to :meth:`error_and_gradient`, :meth:`gradient`,
        :meth:`error`, :meth:`predict` or :func:`prmlnet.hessian.hvp`; the results
        are the same, bit for bit, without the allocations.
        """
        return Workspace(self, max_sets)

    def _check_workspace(self, workspace):
        if workspace is None or getattr(workspace, "net", None) is self:
            return workspace
        if not isinstance(workspace, Workspace):
            raise ValueError(f"workspace must be a prmlnet Workspace (net.workspace()); "
                             f"got {type(workspace).__name__}")
        if workspace.net != self:
            raise ValueError(f"this workspace belongs to {workspace.net!r}, not to {self!r}; "
                             "make one with net.workspace()")
        return workspace

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

    # -- forward propagation (5.48, 5.49) -------------------------------------
    def forward(self, w, X):
        """Forward propagation; returns a :class:`ForwardCache`."""
        w, X, _ = self.check_data(w, X)
        return self._forward(w, X)

    def _forward(self, w, X):
        inputs, pre = self._propagate(w, X)
        return ForwardCache(inputs, pre, self.output.output(pre[-1]))

    def _params(self, w, b):
        """Each layer's parameters for its passes: views into ``w``, or into the
        workspace's copy of it when ``b`` keeps one (its views are made once)."""
        if b is None or b.w is None:
            return [w[s] for s in self._slices]
        np.copyto(b.w, w)
        return b.params

    def _propagate(self, w, X, b=None):
        """Forward propagation: the inputs and pre-activations of every layer."""
        layers, params = self.layers, self._params(w, b)
        L = len(layers)
        fwd = (None,) * L if b is None else b.fwd
        inputs, pre = [None] * L, [None] * L
        z = X
        for l in range(L):
            inputs[l] = z
            pre[l], z = layers[l].forward(params[l], z, fwd[l])       # (5.48), (5.49)
        return inputs, pre

    def _with_buffers(self, ws, N, fn, *args):
        """``fn(*args, buffers)`` with the workspace's buffers for N patterns, or
        ``fn(*args, None)`` without a workspace (or where it does not pay off)."""
        if (ws is None or (self.n_weights > _COPY_W and N * self._widest < _KEEP_ARRAYS)
                or not ws.acquire()):
            return fn(*args, None)
        try:
            b = ws.get(("grad", N), lambda: GradBuffers(self, N))
            if b.scratch is None:
                return fn(*args, b)
            with scratch_active(b.scratch):
                return fn(*args, b)
        finally:
            ws.release()

    def predict(self, w, X, *, workspace=None):
        """Network outputs ``y(x, w)``, shape (N, K) (a new array)."""
        w, X, _ = self.check_data(w, X)
        return self._with_buffers(self._check_workspace(workspace), X.shape[0],
                                  self._predict, w, X)

    def _predict(self, w, X, b):
        y = self.output.output(self._propagate(w, X, b)[1][-1])
        if b is not None and b.fwd[-1] is not None and np.may_share_memory(y, b.fwd[-1][0]):
            y = y.copy()
        return y

    def error(self, w, X, T, *, workspace=None):
        """The error E(w), summed over patterns."""
        w, X, T = self.check_data(w, X, T)
        return self._with_buffers(self._check_workspace(workspace), X.shape[0],
                                  self._error, w, X, T)

    def _error(self, w, X, T, b=None):
        a = self._propagate(w, X, b)[1][-1]
        return self.output.evaluate(a, T, None if b is None else b.out, delta=False)[1]

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
        return self._backpropagate(w, cache.inputs, cache.a, delta_out, g)

    def _backpropagate(self, w, inputs, pre, delta, g, buffers=None):
        layers, slices = self.layers, self._slices
        for l in range(len(layers) - 1, -1, -1):
            s = slices[l]
            # ∂E/∂w_ji = Σ_n δ_j z_i into g (5.53, 5.57); dz = Σ_k w_kj δ_k, the sum of (5.56)
            dz = layers[l].backward(w[s], inputs[l], delta, g[s], l > 0,
                                    None if buffers is None else buffers.dx[l])
            if l:                                           # (5.56): dz is our own
                delta = layers[l - 1].activation.backprop(
                    dz, pre[l - 1], inputs[l], None if buffers is None else buffers.tmp[l - 1])
        return g

    def error_and_gradient(self, w, X, T, out=None, check=True, *, workspace=None):
        """``(E, ∇E)`` from one forward and one backward pass.

        Parameters
        ----------
        out : ndarray of shape (W,), optional
            Buffer for the gradient (a training loop reuses one); otherwise the
            gradient is a new array.
        check : bool, default True
            ``False`` skips the input checks, for loops over data already checked
            once (with :meth:`check_data`); wrong input then gives wrong results.
        workspace : Workspace, optional
            Buffers for the passes, from :meth:`workspace`, reused from call to
            call: with ``out`` too, a repeated call allocates nothing. The
            results are the same bit for bit.
        """
        if check:
            w, X, T = self.check_data(w, X, T)
        return self._error_and_gradient(w, X, T, out, workspace if workspace is None
                                        else self._check_workspace(workspace))

    def _error_and_gradient(self, w, X, T, out=None, ws=None):
        passes = dense_passes if self._acts is not None else Network._passes
        return self._with_buffers(ws, X.shape[0], passes, self, w, X, T, out)

    def _passes(self, w, X, T, out, b):
        """E and ∇E: forward propagation, the output deltas, backpropagation,
        through the passes of each layer (any layer type)."""
        layers = self.layers
        L = len(layers)
        inputs, pre = self._propagate(w, X, b)
        params = [w[s] for s in self._slices] if b is None or b.w is None else b.params
        _, E, delta = self.output.evaluate(pre[-1], T, None if b is None else b.out)
        g, grads = gradient_views(self, out, b)
        dx, tmp = ((None,) * L,) * 2 if b is None else (b.dx, b.tmp)
        for l in range(L - 1, 0, -1):
            dz = layers[l].backward(params[l], inputs[l], delta, grads[l], True, dx[l])  # (5.53)
            delta = layers[l - 1].activation.backprop(dz, pre[l - 1], inputs[l], tmp[l - 1])
        layers[0].backward(params[0], X, delta, grads[0], False)               # (5.56)
        return E, gradient_out(g, out, b)

    def gradient_step(self, w, X, T, learning_rate, *, out=None, check=True, workspace=None):
        r"""One step of gradient descent on a batch: ``(E(w), w − η∇E(w))``.

        Parameters
        ----------
        learning_rate : float > 0
            η of (5.41) (of (5.43) when X, T are a mini-batch).
        out : ndarray of shape (W,), optional
            Where the new weights go; a new array by default. ``out=w`` updates
            the weights in place, the cheapest training loop::

                ws = net.workspace()
                for Xb, Tb in batches:
                    E, _ = net.gradient_step(w, Xb, Tb, eta, out=w, workspace=ws)
        check, workspace
            As for :meth:`error_and_gradient`.

        Returns
        -------
        E : float
            The error at ``w``, before the step.
        w_new : ndarray of shape (W,)
            ``out``.

        Notes
        -----
        .. math:: \mathbf{w}^{(\tau+1)} = \mathbf{w}^{(\tau)} - \eta\nabla E(\mathbf{w}^{(\tau)})
                  \quad (5.41)

        For a network of dense layers the gradient is never formed: the matrix
        product that computes each layer's weight gradient adds −η times it to
        that layer's weights in ``out`` directly (a BLAS gemm with β = 1, through
        :mod:`scipy.linalg.blas`), so a step is one forward and one backward pass
        with no pass over a gradient vector. The result equals
        ``w - learning_rate * gradient`` up to rounding (the product rounds once
        where the separate update rounds twice). Other layer types form the
        gradient (in the workspace) and then update.
        """
        if check:
            w, X, T = self.check_data(w, X, T)
        eta = learning_rate
        if not (isinstance(eta, Real) and not isinstance(eta, bool) and eta > 0
                and math.isfinite(eta)):
            raise ValueError(f"learning_rate must be a finite number > 0; got {eta!r}")
        if out is None:
            out = np.empty(self.n_weights, dtype=self.dtype)
        elif (not isinstance(out, np.ndarray) or out.shape != (self.n_weights,)
              or out.dtype != self.dtype or not out.flags.c_contiguous):
            raise ValueError(f"out must be a contiguous {self.dtype} array of shape "
                             f"({self.n_weights},), like w")
        ws = self._check_workspace(workspace)
        if self._acts is None:
            E, g = self._error_and_gradient(w, X, T, None, ws)
            g *= -eta
            return E, np.add(w, g, out=out)
        return self._with_buffers(ws, X.shape[0], gradient_step, self, w, X, T, float(eta),
                                  out), out

    def gradient(self, w, X, T, *, workspace=None):
        """∇E(w) by error backpropagation, summed over patterns (5.57)."""
        return self.error_and_gradient(w, X, T, workspace=workspace)[1]
