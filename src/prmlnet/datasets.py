r"""The book's synthetic data sets, each drawn with an explicit random generator.

Every function takes ``rng`` (a numpy Generator, an int seed or None) and
returns ``(X, T)`` with ``X`` of shape (N, D) and ``T`` of shape (N, K), ready
for :class:`prmlnet.Network`, unless its docstring says otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_rng"]


def as_rng(rng=None) -> np.random.Generator:
    """A numpy Generator from a Generator, an int seed or None."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
