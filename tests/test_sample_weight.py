"""Weighted patterns, E_D = Σ_n s_n E_n: every sum of the objective equals repeating rows."""

import numpy as np
import pytest

import prmlnet
from prmlnet.mdn import MixtureDensity
from prmlnet.objective import Objective
from prmlnet.outputs import Weighted
from prmlnet.testing import central_differences, relative_error

from conftest import make_targets

S = np.array([1, 0, 2, 3, 1, 1, 2, 4, 1, 2, 1])        # integer weights, one of them 0
SUMS = ["__call__", "data_error", "hessian", "outer_product", "diagonal",
        "outer_product_diagonal"]


def problem(output, rng, N=len(S)):
    if output == "mdn":
        md = MixtureDensity(2, 2)
        net = prmlnet.Network((3, 4, md.n_outputs), output=md)
        T = rng.standard_normal((N, 2))
    elif output == "conv":
        net = prmlnet.Network.from_spec("conv:2x3x3-dense:4", (1, 5, 5), 3, output="softmax")
        T = make_targets("softmax", N, 3, rng)
    else:
        net = prmlnet.Network((3, 5, 4, 3), output=output)
        T = make_targets(output, N, 3, rng)
    X = rng.standard_normal((N, net.n_inputs))
    return net, X, T, net.init_weights(rng)


def weighted_and_repeated(net, X, T, s, chunks=(3, 4), **kw):
    rep = np.repeat(np.arange(len(s)), s)
    return (Objective(net, X, T, sample_weight=s, chunk_size=chunks[0], **kw),
            Objective(net, X[rep], T[rep], chunk_size=chunks[1], **kw))


@pytest.mark.parametrize("output", ["linear", "logistic", "softmax", "mdn", "conv"])
def test_every_sum_equals_repeated_rows(output, rng):
    net, X, T, w = problem(output, rng)
    A, B = weighted_and_repeated(net, X, T, S, alpha={"W1": 0.3, "b2": 0.1}, beta=1.7)
    assert A.total_weight == S.sum() == B.n_patterns
    for name in SUMS:
        a, b = getattr(A, name)(w), getattr(B, name)(w)
        if name == "__call__":
            assert a[0] == pytest.approx(b[0], rel=1e-12)
            a, b = a[1], b[1]
        assert np.max(np.abs(np.asarray(a) - b)) <= 1e-11 * max(1.0, np.max(np.abs(b))), name
    V = rng.standard_normal((2, net.n_weights))
    assert np.allclose(A.hvp(w, V[0]), B.hvp(w, V[0]), rtol=1e-11, atol=1e-11)
    assert np.allclose(A.hvp(w, V), B.hvp(w, V), rtol=1e-11, atol=1e-11)


def test_workspace_paths_of_large_batches_weigh_the_same(rng):
    # N × widest layer above the size from which the passes write into kept buffers
    net = prmlnet.Network((4, 30, 3), output="softmax")
    N = 400
    X, T = rng.standard_normal((N, 4)), make_targets("softmax", N, 3, rng)
    s = rng.integers(0, 4, N)
    A, B = weighted_and_repeated(net, X, T, s, chunks=(4096, 4096), alpha=0.01)
    w = net.init_weights(rng)
    for _ in range(2):                                  # the second call reuses the buffers
        (Ea, ga), (Eb, gb) = A(w), B(w)
        assert Ea == pytest.approx(Eb, rel=1e-12) and np.allclose(ga, gb, rtol=1e-11, atol=1e-11)
        v = rng.standard_normal(net.n_weights)
        assert np.allclose(A.hvp(w, v), B.hvp(w, v), rtol=1e-10, atol=1e-10)


def test_weighted_gradient_and_hvp_match_central_differences(rng):
    net, X, T, w = problem("logistic", rng)
    s = rng.random(len(S)) * 3                          # real weights: no rows to repeat
    obj = Objective(net, X, T, alpha=0.2, sample_weight=s, chunk_size=4)
    assert relative_error(obj.gradient(w), central_differences(obj.error, w)) < 1e-7
    v = rng.standard_normal(net.n_weights)
    fd = central_differences(lambda u: obj.gradient(w + u[0] * v) @ v, np.zeros(1))[0]
    assert obj.hvp(w, v) @ v == pytest.approx(fd, rel=1e-7)


def test_minibatch_weights_its_rows_and_shares_the_prior_by_weight(rng):
    net, X, T, w = problem("softmax", rng)
    obj = Objective(net, X, T, alpha=0.4, sample_weight=S)
    rows = np.array([0, 2, 3, 7])
    E, g = obj.minibatch(w, X[rows], T[rows], rows=rows)
    rep = np.repeat(rows, S[rows])
    share = S[rows].sum() / S.sum()                      # the batch's share of the weight
    E2, g2 = Objective(net, X[rep], T[rep], alpha=0.4 * share)(w)
    assert E == pytest.approx(E2, rel=1e-12) and np.allclose(g, g2, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="rows="):
        obj.minibatch(w, X[rows], T[rows])


