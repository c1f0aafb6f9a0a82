"""Random generators: every function that draws takes ``rng`` explicitly."""

import numpy as np


def as_rng(rng=None) -> np.random.Generator:
    """A numpy Generator from a Generator, an int seed or None."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
