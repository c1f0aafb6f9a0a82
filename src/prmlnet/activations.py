r"""Hidden-unit activation functions h with their first and second derivatives.

Backpropagation (5.56) needs h'; the R-operator (§5.4.6) and the exact Hessian
need h'' as well. Each derivative is written in terms of both the pre-activation
``a`` and the unit output ``z = h(a)``, because for the classical sigmoids the
derivative is cheapest from ``z`` (``1 - z**2`` for tanh, ``z (1 - z)`` for the
logistic sigmoid).

All functions are elementwise and pure; arrays of any shape are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    r"""An elementwise activation :math:`z = h(a)` with :math:`h'` and :math:`h''`.

    Attributes
    ----------
    name : str
    h : callable ``h(a) -> z``
    dh : callable ``dh(a, z) -> h'(a)``
    d2h : callable ``d2h(a, z, dh=None) -> h''(a)``
        ``dh``, if given, is h'(a) already computed; the sigmoids reuse it
        (tanh: h'' = -2 h h'), saving passes over the data in the R-operator.
    odd : bool
        ``h(-a) = -h(a)``; then flipping the signs of a hidden unit's input and
        output weights leaves the network function unchanged (§5.1.1).
    """

    name: str
    h: Callable[[np.ndarray], np.ndarray]
    dh: Callable[[np.ndarray, np.ndarray], np.ndarray]
    d2h: Callable[[np.ndarray, np.ndarray], np.ndarray]
    odd: bool = False

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _tanh_dh(a, z):
    return 1.0 - z * z                              # (5.60)


def _tanh_d2h(a, z, dh=None):
    if dh is None:
        dh = 1.0 - z * z
    return -2.0 * z * dh                            # h'' = -2 h h'


def _logistic_dh(a, z):
    return z * (1.0 - z)                            # (4.88)


def _logistic_d2h(a, z, dh=None):
    if dh is None:
        dh = z * (1.0 - z)
    return dh * (1.0 - 2.0 * z)                     # h'' = h' (1 - 2h)


def _identity(a):
    return a


def _identity_dh(a, z):
    return np.ones_like(a)


def _zero_d2h(a, z, dh=None):
    return np.zeros_like(a)


def _relu(a):
    return np.maximum(a, 0.0)


def _relu_dh(a, z):
    return (a > 0).astype(a.dtype)


def _softplus(a):
    return np.logaddexp(0.0, a)                     # ln(1 + e^a), overflow-safe


def _softplus_dh(a, z):
    return special.expit(a)


def _softplus_d2h(a, z, dh=None):
    s = special.expit(a) if dh is None else dh      # h' = σ(a)
    return s * (1.0 - s)


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", np.tanh, _tanh_dh, _tanh_d2h, odd=True),
    "logistic": Activation("logistic", special.expit, _logistic_dh, _logistic_d2h),
    "identity": Activation("identity", _identity, _identity_dh, _zero_d2h, odd=True),
    "relu": Activation("relu", _relu, _relu_dh, _zero_d2h),
    "softplus": Activation("softplus", _softplus, _softplus_dh, _softplus_d2h),
}


def get_activation(name: str | Activation) -> Activation:
    """Return the activation called ``name`` (or ``name`` itself if already one)."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(
            f"unknown activation {name!r}; choose one of: {valid}"
        ) from None
