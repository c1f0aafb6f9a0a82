"""prmlnet.distributed on a LocalCluster of two worker processes: the same sums, the
same training runs and the same estimators as in memory, through a lost worker."""

import logging
import os
import signal
import sys
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import cloudpickle  # noqa: E402  (installed with distributed)

import prmlnet  # noqa: E402
from prmlnet.distributed import DistributedObjective  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402
from prmlnet.optim import METHODS, minimize  # noqa: E402
from prmlnet.priors import Term, gaussian_prior  # noqa: E402
from prmlnet.testing import relative_error  # noqa: E402
from test_objective import RowQuadratic  # noqa: E402

# The terms travel to the workers, which cannot import the test modules.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
cloudpickle.register_pickle_by_value(sys.modules[RowQuadratic.__module__])

ROWS = (70, 55, 75)                  # three partitions of unequal length


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL)
    with cluster, distributed.Client(cluster) as c:
        yield c


def problem(output="softmax", sizes=(3, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    N = sum(ROWS)
    net = prmlnet.Network(sizes, output=output)
    X = rng.standard_normal((N, sizes[0]))
    K = sizes[-1]
    if output == "linear":
        T = np.sin(X[:, :K]) + 0.1 * rng.standard_normal((N, K))
    else:
        T = np.eye(K)[rng.integers(0, K, N)]
    return net, X, T, net.init_weights(rng)


def on_cluster(X, T):
    return (da.from_array(X, chunks=(ROWS, -1)), da.from_array(T, chunks=(ROWS, -1)))


@pytest.mark.parametrize("output", ["linear", "softmax"])
def test_every_sum_equals_the_local_objective(client, output):
    net, X, T, w = problem(output)
    prior = gaussian_prior(net, "layers", {"W1": 0.3, "b1": 0.1, "W2": 0.7, "b2": 0.2})
    local = Objective(net, X, T, prior, beta=2.5, chunk_size=16)
    dist = DistributedObjective(net, *on_cluster(X, T), prior, beta=2.5, chunk_size=16)
    assert dist.client is client and dist.n_partitions == 3
    E, g = dist(w)
    E0, g0 = local(w)
    assert abs(E - E0) <= 1e-12 * abs(E0)
    assert relative_error(g, g0) < 1e-12
    assert dist.data_error(w) == pytest.approx(local.data_error(w), rel=1e-12)
    assert dist.prior_error(w) == local.prior_error(w)
    assert dist.prior_terms(w) == local.prior_terms(w)
    rng = np.random.default_rng(1)
    v, V = rng.standard_normal(net.n_weights), rng.standard_normal((4, net.n_weights))
    assert relative_error(dist.hvp(w, v), local.hvp(w, v)) < 1e-12
    HV = dist.hvp(w, V)                                     # R directions in one pass
    assert relative_error(HV, local.hvp(w, V)) < 1e-12
    H = dist.hessian(w)
    assert relative_error(H, local.hessian(w)) < 1e-12
    assert relative_error(HV, V @ H) < 1e-12               # the same H both ways
    assert relative_error(dist.outer_product(w), local.outer_product(w)) < 1e-12
    assert relative_error(dist.diagonal(w), local.diagonal(w)) < 1e-12


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_batch_method_takes_the_local_path(client, method):
    net, X, T, w0 = problem("linear", sizes=(3, 4, 2))
    local = Objective(net, X, T, alpha=0.05)
    dist = DistributedObjective(net, *on_cluster(X, T), alpha=0.05)
    options = {"max_iter": 3 if method == "newton" else 6}
    if method == "gd":
        options["line_search"] = True
    a = minimize(local, w0, method=method, **options)
    b = minimize(dist, w0, method=method, **options)
    assert (b.nit, b.nfev, b.status) == (a.nit, a.nfev, a.status)
    assert relative_error(b.x, a.x) < 1e-9
    assert b.fun == pytest.approx(a.fun, rel=1e-11)


def test_estimators_on_dask_arrays_equal_those_on_numpy(client):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((sum(ROWS), 3)) * [1.0, 4.0, 0.2] + [0.0, 2.0, -1.0]
    y = np.sin(X[:, 0]) + 0.2 * X[:, 1]
    labels = np.array(["a", "b", "c"])[rng.integers(0, 3, X.shape[0])]
    Xd = da.from_array(X, chunks=(ROWS, -1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # short fits: convergence warnings
        for make, target in [
            (lambda: prmlnet.MLPRegressor((4,), method="bfgs", max_iter=6, standardize=True,
                                          random_state=0), y),
            (lambda: prmlnet.MLPClassifier((4,), method="scg", max_iter=6, random_state=0),
             labels),
        ]:
            a = make().fit(X, target)
            b = make().fit(Xd, da.from_array(target, chunks=ROWS))
            assert b.n_iter_ == a.n_iter_ and b.n_features_in_ == 3
            assert relative_error(b.w_, a.w_) < 1e-9
            assert b.loss_ == pytest.approx(a.loss_, rel=1e-11)
            if a.x_mean_ is not None:
                assert relative_error(b.x_mean_, a.x_mean_) < 1e-14
                assert relative_error(b.x_scale_, a.x_scale_) < 1e-14
            assert np.array_equal(getattr(b, "classes_", 0), getattr(a, "classes_", 0))
            assert np.allclose(b.predict(X[:20]) if target is y else b.predict_proba(X[:20]),
                               a.predict(X[:20]) if target is y else a.predict_proba(X[:20]),
                               rtol=1e-9, atol=1e-12)


def test_a_bad_partition_is_named(client):
    net, X, T, _ = problem()
    X = X.copy()
    X[123, 1] = np.nan                                  # rows 70..124 are partition 1
    with pytest.raises(ValueError, match=r"NaN .* partition 1 \(rows 70 to 124\): rows \[123\]"):
        DistributedObjective(net, *on_cluster(X, T))
    T = T.copy()
    T[150] = [0.0, 1.0, 1.0]                            # not one-hot
    with pytest.raises(ValueError, match=r"partition 2 \(rows 125 to 199\), rows counted from "
                                         r"its first: softmax outputs need one-hot .* rows \[25\]"):
        DistributedObjective(net, *on_cluster(problem()[1], T))


def test_per_pattern_terms_see_their_rows_of_the_whole_data_set(client):
    net, X, T, w = problem("linear")
    A = np.random.default_rng(5).standard_normal((X.shape[0], net.n_weights))
    terms = [RowQuadratic(A)]
    local = Objective(net, X, T, alpha=0.1, terms=terms, chunk_size=20)
    dist = DistributedObjective(net, *on_cluster(X, T), alpha=0.1, terms=terms, chunk_size=20)
    E, g = dist(w)
    E0, g0 = local(w)
    assert abs(E - E0) <= 1e-12 * abs(E0) and relative_error(g, g0) < 1e-12
    v = np.random.default_rng(6).standard_normal(net.n_weights)
    assert relative_error(dist.hvp(w, v), local.hvp(w, v)) < 1e-12
    assert relative_error(dist.hessian(w), local.hessian(w)) < 1e-12


class KillWorkerOnce(Term):
    """Adds nothing; once ``armed`` exists, the worker evaluating the first rows kills
    its own process (SIGKILL) in the middle of the evaluation, and notes it in ``done``."""

    per_pattern = True

    def __init__(self, armed, done):
        self.armed, self.done = armed, done

    def value_and_gradient(self, w, batch=None):
        if batch.rows.start == 0 and os.path.exists(self.armed) and not os.path.exists(self.done):
            open(self.done, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return 0.0, np.zeros_like(w)


def test_a_worker_killed_mid_run_leaves_the_result_unchanged(client, tmp_path):
    net, X, T, w0 = problem("linear", sizes=(3, 4, 2))
    armed, done = str(tmp_path / "armed"), str(tmp_path / "done")
    dist = DistributedObjective(net, *on_cluster(X, T), alpha=0.05,
                                terms=[KillWorkerOnce(armed, done)])
    before = set(client.run(os.getpid))

    def arm(info):
        if info.nit == 3:
            open(armed, "w").close()

    run = minimize(dist, w0, method="bfgs", max_iter=8, callback=arm)
    ref = minimize(Objective(net, X, T, alpha=0.05), w0, method="bfgs", max_iter=8)
    client.wait_for_workers(2, timeout=60)
    assert os.path.exists(done) and set(client.run(os.getpid)) != before   # a worker died
    assert (run.nit, run.nfev) == (ref.nit, ref.nfev)
    assert relative_error(run.x, ref.x) < 1e-9