def test_unit_weights_change_nothing(rng):
    net, X, T, w = problem("linear", rng)
    E, g = Objective(net, X, T, alpha=0.1)(w)
    E1, g1 = Objective(net, X, T, alpha=0.1, sample_weight=np.ones(len(S)))(w)
    assert E1 == pytest.approx(E, rel=1e-14) and np.allclose(g1, g, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("s, message", [
    (np.ones(3), r"shape \(3,\)"), (-S, ">= 0"), (np.zeros(len(S)), "0 for every pattern"),
    (np.full(len(S), np.nan), "NaN"), (np.array(["a"] * len(S)), "numeric"),
])
def test_bad_sample_weight_is_refused(s, message, rng):
    net, X, T, _ = problem("linear", rng)
    with pytest.raises(ValueError, match=message):
        Objective(net, X, T, sample_weight=s)


@pytest.mark.parametrize("term", ["tangent", "tikhonov-forward", "tikhonov-reverse"])
def test_per_pattern_terms_weigh_their_patterns_like_repeated_rows(term, rng):
    from prmlnet.invariance import TangentPropagation, Tikhonov
    net = prmlnet.Network((3, 5, 2 if term == "tikhonov-forward" else 4), output="softmax")
    N = len(S)
    X, T = rng.standard_normal((N, 3)), make_targets("softmax", N, net.n_outputs, rng)
    tau = rng.standard_normal((N, 2, 3))
    rep = np.repeat(np.arange(N), S)

    def make(rows):
        if term == "tangent":
            return TangentPropagation(net, tau[rows], lam=0.7)
        return Tikhonov(net, 0.7, mode=term.split("-")[1])
    w = net.init_weights(rng)
    A = Objective(net, X, T, alpha=0.1, terms=[make(slice(None))], sample_weight=S, chunk_size=4)
    B = Objective(net, X[rep], T[rep], alpha=0.1, terms=[make(rep)], chunk_size=5)
    (Ea, ga), (Eb, gb) = A(w), B(w)
    assert Ea == pytest.approx(Eb, rel=1e-12) and np.allclose(ga, gb, rtol=1e-11, atol=1e-12)
    rows = np.array([1, 2, 7])
    Em, gm = A.minibatch(w, X[rows], T[rows], rows=rows)
    rr = np.repeat(rows, S[rows])
    Bm = Objective(net, X[rr], T[rr], alpha=0.1 * len(rr) / len(rep),
                   terms=[make(rr)])
    assert Em == pytest.approx(Bm(w)[0], rel=1e-12)
    assert np.allclose(gm, Bm(w)[1], rtol=1e-11, atol=1e-12)
    v = rng.standard_normal(net.n_weights)
    assert np.allclose(A.hvp(w, v), B.hvp(w, v), rtol=1e-6, atol=1e-8)


def test_a_term_that_cannot_weigh_its_patterns_is_refused(rng):
    from prmlnet.priors import Term

    class Counting(Term):
        per_pattern = True

    net, X, T, _ = problem("linear", rng)
    with pytest.raises(ValueError, match="Counting, a per-pattern term that cannot weigh"):
        Objective(net, X, T, sample_weight=S, terms=[Counting()])


def test_a_weighted_network_is_not_saved():
    with pytest.raises(ValueError, match="internal"):
        Weighted(prmlnet.outputs.Linear()).config()


def test_distributed_objective_weighs_its_partitions_the_same(rng):
    da = pytest.importorskip("dask.array")
    from prmlnet.distributed import DistributedObjective
    net, X, T, w = problem("softmax", rng, N=40)
    s = rng.integers(0, 3, 40).astype(float)
    s[:10] = 0.0                                        # one partition weighs nothing
    dist = DistributedObjective(net, da.from_array(X, chunks=(10, -1)),
                                da.from_array(T, chunks=(10, -1)), alpha=0.3,
                                sample_weight=da.from_array(s, chunks=10))
    local = Objective(net, X, T, alpha=0.3, sample_weight=s)
    assert dist.total_weight == local.total_weight == s.sum()
    (E, g), (E0, g0) = dist(w), local(w)
    assert E == pytest.approx(E0, rel=1e-12) and relative_error(g, g0) < 1e-12
    v = rng.standard_normal(net.n_weights)
    assert relative_error(dist.hvp(w, v), local.hvp(w, v)) < 1e-12
    assert relative_error(dist.hessian(w), local.hessian(w)) < 1e-12
    bad = s.copy()
    bad[25] = -1.0
    with pytest.raises(ValueError, match=r"rows \[25\]"):
        DistributedObjective(net, da.from_array(X, chunks=(10, -1)),
                             da.from_array(T, chunks=(10, -1)),
                             sample_weight=da.from_array(bad, chunks=10))
    with pytest.raises(ValueError, match="partitioned differently"):
        DistributedObjective(net, da.from_array(X, chunks=(10, -1)),
                             da.from_array(T, chunks=(10, -1)),
                             sample_weight=da.from_array(s, chunks=20))
