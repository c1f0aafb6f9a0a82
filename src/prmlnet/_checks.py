"""The checks every public :class:`~prmlnet.Network` method runs on ``w``, ``X`` and ``T``.

Each returns its argument as a contiguous array of the network's dtype or raises
a one-line ValueError that says what is wrong. Arrays that are already right take
a fast path of a few comparisons.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["InputChecks"]


def _all_finite(x) -> bool:
    """Whether every entry of the contiguous array ``x`` is finite.

    ``x·x`` is NaN or infinite whenever an entry is; when it is not finite only
    because it overflowed, the entries are tested one by one.
    """
    return math.isfinite(np.vdot(x, x)) or bool(np.isfinite(x).all())


class InputChecks:
    """The input checks of :class:`~prmlnet.Network` (a mix-in; it holds no state)."""

    __slots__ = ()

    def check_weights(self, w):
        """Return ``w`` as a 1-D array of this network's dtype, or raise ValueError."""
        if (type(w) is np.ndarray and w.dtype is self.dtype and w.ndim == 1
                and w.shape[0] == self.n_weights and _all_finite(w)):
            return w
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
        if (X.dtype is self.dtype and X.ndim == 2 and X.shape[1] == self.n_inputs
                and X.shape[0] and X.flags.c_contiguous and _all_finite(X)):
            return X
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
        if (T.dtype is self.dtype and T.ndim == 2 and T.shape == (N, K)
                and T.flags.c_contiguous and _all_finite(T)):
            self.output.check_targets(T)
            return T
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
        nd, dt, vdot, finite = np.ndarray, self.dtype, np.vdot, math.isfinite
        if (type(w) is nd and type(X) is nd and type(T) is nd and w.dtype is dt
                and X.dtype is dt and T.dtype is dt and w.ndim == 1 and X.ndim == 2
                and w.shape[0] == self.n_weights and X.shape[1] == self.sizes[0]
                and T.shape == (X.shape[0], self._n_targets) and X.shape[0]
                and X.flags.c_contiguous and T.flags.c_contiguous
                and finite(vdot(w, w)) and finite(vdot(X, X)) and finite(vdot(T, T))):
            if self._checks_targets:                     # the fast path of the checks below
                self.output.check_targets(T)
            return w, X, T
        w = self.check_weights(w)
        X = self.check_inputs(X)
        if T is not None:
            T = self.check_targets(T, X.shape[0])
        return w, X, T
