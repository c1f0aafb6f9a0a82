r"""Hidden-unit activation functions h with their first and second derivatives.

Backpropagation (5.56) needs h'; the R-operator (§5.4.6) and the exact Hessian
need h'' as well. Each derivative is written in terms of both the pre-activation
``a`` and the unit output ``z = h(a)``, because for the classical sigmoids the
derivative is cheapest from ``z`` (``1 - z**2`` for tanh, ``z (1 - z)`` for the
logistic sigmoid).

All functions are elementwise and pure; arrays of any shape are accepted. The
built-in ones also take an optional ``out=`` array to write into (a workspace's
buffer, :mod:`prmlnet.workspace`), with the same values as without it.
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
    writes_out : bool
        The three callables also take ``out=``, an array of the shape of ``a``
        to write the result into (the built-in activations do). Activations
        written by users need not: the passes then allocate their results.
    """

    name: str
    h: Callable[[np.ndarray], np.ndarray]
    dh: Callable[[np.ndarray, np.ndarray], np.ndarray]
    d2h: Callable[[np.ndarray, np.ndarray], np.ndarray]
    odd: bool = False
    writes_out: bool = False

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    def apply(self, a, out=None):
        """``h(a)``, written into ``out`` where the activation can (the identity
        returns ``a`` itself)."""
        if out is None or not self.writes_out:
            return self.h(a)
        return self.h(a, out=out)

    def derivative(self, a, z, out=None):
        """``h'(a)``, written into ``out`` where the activation can."""
        if out is None or not self.writes_out:
            return self.dh(a, z)
        return self.dh(a, z, out=out)

    def second_derivative(self, a, z, dh=None, out=None):
        """``h''(a)``, written into ``out`` where the activation can."""
        if out is None or not self.writes_out:
            return self.d2h(a, z, dh)
        return self.d2h(a, z, dh, out=out)

    def backprop(self, g, a, z, tmp=None):
        r"""``g *= h'(a)`` in place, the step :math:`\delta_j = h'(a_j)\,g_j` of (5.56).

        ``g`` must be the caller's own array (it is overwritten and returned);
        ``tmp``, optional, is a buffer of its shape for h'(a). The identity's
        h' = 1 costs nothing.
        """
        dh = self.dh
        if dh is _identity_dh:
            return g
        g *= dh(a, z) if tmp is None or not self.writes_out else dh(a, z, out=tmp)
        return g


def _tanh_dh(a, z, out=None):
    if out is None:
        return 1.0 - z * z                          # (5.60)
    np.multiply(z, z, out=out)
    return np.subtract(1.0, out, out=out)


def _tanh_d2h(a, z, dh=None, out=None):
    if dh is None:
        dh = 1.0 - z * z
    if out is None:
        return -2.0 * z * dh                        # h'' = -2 h h'
    np.multiply(-2.0, z, out=out)
    return np.multiply(out, dh, out=out)


def _logistic_dh(a, z, out=None):
    if out is None:
        return z * (1.0 - z)                        # (4.88)
    np.subtract(1.0, z, out=out)
    return np.multiply(z, out, out=out)


def _logistic_d2h(a, z, dh=None, out=None):
    if dh is None:
        dh = z * (1.0 - z)
    if out is None:
        return dh * (1.0 - 2.0 * z)                 # h'' = h' (1 - 2h)
    np.multiply(2.0, z, out=out)
    np.subtract(1.0, out, out=out)
    return np.multiply(dh, out, out=out)


def _identity(a, out=None):
    return a


def _identity_dh(a, z, out=None):
    if out is None:
        return np.ones_like(a)
    out.fill(1.0)
    return out


def _zero_d2h(a, z, dh=None, out=None):
    if out is None:
        return np.zeros_like(a)
    out.fill(0.0)
    return out


def _relu(a, out=None):
    return np.maximum(a, 0.0, out=out)


def _relu_dh(a, z, out=None):
    if out is None:
        return (a > 0).astype(a.dtype)
    return np.greater(a, 0, out=out)


def _softplus(a, out=None):
    return np.logaddexp(0.0, a, out=out)            # ln(1 + e^a), overflow-safe


def _softplus_dh(a, z, out=None):
    return special.expit(a, out=out)


def _softplus_d2h(a, z, dh=None, out=None):
    s = special.expit(a) if dh is None else dh      # h' = σ(a)
    if out is None:
        return s * (1.0 - s)
    np.subtract(1.0, s, out=out)
    return np.multiply(s, out, out=out)


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", np.tanh, _tanh_dh, _tanh_d2h, odd=True, writes_out=True),
    "logistic": Activation("logistic", special.expit, _logistic_dh, _logistic_d2h,
                           writes_out=True),
    "identity": Activation("identity", _identity, _identity_dh, _zero_d2h, odd=True,
                           writes_out=True),
    "relu": Activation("relu", _relu, _relu_dh, _zero_d2h, writes_out=True),
    "softplus": Activation("softplus", _softplus, _softplus_dh, _softplus_d2h,
                           writes_out=True),
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
