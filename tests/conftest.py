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


def weight_equivalence_xfails(estimator):
    """The checks scikit-learn's suite may fail for ``estimator``, with the reason:
    only ``check_sample_weight_equivalence_on_dense_data`` (integer weights must give
    the predictions of repeated rows to 1e-7), and only where its 15-sample problem
    cannot show it. ``tests/test_estimator_weights.py`` holds the equivalence on
    runs that can: fixed numbers of iterations, and full mini-batches."""
    p = estimator.get_params()
    if type(estimator).__name__ == "MDNRegressor":
        why = "the mixture starts from k-means centres drawn among the rows, other rows here"
    elif p.get("augment") is not None:
        why = "the transformed copies are drawn row by row: repeated rows get other draws"
    elif p.get("method") in ("sgd", "momentum", "adam"):
        return {}                 # batch_size >= 15: full batches, the same sums
    elif p.get("method") != "bfgs":
        why = ("the run does not converge within max_iter on this problem (W > 15 N), and "
               "the paths of the weighted and the repeated sums part by rounding")
    else:
        return {}
    return {"check_sample_weight_equivalence_on_dense_data": why}
