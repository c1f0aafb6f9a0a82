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


@pytest.fixture(scope="session")
def quick_tour(tmp_path_factory):
    """The whole tour in quick mode, built once per test session.

    Returns ``(index, pages)``: the path of ``index.html`` and a dict of the pages
    by module name (``"sec_13_mdn"``). Tests read it; none may change the folder
    (copy it first, as the ``--only`` tests do).
    """
    from prmlnet.tour import build

    out = tmp_path_factory.mktemp("quick-tour")
    index, pages = build(out, quick=True, jobs=2)
    return index, {p.slug: p for p in pages}
