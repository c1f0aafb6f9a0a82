"""Shared fixtures: a seeded generator and small problems for every output model."""

import numpy as np
import pytest

import prmlnet


@pytest.fixture
def rng():
    return np.random.default_rng(20061)


def make_targets(output, N, K, rng):
    """Random targets valid for ``output``: reals, 0/1, or one-hot rows."""
    if output == "linear":
        return rng.standard_normal((N, K))
    if output == "logistic":
        return (rng.random((N, K)) < 0.5).astype(float)
    return np.eye(K)[rng.integers(0, K, N)]


def tiny_problem(output, rng, sizes=(3, 4, 2), hidden="tanh", N=7):
    """A small network, inputs and valid targets."""
    net = prmlnet.Network(sizes, hidden=hidden, output=output)
    X = rng.standard_normal((N, sizes[0]))
    return net, X, make_targets(output, N, sizes[-1], rng)
