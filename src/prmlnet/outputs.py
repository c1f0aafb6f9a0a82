r"""Output models: an output activation paired with its error function.

Each pair is a *canonical link* (§5.2): the derivative of the error with respect
to the output pre-activations is simply ``y - t`` (5.18), so backpropagation
starts from the same place whatever the model. The errors are **sums over
patterns** and are evaluated from the pre-activations ``a`` (softplus and
log-sum-exp), never as the log of a clipped probability.

An output model provides, for pre-activations ``a`` of shape (N, K):

``output(a)``             y = f(a)
``error(a, y, T)``        E = Σ_n E_n, a float
``delta(a, y, T)``        ∂E/∂a, shape (N, K)
``r_delta(a, y, T, ra)``  R{∂E/∂a} given R{a} (§5.4.6)
``curvature(a, y, T)``    ∂²E_n/∂a_n², shape (N, K, K): the weights of the
                          outer-product (Gauss–Newton) approximation (5.84, 5.85)
``output_jacobian(a, y)`` ∂y_n/∂a_n, shape (N, K, K)
``check_targets(T)``      raise ValueError on targets the model cannot take

and, for tangent propagation (§5.5.4, :mod:`prmlnet.invariance`),

``tangent(a, y, ta)``     the output tangent ∂y/∂a · ta, ta of shape (N, S, K)
``tangent_backward(a, y, ta, u)``  its adjoints (see :meth:`OutputModel.tangent_backward`)

A mixture density network (§5.6) is one more output model with these methods.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["OutputModel", "Linear", "Logistic", "Softmax", "OUTPUTS", "get_output"]


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

    def error_and_delta(self, a, y, T):
        """``(error(a, y, T), delta(a, y, T))``, sharing work where possible."""
        return self.error(a, y, T), self.delta(a, y, T)

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
