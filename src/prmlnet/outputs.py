r"""Output models: an output activation paired with its error function.

Each pair is a *canonical link* (§5.2): the derivative of the error with respect
to the output pre-activations is simply ``y - t`` (5.18), so backpropagation
starts from the same place whatever the model. The errors are **sums over
patterns** and are evaluated from the pre-activations ``a`` (softplus and
log-sum-exp), never as the log of a clipped probability.

An output model provides, for pre-activations ``a`` of shape (N, K):

``output(a)``             y = f(a)
``error(a, y, T)``        E = Σ_n E_n, a float
``pattern_errors(a, y, T)``  the E_n themselves, shape (N,)
``delta(a, y, T)``        ∂E/∂a, shape (N, K)
``r_delta(a, y, T, ra)``  R{∂E/∂a} given R{a} (§5.4.6)
``curvature(a, y, T)``    ∂²E_n/∂a_n², shape (N, K, K): the weights of the
                          outer-product (Gauss–Newton) approximation (5.84, 5.85)
``curvature_factor(a, y, T)``  ``(S, lam)`` with C_n = S_n diag(lam_n) S_nᵀ, for the
                          diagonal of the outer-product approximation
``output_jacobian(a, y)`` ∂y_n/∂a_n, shape (N, K, K)
``check_targets(T)``      raise ValueError on targets the model cannot take
``evaluate(a, T, out)``   ``(y, E, delta)`` at once, into three (N, K) buffers
                          where the model can (the passes of a workspace)

and, for tangent propagation (§5.5.4, :mod:`prmlnet.invariance`),

``tangent(a, y, ta)``     the output tangent ∂y/∂a · ta, ta of shape (N, S, K)
``tangent_backward(a, y, ta, u)``  its adjoints (see :meth:`OutputModel.tangent_backward`)

A mixture density network (§5.6) is one more output model with these methods.

:class:`Weighted` wraps any of them to weight each pattern's error,
E = Σ_n s_n E_n (``sample_weight``), with the weights carried as one more
target column.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["OutputModel", "Linear", "Logistic", "Softmax", "Weighted", "OUTPUTS", "get_output"]


class OutputModel:
    """Base class; see the module docstring for the interface."""

    name = "?"

    def n_targets(self, n_outputs: int) -> int:
        """Number of target columns for ``n_outputs`` network outputs."""
        return n_outputs

    def check_targets(self, T) -> None:
        """Raise ``ValueError`` if ``T`` holds values the model cannot take."""

    def delta(self, a, y, T):
        return y - T                                   # (5.18)

    def pattern_errors(self, a, y, T):
        """The error of each pattern, E_n, shape (N,); :meth:`error` is their sum."""
        raise NotImplementedError(f"{type(self).__name__} gives no per-pattern errors, "
                                  "which weighted patterns (sample_weight) need")

    def error_and_delta(self, a, y, T):
        """``(error(a, y, T), delta(a, y, T))``, sharing work where possible."""
        return self.error(a, y, T), self.delta(a, y, T)

    def evaluate(self, a, T, out=None, delta=True):
        """``(y, E, delta)`` from the output pre-activations in one go.

        ``out``, optional, is a sequence of three arrays of the shape of ``a``
        that the model may write into (the built-in models do; the values are
        the same as without them); with ``delta=False`` the delta is None.
        The default calls :meth:`output` and :meth:`error_and_delta`.
        """
        y = self.output(a)
        if not delta:
            return y, self.error(a, y, T), None
        E, d = self.error_and_delta(a, y, T)
        return y, E, d

    def curvature_factor(self, a, y, T=None):
        r"""A factor of the outer-product weights: ``(S, lam)`` with
        :math:`\mathbf{C}_n = \mathbf{S}_n \mathrm{diag}(\boldsymbol\lambda_n)\mathbf{S}_n^\mathrm{T}`.

        ``S`` is (N, K, R), ``lam`` (N, R) or None for all ones. The default is
        the eigendecomposition of :meth:`curvature`; the built-in models give
        closed forms (a square root, :math:`\mathbf{C}_n = \mathbf{S}_n\mathbf{S}_n^\mathrm{T}`).
        """
        lam, U = np.linalg.eigh(self.curvature(a, y, T))
        return U, lam

    # -- tangent propagation (§5.5.4) ----------------------------------------------
    def tangent(self, a, y, ta):
        r"""Output tangents :math:`\sum_j (\partial y_k/\partial a_j)\,\dot a_{sj}`,
        shape (N, S, K), from pre-activation tangents ``ta`` (N, S, K)."""
        return np.einsum("nkj,nsj->nsk", self.output_jacobian(a, y), ta)

    def tangent_backward(self, a, y, ta, u):
        r"""Adjoints of the output tangent :math:`\dot{\mathbf{y}}_s = \mathbf{G}(\mathbf{a})\dot{\mathbf{a}}_s`,
        :math:`\mathbf{G} = \partial\mathbf{y}/\partial\mathbf{a}`.

        Given ``u`` (N, S, K), the derivative of a scalar Ω with respect to
        :math:`\dot{\mathbf{y}}`, returns

        - ``psi`` (N, S, K): :math:`\partial\Omega/\partial\dot{\mathbf{a}}_s = \mathbf{G}^\mathrm{T}\mathbf{u}_s`;
        - ``delta`` (N, K): :math:`\partial\Omega/\partial\mathbf{a} =
          \sum_s \sum_k u_{sk}\,\partial(\mathbf{G}\dot{\mathbf{a}}_s)_k/\partial\mathbf{a}`
          (the second derivatives of the output activation).
        """
        raise NotImplementedError(f"{type(self).__name__} has no tangent_backward: tangent "
                                  "propagation needs linear, logistic or softmax outputs")

    def config(self) -> dict:
        """Everything needed to rebuild this model: ``{"name": ..., **params}``.

        Model files store it; :func:`output_from_config` reads it back.
        """
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


class Linear(OutputModel):
    r"""Identity outputs with the sum-of-squares error.

    Notes
    -----
    .. math:: y_k = a_k, \qquad E = \tfrac12 \sum_n \sum_k (y_{nk} - t_{nk})^2 \quad (5.11, 5.14)
    """

    name = "linear"

    def output(self, a):
        return a

    def error(self, a, y, T):
        r = y - T
        return 0.5 * float(np.vdot(r, r))

    def error_and_delta(self, a, y, T):
        r = y - T
        return 0.5 * float(np.vdot(r, r)), r

    def pattern_errors(self, a, y, T):
        r = y - T
        return 0.5 * np.einsum("nk,nk->n", r, r)

    def evaluate(self, a, T, out=None, delta=True):
        r = a - T if out is None else np.subtract(a, T, out=out[2])     # y = a
        return a, 0.5 * float(np.vdot(r, r)), r if delta else None

    def r_delta(self, a, y, T, ra):
        return ra

    def output_jacobian(self, a, y):
        N, K = a.shape
        return np.broadcast_to(np.eye(K, dtype=a.dtype), (N, K, K)).copy()

    def curvature(self, a, y, T=None):
        return self.output_jacobian(a, y)             # (5.84): H ≈ Σ b bᵀ

    def tangent(self, a, y, ta):
        return ta

    def tangent_backward(self, a, y, ta, u):
        return u, np.zeros_like(a)

    def curvature_factor(self, a, y, T=None):
        N, K = a.shape
        return np.broadcast_to(np.eye(K, dtype=a.dtype), (N, K, K)), None     # C = I


class Logistic(OutputModel):
    r"""K independent logistic-sigmoid outputs with the cross-entropy error.

    Notes
    -----
    .. math::
        y_k = \sigma(a_k), \qquad
        E = -\sum_n \sum_k \{t_{nk} \ln y_{nk} + (1 - t_{nk}) \ln(1 - y_{nk})\}
          = \sum_n \sum_k \{\ln(1 + e^{a_{nk}}) - t_{nk} a_{nk}\}  \quad (5.21, 5.23)

    The second form is the one evaluated (``np.logaddexp``): it is exact for any
    ``a`` and never takes the log of a rounded probability.
    """

    name = "logistic"

    def check_targets(self, T):
        if not np.all((T == 0) | (T == 1)):
            bad = np.unique(T[(T != 0) & (T != 1)])[:5]
            raise ValueError(
                f"logistic outputs need targets in {{0, 1}}; found {bad.tolist()}; "
                "encode each binary label as 0 or 1"
            )

    def output(self, a):
        return special.expit(a)

    def error(self, a, y, T):
        return float(np.sum(np.logaddexp(0.0, a)) - np.vdot(T, a))

    def pattern_errors(self, a, y, T):
        return np.sum(np.logaddexp(0.0, a) - T * a, axis=1)

    def evaluate(self, a, T, out=None, delta=True):
        t, y, d = (None, None, None) if out is None else out
        y = special.expit(a, out=y)
        E = float(np.sum(np.logaddexp(0.0, a, out=t)) - np.vdot(T, a))
        return y, E, np.subtract(y, T, out=d) if delta else None

    def r_delta(self, a, y, T, ra):
        return y * (1.0 - y) * ra

    def output_jacobian(self, a, y):
        N, K = a.shape
        J = np.zeros((N, K, K), dtype=a.dtype)
        J[:, np.arange(K), np.arange(K)] = y * (1.0 - y)
        return J

    def curvature(self, a, y, T=None):
        return self.output_jacobian(a, y)             # (5.85): weights y (1 - y)

    def tangent(self, a, y, ta):
        return (y * (1.0 - y))[:, None, :] * ta        # σ'(a) ȧ

    def tangent_backward(self, a, y, ta, u):
        s1 = y * (1.0 - y)                             # σ' ;  σ'' = σ' (1 - 2σ)
        return s1[:, None, :] * u, s1 * (1.0 - 2.0 * y) * np.einsum("nsk,nsk->nk", u, ta)

    def curvature_factor(self, a, y, T=None):
        N, K = a.shape
        S = np.zeros((N, K, K), dtype=a.dtype)
        S[:, np.arange(K), np.arange(K)] = np.sqrt(y * (1.0 - y))       # C = diag(y (1 - y))
        return S, None


class Softmax(OutputModel):
    r"""Softmax outputs with the multiclass cross-entropy error (1-of-K targets).

    Notes
    -----
    .. math::
        y_k = \frac{e^{a_k}}{\sum_j e^{a_j}}, \qquad
        E = -\sum_n \sum_k t_{nk} \ln y_{nk}
          = \sum_n \Big\{\ln \sum_j e^{a_{nj}} - \sum_k t_{nk} a_{nk}\Big\}  \quad (5.24)

    evaluated as :math:`-\sum t_{nk} \ln y_{nk}` with ``ln y`` from
    ``scipy.special.log_softmax`` (that is, :math:`a_{nk}` minus the log-sum-exp),
    so no probability is rounded before its log is taken; the second form uses
    :math:`\sum_k t_{nk} = 1`.
    """

    name = "softmax"

    def check_targets(self, T):
        ok = np.all((T == 0) | (T == 1), axis=1) & (T.sum(axis=1) == 1)
        if not np.all(ok):
            rows = np.flatnonzero(~ok)[:5].tolist()
            raise ValueError(
                f"softmax outputs need one-hot target rows (a single 1, zeros "
                f"elsewhere); rows {rows} are not; encode class labels 1-of-K"
            )

    def output(self, a):
        return special.softmax(a, axis=-1)

    def error(self, a, y, T):
        return -float(np.vdot(T, special.log_softmax(a, axis=-1)))

    def pattern_errors(self, a, y, T):
        return -np.einsum("nk,nk->n", T, special.log_softmax(a, axis=-1))

    def evaluate(self, a, T, out=None, delta=True):
        # scipy's softmax and log_softmax share a - max(a), its exponential and the
        # row sums; computed once here, with the same operations, hence the same bits.
        m = np.amax(a, axis=-1, keepdims=True)
        if not np.isfinite(m).all():           # log_softmax treats such rows apart
            return super().evaluate(a, T, None, delta)
        t, y, d = (None, None, None) if out is None else out
        t = np.subtract(a, m, out=t)           # a - max(a)
        y = np.exp(t, out=y)
        s = np.sum(y, axis=-1, keepdims=True)
        y /= s                                 # softmax
        t -= np.log(s)                         # log_softmax: ln y without rounding y
        E = -float(np.vdot(T, t))
        return y, E, np.subtract(y, T, out=d) if delta else None

    def r_delta(self, a, y, T, ra):
        return y * (ra - np.sum(y * ra, axis=-1, keepdims=True))

    def output_jacobian(self, a, y):
        J = -y[:, :, None] * y[:, None, :]
        K = a.shape[1]
        J[:, np.arange(K), np.arange(K)] += y          # ∂y_k/∂a_j = y_k (I_kj - y_j)
        return J

    def curvature(self, a, y, T=None):
        return self.output_jacobian(a, y)

    def tangent(self, a, y, ta):
        Y = y[:, None, :]
        return Y * (ta - np.sum(Y * ta, axis=-1, keepdims=True))    # y_k (ȧ_k - Σ_j y_j ȧ_j)

    def tangent_backward(self, a, y, ta, u):
        Y = y[:, None, :]
        ty = self.tangent(a, y, ta)
        yu = np.sum(Y * u, axis=-1, keepdims=True)                  # u·y
        psi = Y * (u - yu)                                          # Gᵀu, G symmetric
        # ∂/∂a_m of Σ_k u_k ẏ_k = u_m ẏ_m - y_m (u·ẏ) - ẏ_m (u·y), summed over s
        uty = u * ty
        delta = uty.sum(axis=1)
        delta -= y * delta.sum(axis=-1, keepdims=True)
        delta -= np.einsum("nsk,nsk->nk", ty, np.broadcast_to(yu, ty.shape))
        return psi, delta

    def curvature_factor(self, a, y, T=None):
        # C = diag(y) - y yᵀ = S Sᵀ with S_kc = (δ_kc - y_k) √y_c (using Σ_c y_c = 1)
        K = a.shape[1]
        S = np.eye(K, dtype=a.dtype) - y[:, :, None]
        S *= np.sqrt(y)[:, None, :]
        return S, None


class Weighted(OutputModel):
    r"""An output model whose patterns carry weights: :math:`E = \sum_n s_n E_n`.

    Parameters
    ----------
    base : OutputModel
        The model of each pattern's error :math:`E_n`.

    Notes
    -----
    The weights :math:`s_n \ge 0` ride as one more target column: the targets
    are ``[T | s]``, shape (N, K + 1). So every split of the patterns — the
    objective's chunks, the Hessians' own chunks, a mini-batch, a Dask
    partition — carries its rows' weights, and every pass of the network and
    of :mod:`prmlnet.hessian` runs unchanged on the per-pattern quantities of
    the base model scaled by :math:`s_n`:

    .. math:: \delta_{nk} \to s_n \delta_{nk}, \qquad
              \mathcal{R}\{\delta_{nk}\} \to s_n \mathcal{R}\{\delta_{nk}\}, \qquad
              \mathbf{C}_n \to s_n \mathbf{C}_n

    so the gradient, H·v, the exact Hessian, the outer-product approximation
    and the diagonals are the weighted sums. Integer weights give what
    repeating each pattern :math:`s_n` times gives. Used by
    :class:`~prmlnet.objective.Objective` (``sample_weight=``); a network
    with this model is internal to it (it is not saved to model files).
    """

    name = "weighted"

    def __init__(self, base):
        if isinstance(base, Weighted) or not isinstance(base, OutputModel):
            raise ValueError(f"Weighted takes an unweighted output model; got {base!r}")
        self.base = base

    def __repr__(self):
        return f"Weighted({self.base!r})"

    def __eq__(self, other):
        return type(other) is Weighted and other.base == self.base

    def __hash__(self):
        return hash((Weighted, self.base))

    def config(self):
        raise ValueError("a network with weighted patterns is internal to an Objective; "
                         "save the network of the unweighted output model")

    def n_targets(self, n_outputs):
        return self.base.n_targets(n_outputs) + 1

    @staticmethod
    def _split(T):
        return T[:, :-1], T[:, -1]

    def check_targets(self, T):
        T0, s = self._split(T)
        self.base.check_targets(T0)
        if not np.all(s >= 0):
            raise ValueError("sample weights must be >= 0")

    def output(self, a):
        return self.base.output(a)

    def output_jacobian(self, a, y):
        return self.base.output_jacobian(a, y)

    def pattern_errors(self, a, y, T):
        T0, s = self._split(T)
        e = self.base.pattern_errors(a, y, T0)
        return np.where(s > 0, s * e, 0.0)          # a weight of 0 drops even E_n = ∞

    def error(self, a, y, T):
        return float(np.sum(self.pattern_errors(a, y, T)))

    def delta(self, a, y, T):
        T0, s = self._split(T)
        return self.base.delta(a, y, T0) * s[:, None]

    def error_and_delta(self, a, y, T):
        return self.error(a, y, T), self.delta(a, y, T)

    def evaluate(self, a, T, out=None, delta=True):
        T0, s = self._split(T)
        y, _, d = self.base.evaluate(a, T0, out, delta)
        E = float(np.sum(np.where(s > 0, s * self.base.pattern_errors(a, y, T0), 0.0)))
        if d is not None:
            d = np.multiply(d, s[:, None], out=d if out is not None and d is out[2] else None)
        return y, E, d

    def r_delta(self, a, y, T, ra):
        T0, s = self._split(T)
        return self.base.r_delta(a, y, T0, ra) * s[:, None]

    def curvature(self, a, y, T=None, **options):
        if T is None:
            raise ValueError("weighted curvature needs the targets with their weights column")
        T0, s = self._split(T)
        return self.base.curvature(a, y, T0, **options) * s[:, None, None]

    def curvature_factor(self, a, y, T=None):
        if T is None:
            raise ValueError("weighted curvature needs the targets with their weights column")
        T0, s = self._split(T)
        S, lam = self.base.curvature_factor(a, y, T0)
        if lam is None:                               # C = S Sᵀ: scale S by √s
            return S * np.sqrt(s)[:, None, None], None
        return S, lam * s[:, None]

    def tangent(self, a, y, ta):
        return self.base.tangent(a, y, ta)

    def tangent_backward(self, a, y, ta, u):
        return self.base.tangent_backward(a, y, ta, u)


OUTPUTS = {"linear": Linear(), "logistic": Logistic(), "softmax": Softmax()}


def get_output(name) -> OutputModel:
    """Return the output model called ``name`` (or ``name`` itself if already one)."""
    if isinstance(name, OutputModel):
        return name
    try:
        return OUTPUTS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(OUTPUTS))
        raise ValueError(f"unknown output model {name!r}; choose one of: {valid}") from None


_CONFIG_BUILDERS = {name: (lambda model: (lambda **kw: model))(m) for name, m in OUTPUTS.items()}


def register_output(name: str, builder) -> None:
    """Let :func:`output_from_config` rebuild output models called ``name``:
    ``builder(**params)`` returns the model (params = config without "name")."""
    _CONFIG_BUILDERS[name] = builder


def output_from_config(config: dict) -> OutputModel:
    """Rebuild an output model from :meth:`OutputModel.config`."""
    params = dict(config)
    name = params.pop("name", None)
    if name not in _CONFIG_BUILDERS:
        valid = ", ".join(sorted(_CONFIG_BUILDERS))
        raise ValueError(f"unknown output model {name!r} in configuration; known: {valid}")
    return _CONFIG_BUILDERS[name](**params)
