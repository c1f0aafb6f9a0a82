"""Column statistics for the estimators' standardisation, weighted or not.

:class:`~prmlnet.estimators._base.BaseMLP` standardises inputs (and regressors
their targets) with :func:`column_scales`; with sample weights every moment is
that of the rows repeated :math:`s_n` times.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["column_scales", "pooled_variance"]


def column_scales(A, what="input", sample_weight=None):
    """Mean and standard deviation of each column of ``A`` (N, D), for standardising.

    Computed on the columns divided by their largest magnitude, so that values
    near the float64 limit do not overflow. A column whose spread is below
    1e-12 of its magnitude — a constant, up to rounding — gets scale 1 (it is
    only centred); the threshold is relative, so data in any units (1e-13 or
    1e13) are standardised alike. With ``sample_weight`` (N,) the moments are
    weighted (those of the rows repeated :math:`s_n` times), and only rows of
    non-zero weight count for the magnitude.
    """
    if sample_weight is not None:
        A = A[sample_weight > 0]
        sample_weight = sample_weight[sample_weight > 0]
    big = np.max(np.abs(A), axis=0)
    if not np.all(np.isfinite(big)):
        raise ValueError(f"{what} columns hold infinite values; they cannot be standardised")
    unit = np.where(big > 0, big, 1.0)
    B = A / unit
    if sample_weight is None:
        mean, var = B.mean(axis=0), B.var(axis=0)
    else:
        mean = np.average(B, axis=0, weights=sample_weight)
        var = np.average((B - mean) ** 2, axis=0, weights=sample_weight)
    mean, scale = mean * unit, np.sqrt(var) * unit
    scale[~(scale > 1e-12 * big)] = 1.0
    return mean, scale


def pooled_variance(T, sample_weight=None) -> float:
    """The variance of all entries of ``T`` (N, K) together, ``np.var(T)``; with
    ``sample_weight`` each row counted :math:`s_n` times. 0 for an empty T."""
    if not T.size:
        return 0.0
    if sample_weight is None:
        return float(np.var(T))
    s = np.broadcast_to(sample_weight[:, None], T.shape)
    mean = np.average(T, weights=s)
    return float(np.average((T - mean) ** 2, weights=s))


def _count(T, sample_weight=None) -> float:
    """N, or Σ s_n: the number of patterns the weighted sums count."""
    return float(T.shape[0] if sample_weight is None else np.sum(sample_weight))


def _warn_unscaled(X, name):
    """Warn when unstandardised inputs are so small or so large that a network of
    unit-scale initial weights can hardly learn from them."""
    spread = X.std(axis=0) if X.shape[0] > 1 else np.ones(X.shape[1])
    bad = np.flatnonzero((spread > 0) & ((spread < 1e-6) | (spread > 1e6)))
    if bad.size:
        warnings.warn(f"{name}: input column{'s' * (bad.size > 1)} {bad[:5].tolist()} "
                      f"{'have' if bad.size > 1 else 'has'} a spread of "
                      f"{spread[bad[0]]:.3g}; unscaled, the network can hardly learn from "
                      "such inputs — set standardize=True", UserWarning, stacklevel=5)
