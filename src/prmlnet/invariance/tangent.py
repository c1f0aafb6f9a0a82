r"""Tangent propagation (PRML §5.5.4) and the Tikhonov regularizer (§5.5.5).

A transformation s(x, ξ) of the input with s(x, 0) = x moves a pattern along
a curve whose direction at ξ = 0 is the **tangent vector**
:math:`\boldsymbol\tau_n = \partial\mathbf{s}(\mathbf{x}_n, \xi)/\partial\xi|_{\xi=0}`.
The network's output changes along it at the rate

.. math:: \frac{\partial y_k}{\partial\xi}\Big|_{\xi=0} = \sum_i J_{nki}\,\tau_{ni},
          \qquad J_{nki} = \frac{\partial y_{nk}}{\partial x_{ni}}

and tangent propagation penalises that rate: the error becomes
:math:`\widetilde{E} = E + \lambda\Omega` (5.127) with

.. math:: \Omega = \frac12 \sum_n \sum_s \sum_k \Big(\sum_i J_{nki}\,\tau_{nsi}\Big)^2

summed over patterns n and over the S tangent vectors of each pattern (one per
transformation; (5.128) has one). Ω is defined on the outputs **y after the output activation**
(for logistic and softmax outputs, on the probabilities, the book's J).

The gradient ∂Ω/∂w is computed exactly, as the book describes: the tangent is
carried forwards beside the activations (the forward tangent pass), then one
backward pass returns ∂Ω/∂w. It is the twin of the R-operator
(:mod:`prmlnet.hessian.rop`): the R-forward pass pushes a direction in *weight*
space through the network, the tangent pass pushes a direction in *input*
space, and both are written from the same layer hooks (``linear_at``: an input
direction through the layer at x; ``input_grad_at``: deltas back through it at
x; ``weight_grad``), so they work for any layer type — dense, convolution,
subsampling, and max pooling, which routes both by the maxima of its input
(§5.5.6) and, being piecewise linear, adds no curvature term of its own.

.. math::
    \dot a_j = \sum_i w_{ji}\,\dot x_i, \qquad \dot z_j = h'(a_j)\,\dot a_j,
    \qquad \dot{\mathbf{x}}^{(0)} = \boldsymbol\tau

Backwards, with :math:`\psi_j = \partial\Omega/\partial\dot a_j` and
:math:`\delta_j = \partial\Omega/\partial a_j`,

.. math::
    \psi_j = h'(a_j) \sum_k w_{kj}\psi_k, \qquad
    \delta_j = h'(a_j) \sum_k w_{kj}\delta_k + h''(a_j)\,\dot a_j \sum_k w_{kj}\psi_k,

    \frac{\partial\Omega}{\partial w_{ji}}
        = \sum_n \Big(\delta_j x_i + \sum_s \psi_{sj}\dot x_{si}\Big),
    \qquad \frac{\partial\Omega}{\partial b_j} = \sum_n \delta_j

starting at the outputs from the output model's ``tangent_backward``
(:math:`\psi = \mathbf{G}^\mathrm{T}\dot{\mathbf{y}}` with
:math:`\mathbf{G} = \partial\mathbf{y}/\partial\mathbf{a}`, and δ from its
second derivatives; zero for linear outputs).

**Cost.** With S tangents per pattern the tangent stream does S times the
matrix products of one forward and backward pass. The term can also share its
forward and backward pass with the data term
(:meth:`TangentPropagation.value_and_gradient_with_data`, used by
:class:`~prmlnet.objective.Objective`), so that :math:`\widetilde{E}` and its
gradient cost about 1 + S gradient evaluations.

**Tikhonov** (§5.5.5, (5.135)): with the D unit vectors as tangents,
:math:`\Omega = \frac12\sum_n \|\nabla_{\mathbf{x}}\mathbf{y}(\mathbf{x}_n)\|^2`, the
sum over the training inputs of the squared Frobenius norm of the Jacobian —
the regularizer that training with input noise of variance ξ² approximates
with λ = ξ². :class:`Tikhonov` pushes the unit tangents through the first
layer once for all patterns, instead of once per pattern; when there are fewer
outputs than inputs (K < D) it works in reverse instead — the K rows of J by
backpropagation (5.74), then the adjoints of that backward pass — which costs
about 2K row passes instead of D tangent passes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..outputs import OutputModel, Weighted
from ..priors import Term

__all__ = ["TangentPropagation", "Tikhonov", "tangent_outputs", "tangent_penalty",
           "tikhonov_penalty"]


class TangentPass(NamedTuple):
    """What the forward tangent pass leaves for the backward pass.

    ``cache`` is the network's :class:`~prmlnet.network.ForwardCache`;
    ``tx[l]`` the tangents of layer l's input (N, S, n_in) — ``tx[0]`` is τ
    (None for unit tangents pushed through a first layer linear in its input);
    ``ta[l]`` the tangents of its pre-activations (N, S, n_out); ``slopes[l]``
    h'(a) of hidden layer l; ``ty`` the output tangents (N, S, K); ``S`` the
    tangents per pattern.
    """

    cache: object
    tx: list
    ta: list
    slopes: list
    ty: np.ndarray
    S: int


def _check_output(net):
    out = net.output
    if type(out).tangent_backward is OutputModel.tangent_backward:
        raise ValueError(f"tangent propagation needs an output model with tangent_backward "
                         f"(linear, logistic, softmax); this network has {out.name!r}")


def _rows(a):
    """(N, S, n) -> (N·S, n)."""
    return a.reshape(-1, a.shape[-1])


def _forward(net, w, X, tau):
    """Forward pass and, beside it, the forward tangent pass.

    ``tau`` is (N, S, D), or None for the D unit tangents (Tikhonov). Each
    layer pushes the tangents of its input through its own ``linear_at`` hook
    (a matrix product for a layer linear in its input; the routing of the
    maxima for max pooling).
    """
    c = net._forward(w, X)
    N, D = X.shape
    layers, slices = net.layers, net.layer_slices()
    L = len(layers)
    shared = tau is None and layers[0].linear_in_input
    if tau is None:
        S = D
        tau = np.broadcast_to(np.eye(D, dtype=net.dtype), (N, D, D))
    else:
        S = tau.shape[1]
    tx = None if shared else tau
    txs, tas, slopes = [], [], []
    for l, (layer, s) in enumerate(zip(layers, slices)):
        txs.append(tx)
        if shared and l == 0:
            # unit tangents through a layer linear in x: the same for every pattern
            ta0 = layer.linear_at(w[s], c.inputs[0][:1], np.eye(D, dtype=net.dtype))  # (D, M)
            ta = np.broadcast_to(ta0, (N, S, ta0.shape[1]))
        else:
            ta = layer.linear_at(w[s], c.inputs[l], tx)        # ȧ_j = Σ_i w_ji ẋ_i
        tas.append(ta)
        if l < L - 1:
            h1 = layer.activation.dh(c.a[l], c.inputs[l + 1])  # h'(a_j)
            slopes.append(h1)
            tx = ta * h1[:, None, :]                           # ż_j = h'(a_j) ȧ_j
    ty = net.output.tangent(c.a[-1], c.y, tas[-1])
    return TangentPass(c, txs, tas, slopes, ty, S)


def _backward(net, w, tp, u, delta_out=None, out=None):
    r"""∂Ω/∂w given ``u`` = ∂Ω/∂ẏ (N, S, K); ``delta_out`` (N, K) is added to the
    output deltas (the data term's, when the passes are shared). Writes into ``out``.

    Deltas and tangent adjoints go down through each layer's ``input_grad_at``
    hook (the transposed matrix product, or the routing of max pooling, whose
    derivative does not change with x almost everywhere, so that it adds no
    curvature term of its own)."""
    c, S = tp.cache, tp.S
    N = c.y.shape[0]
    layers, slices = net.layers, net.layer_slices()
    g = np.empty(net.n_weights, dtype=net.dtype) if out is None else out
    a, y = c.a[-1], c.y
    psi, delta = net.output.tangent_backward(a, y, tp.ta[-1], u)
    if delta_out is not None:
        delta = delta + delta_out
    for l in range(len(layers) - 1, -1, -1):
        layer, s, x = layers[l], slices[l], c.inputs[l]
        # the tangent stream first: a layer may still hold what linear_at computed
        # from these very tangents (a convolution's column matrices)
        if tp.tx[l] is None:                      # unit tangents: Σ_n Σ_i ψ_nij e_i
            layer.weight_grad(np.eye(S, dtype=net.dtype), psi.sum(axis=0), g[s], bias=False)
        else:
            layer.weight_grad(_rows(tp.tx[l]), _rows(psi), g[s], bias=False)   # ψ_sj ẋ_si
        layer.weight_grad(x, delta, g[s], add=True)                        # δ_j x_i, Σ δ_j
        if l == 0:
            break
        dx = layer.input_grad_at(w[s], x, delta)                           # Σ_k w_kj δ_k
        dtx = layer.input_grad_at(w[s], x, psi)                            # Σ_k w_kj ψ_k
        below, h1 = layers[l - 1], tp.slopes[l - 1]
        h2 = below.activation.d2h(c.a[l - 1], x, h1)                       # h''(a_j)
        curv = np.einsum("nsj,nsj->nj", tp.ta[l - 1], dtx)
        delta = np.multiply(dx, h1, out=dx)        # input_grad returns new arrays: reuse them
        delta += h2 * curv
        psi = np.multiply(dtx, h1[:, None, :], out=dtx)
    return g


def _tikhonov_reverse(net, w, X, lam=1.0, delta_out=None, cache=None, weights=None):
    r"""``(λΩ, λ∇Ω)`` of the Tikhonov term by reverse mode: K Jacobian rows, not D tangents.

    The rows :math:`\mathbf{r}_l = \partial y_k/\partial\mathbf{a}_l` travel down
    as in :meth:`Network.jacobian` (5.73, 5.74), giving J; an upward sweep then
    carries the adjoints of that backward pass (:math:`\bar{\mathbf{J}} = \lambda\mathbf{J}`)
    to the weights, leaving at every layer an adjoint of the pre-activations
    (from h''(a), and at the outputs from the output model's second derivatives),
    which a last backward pass — shared with the data term's deltas
    ``delta_out`` — takes to the weights and biases. The rows go down through
    each layer's ``input_grad_at`` and their adjoints up through its twin
    ``linear_at``. ``weights`` (N,) weigh each pattern's :math:`\|\mathbf{J}_n\|^2`.
    """
    c = net._forward(w, X) if cache is None else cache
    layers, slices = net.layers, net.layer_slices()
    L = len(layers)
    N, K = c.y.shape
    eye = np.eye(K, dtype=net.dtype)
    r, u, slopes = [None] * L, [None] * L, [None] * L
    # Backward: the Jacobian rows (5.74); u[l] = ∂y_k/∂x_l, r[l] = ∂y_k/∂a_l, (N, K, n)
    r[L - 1] = net.output.output_jacobian(c.a[-1], c.y).reshape(N, K, K)
    for l in range(L - 1, -1, -1):
        u[l] = layers[l].input_grad_at(w[slices[l]], c.inputs[l], r[l])
        if l > 0:
            slopes[l - 1] = layers[l - 1].activation.dh(c.a[l - 1], c.inputs[l])
            r[l - 1] = u[l] * slopes[l - 1][:, None, :]
    J = u[0]                                                           # (N, K, D)
    # Upward: adjoints of the backward pass, from ū_0 = λJ (λ s_n J_n with weights)
    bar = lam * J if weights is None else lam * J * weights[:, None, None]
    value = 0.5 * float(np.vdot(J, bar))
    g = np.zeros(net.n_weights, dtype=net.dtype)
    abar = [None] * L
    for l in range(L):
        layer, s = layers[l], slices[l]
        layer.weight_grad(_rows(bar), _rows(r[l]), g[s], bias=False, add=True)   # u_l = r_l W_l
        rbar = layer.linear_at(w[s], c.inputs[l], bar)                 # r̄_l
        if l < L - 1:                                                  # r_l = h'(a_l) u_{l+1}
            h2 = layer.activation.d2h(c.a[l], c.inputs[l + 1], slopes[l])
            abar[l] = h2 * np.einsum("nkj,nkj->nj", u[l + 1], rbar)
            bar = rbar * slopes[l][:, None, :]
        else:                                                          # r_{L-1} = ∂y/∂a
            units = np.broadcast_to(eye, (N, K, K))
            abar[l] = net.output.tangent_backward(c.a[-1], c.y, units,
                                                  rbar.transpose(0, 2, 1))[1]
    # Backward: the adjoints of the pre-activations (and the data term's deltas)
    delta = abar[L - 1] if delta_out is None else abar[L - 1] + delta_out
    for l in range(L - 1, -1, -1):
        layer, s = layers[l], slices[l]
        layer.weight_grad(c.inputs[l], delta, g[s], add=True)
        if l == 0:
            break
        delta = slopes[l - 1] * layer.input_grad_at(w[s], c.inputs[l], delta) + abar[l - 1]
    return value, g


def _as_tangents(net, tangents, N):
    """Tangents as an (N, S, D) array of the network's dtype, or raise ValueError."""
    tau = np.asarray(tangents)
    if tau.dtype.kind not in "fiub":
        raise ValueError(f"tangents must be numeric; got dtype {tau.dtype}")
    if tau.ndim == 2:
        tau = tau[:, None, :]
    D = net.n_inputs
    if tau.ndim != 3 or tau.shape[0] != N or tau.shape[2] != D or tau.shape[1] < 1:
        raise ValueError(f"tangents must have shape (N, D) = ({N}, {D}) or (N, S, D) = "
                         f"({N}, S, {D}); got {np.shape(tangents)}")
    tau = np.ascontiguousarray(tau, dtype=net.dtype)
    if not np.all(np.isfinite(tau)):
        raise ValueError("tangents hold NaN or infinite values")
    return tau


def tangent_outputs(net, w, X, tangents):
    r"""The output tangents :math:`\sum_i J_{nki}\tau_{nsi}` by the forward tangent pass.

    Parameters
    ----------
    net : Network
    w : ndarray (W,)
    X : ndarray (N, D)
    tangents : ndarray (N, D) or (N, S, D)

    Returns
    -------
    ndarray (N, S, K): the rate of change of each output y_k (after the output
    activation) along each tangent; equals ``net.jacobian(w, X) @ τ``.
    """
    w, X, _ = net.check_data(w, X)
    _check_output(net)
    return _forward(net, w, X, _as_tangents(net, tangents, X.shape[0])).ty


def tangent_penalty(net, w, X, tangents):
    r""":math:`(\Omega, \nabla_{\mathbf{w}}\Omega)` of tangent propagation on ``X``.

    Ω = ½ Σ_n Σ_s Σ_k (Σ_i J_nki τ_nsi)², a sum over patterns, with its exact
    gradient from the forward tangent pass and one backward pass (§5.5.4).
    """
    w, X, _ = net.check_data(w, X)
    _check_output(net)
    tp = _forward(net, w, X, _as_tangents(net, tangents, X.shape[0]))
    return 0.5 * float(np.vdot(tp.ty, tp.ty)), _backward(net, w, tp, tp.ty)


def tikhonov_penalty(net, w, X, mode="auto"):
    r""":math:`(\Omega, \nabla_{\mathbf{w}}\Omega)` with Ω = ½ Σ_n ‖∇_x y(x_n)‖² (§5.5.5).

    The sum over the training inputs of the squared Jacobian norm
    :math:`\sum_k\sum_i J_{nki}^2`, exactly, with its exact gradient. ``mode``:
    ``"forward"`` propagates the D unit tangents (tangent propagation),
    ``"reverse"`` backpropagates the K Jacobian rows and then their adjoints;
    ``"auto"`` (default) takes forward when D <= K, else reverse.
    """
    w, X, _ = net.check_data(w, X)
    _check_output(net)
    if _tikhonov_mode(net, mode) == "reverse":
        return _tikhonov_reverse(net, w, X)
    tp = _forward(net, w, X, None)
    return 0.5 * float(np.vdot(tp.ty, tp.ty)), _backward(net, w, tp, tp.ty)


def _tikhonov_mode(net, mode):
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse'; got {mode!r}")
    if mode == "auto":
        return "forward" if net.n_inputs <= net.n_outputs else "reverse"
    return mode


class TangentPropagation(Term):
    r"""The tangent-propagation regularizer λΩ as a term of the objective (§5.5.4).

    Parameters
    ----------
    net : Network
        The network the objective trains (linear, logistic or softmax outputs).
    tangents : ndarray (N, D) or (N, S, D), or callable
        The tangent vectors of the objective's N patterns, row n for pattern n
        (the term picks the rows of each chunk or mini-batch from
        ``Batch.rows``); or a callable ``tangents(X) -> (n, S, D)`` computing
        them from the batch's own inputs (needed when the inputs are transformed
        afresh for every mini-batch).
    lam : float, default 1.0
        λ of :math:`\widetilde{E} = E + \lambda\Omega`, >= 0. Ω is a sum over
        patterns, like the error, so λ is not divided by N.

    Notes
    -----
    .. math:: \widetilde{E} = E + \lambda\Omega \quad (5.127), \qquad
              \lambda\Omega = \frac{\lambda}{2}\sum_n\sum_s\sum_k
              \Big(\sum_i J_{nki}\tau_{nsi}\Big)^2 \quad (5.128)

    summed over the S tangents of each pattern as well (the book has one).

    :meth:`hvp` is **not** exact: it differences the exact gradient,
    :math:`(\nabla\Omega(\mathbf{w}+\epsilon\mathbf{v})
    - \nabla\Omega(\mathbf{w}-\epsilon\mathbf{v}))/2\epsilon`,
    with :math:`\epsilon = 10^{-5}\max(1, \|\mathbf{w}\|_\infty)/\|\mathbf{v}\|_\infty`
    (relative error about 1e-8). No Hessian is given.
    """

    per_pattern = True
    takes_weights = True          # Ω = ½ Σ_n s_n Σ_s ‖J_n τ_ns‖² with weighted patterns

    def __init__(self, net, tangents, lam=1.0):
        _check_output(net)
        lam = float(lam)
        if not (np.isfinite(lam) and lam >= 0):
            raise ValueError(f"lam must be a finite number >= 0; got {lam!r}")
        if tangents is not None and not callable(tangents):
            tangents = np.asarray(tangents)
            if tangents.ndim not in (2, 3):
                raise ValueError(f"tangents must have shape (N, D) or (N, S, D); got "
                                 f"{tangents.shape}")
            tangents = _as_tangents(net, tangents, tangents.shape[0])
        self.net = net
        self.tangents = tangents
        self.lam = lam

    def __repr__(self):
        what = ("unit" if self.tangents is None else "callable" if callable(self.tangents)
                else "S={}".format(self.tangents.shape[1]))
        return f"{type(self).__name__}(lam={self.lam:g}, tangents={what})"

    def _tau(self, batch):
        if self.tangents is None:
            return None
        if callable(self.tangents):
            return _as_tangents(self.net, self.tangents(batch.X), batch.X.shape[0])
        if batch.rows is None:
            raise ValueError("this tangent-propagation term holds one tangent per pattern of "
                             "the objective's data; the batch must say which rows it holds")
        return self.tangents[batch.rows]

    def _passes(self, w, batch):
        """The tangent pass, λΩ and ∂(λΩ)/∂ẏ (each pattern's weighted by ``batch.weights``)."""
        tp = _forward(self.net, w, batch.X, self._tau(batch))
        u = self.lam * tp.ty
        if batch.weights is not None:
            u = u * batch.weights[:, None, None]
        return tp, 0.5 * float(np.vdot(tp.ty, u)), u

    def value_and_gradient(self, w, batch):
        """``(λΩ, λ∇Ω)`` over the batch's patterns."""
        tp, value, u = self._passes(w, batch)
        return value, _backward(self.net, w, tp, u)

    def value_and_gradient_with_data(self, w, batch, beta=1.0):
        r"""``(β E_D + λΩ, its gradient)`` over the batch, from one shared forward
        pass and one shared backward pass (the data term's deltas join the
        primal stream of the backward pass)."""
        tp, value, u = self._passes(w, batch)
        c = tp.cache
        E, delta = _data_term(self.net, c, batch)
        if beta != 1.0:
            E, delta = beta * E, beta * delta
        return float(E) + value, _backward(self.net, w, tp, u, delta_out=delta)

    def hvp(self, w, v, batch):
        """λ∇∇Ω v by central differences of the exact gradient (see Notes)."""
        v = np.asarray(v, dtype=self.net.dtype)
        vmax = float(np.max(np.abs(v)))
        if vmax == 0.0:
            return np.zeros_like(v)
        eps = 1e-5 * max(1.0, float(np.max(np.abs(w)))) / vmax
        gp = self.value_and_gradient(w + eps * v, batch)[1]
        gm = self.value_and_gradient(w - eps * v, batch)[1]
        return (gp - gm) / (2.0 * eps)


class Tikhonov(TangentPropagation):
    r"""The Tikhonov regularizer λΩ, Ω = ½ Σ_n ‖∇_x y(x_n)‖² (§5.5.5).

    The book's :math:`\Omega = \frac12\int\|\nabla\mathbf{y}(\mathbf{x})\|^2
    p(\mathbf{x})\,\mathrm{d}\mathbf{x}` (5.135) with p(x) the training inputs: the
    sum over the objective's patterns of the squared norm of the input
    Jacobian, :math:`\sum_k \sum_i J_{nki}^2`. Training with additive input
    noise of variance ξ² (and a sum-of-squares error) approximates E + ξ²Ω for
    small ξ when the network is close to the regression function — the
    equivalence of §5.5.5.

    Parameters
    ----------
    net : Network
    lam : float, default 1.0
        λ; ξ² for the noise equivalence.
    mode : {"auto", "forward", "reverse"}, default "auto"
        ``"forward"``: tangent propagation with the D unit tangents (the first
        layer's tangents are the same for every pattern, so they are pushed
        through it once); about D tangent passes. ``"reverse"``: the K rows of
        the Jacobian are backpropagated (5.74), then their adjoints carried
        forwards and one last backward pass gives the gradient; about 2K row
        passes. ``"auto"`` takes forward when D <= K.
    """

    def __init__(self, net, lam=1.0, mode="auto"):
        super().__init__(net, None, lam)
        self.mode = _tikhonov_mode(net, mode)

    def __repr__(self):
        return f"Tikhonov(lam={self.lam:g}, mode={self.mode!r})"

    def value_and_gradient(self, w, batch):
        if self.mode == "forward":
            return super().value_and_gradient(w, batch)
        return _tikhonov_reverse(self.net, w, batch.X, self.lam, weights=batch.weights)

    def value_and_gradient_with_data(self, w, batch, beta=1.0):
        if self.mode == "forward":
            return super().value_and_gradient_with_data(w, batch, beta)
        c = self.net._forward(w, batch.X)
        E, delta = _data_term(self.net, c, batch)
        value, g = _tikhonov_reverse(self.net, w, batch.X, self.lam, beta * delta, cache=c,
                                     weights=batch.weights)
        return beta * float(E) + value, g


def _data_term(net, c, batch):
    """``(E_D, δ)`` of the batch from its forward pass ``c``, weighted by ``batch.weights``."""
    if batch.weights is None:
        return net.output.error_and_delta(c.a[-1], c.y, batch.T)
    T = np.column_stack([batch.T, batch.weights])
    return Weighted(net.output).error_and_delta(c.a[-1], c.y, T)
