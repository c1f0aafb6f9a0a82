"""prmlnet.distributed on Dask's local schedulers: out of core from a .npy file, the
checks made before any work, and the tools that take an objective."""

import doctest
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

import prmlnet  # noqa: E402
from prmlnet import distributed, hessian  # noqa: E402
from prmlnet.distributed import DistributedObjective, from_npy  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402
from prmlnet.testing import relative_error  # noqa: E402


def problem(N=230, sizes=(4, 6, 2), seed=0):
    rng = np.random.default_rng(seed)
    net = prmlnet.Network(sizes)
    X = rng.standard_normal((N, sizes[0]))
    T = np.tanh(X[:, :sizes[-1]]) + 0.1 * rng.standard_normal((N, sizes[-1]))
    return net, X, T, net.init_weights(rng)


def test_out_of_core_from_npy_equals_the_objective_in_memory(tmp_path):
    net, X, T, w = problem()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "T.npy", T)
    Xd, Td = from_npy(tmp_path / "X.npy", 50), from_npy(tmp_path / "T.npy", 50)
    assert Xd.chunks == ((50, 50, 50, 50, 30), (4,)) and np.array_equal(Xd[60:70].compute(),
                                                                        X[60:70])
    dist = DistributedObjective(net, Xd, Td, alpha=0.2, beta=3.0)
    assert dist.client is None and dist.n_partitions == 5
    local = Objective(net, X, T, alpha=0.2, beta=3.0)
    E, g = dist(w)
    E0, g0 = local(w)
    assert abs(E - E0) <= 1e-12 * abs(E0) and relative_error(g, g0) < 1e-12
    assert relative_error(dist.hessian(w), local.hessian(w)) < 1e-12


def test_partitions_must_line_up():
    net, X, T, _ = problem()
    with pytest.raises(ValueError, match=r"partition 0 holds 50 rows of X and 60 of T"):
        DistributedObjective(net, da.from_array(X, chunks=(50, -1)),
                             da.from_array(T, chunks=(60, -1)))
    with pytest.raises(ValueError, match=r"partition 1 holds 100 rows of X and 80 of T"):
        DistributedObjective(net, da.from_array(X, chunks=((100, 100, 30), -1)),
                             da.from_array(T, chunks=((100, 80, 50), -1)))


@pytest.mark.parametrize("X, T, message", [
    (lambda X, T: X, lambda X, T: da.from_array(T), "X must be a dask array"),
    (lambda X, T: da.from_array(X), lambda X, T: da.from_array(T[:, 0]), "T must be 2-D"),
    (lambda X, T: da.from_array(X[:, :3]), lambda X, T: da.from_array(T), "X has 3 columns"),
    (lambda X, T: da.from_array(X), lambda X, T: da.from_array(T[:, :1]), "T has 1 columns"),
    (lambda X, T: da.from_array(X[:200]), lambda X, T: da.from_array(T), "X has 200 patterns"),
])
def test_bad_input_is_refused_before_any_work(X, T, message):
    net, Xn, Tn, _ = problem()
    with pytest.raises(ValueError, match=message):
        DistributedObjective(net, X(Xn, Tn), T(Xn, Tn))
    with pytest.raises(ValueError, match="beta must be"):        # checked as Objective does
        DistributedObjective(net, da.from_array(Xn), da.from_array(Tn), beta=-1.0)


def test_online_training_is_refused():
    net, X, T, w = problem()
    dist = DistributedObjective(net, da.from_array(X, chunks=(100, -1)),
                                da.from_array(T, chunks=(100, -1)))
    with pytest.raises(ValueError, match="batch methods only"):
        dist.minibatch(w, X[:10], T[:10])
    with pytest.raises(ValueError, match="online method"):
        prmlnet.MLPRegressor(method="adam").fit(da.from_array(X), da.from_array(T))


def test_the_hessian_operators_take_it(rng):
    net, X, T, w = problem(N=120, sizes=(2, 3, 1))
    dist = DistributedObjective(net, da.from_array(X, chunks=(40, -1)), da.from_array(T[:, :1],
                                chunks=(40, -1)), alpha=0.5)
    H = Objective(net, X, T[:, :1], alpha=0.5).hessian(w)
    v = rng.standard_normal(net.n_weights)
    assert relative_error(hessian.linear_operator(dist, w) @ v, H @ v) < 1e-12
    lam = np.linalg.eigvalsh(H)
    ends = hessian.extreme_eigenvalues(dist, w, k=1, rng=0)
    assert ends.smallest[0] == pytest.approx(lam[0], rel=1e-8)
    assert ends.largest[0] == pytest.approx(lam[-1], rel=1e-8)


def test_early_stopping_on_dask_arrays_keeps_the_same_weights():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((150, 2))
    y = np.sin(2 * X[:, 0]) + 0.3 * rng.standard_normal(150)
    kw = dict(hidden_layer_sizes=(6,), method="lbfgs", max_iter=40, early_stopping=True,
              n_iter_no_change=3, alpha=1e-4, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = prmlnet.MLPRegressor(**kw).fit(X, y)
        b = prmlnet.MLPRegressor(**kw).fit(da.from_array(X, chunks=(40, -1)),
                                           da.from_array(y, chunks=40))
    assert b.n_iter_ == a.n_iter_ and b.result_["best_iter"] == a.result_["best_iter"]
    assert relative_error(b.w_, a.w_) < 1e-9
    assert np.allclose(b.validation_errors_, a.validation_errors_, rtol=1e-11)


def test_a_dask_dataframe_is_taken_with_its_column_names():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    net, X, T, w = problem(N=90, sizes=(2, 3, 1))
    frame = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "t": T[:, 0]})
    ddf = dd.from_pandas(frame, npartitions=3)
    dist = DistributedObjective(net, ddf[["x1", "x2"]], ddf["t"])
    E0, g0 = Objective(net, X[:, :2], T[:, :1])(w)
    E, g = dist(w)
    assert abs(E - E0) <= 1e-12 * E0 and relative_error(g, g0) < 1e-12
    est = prmlnet.MLPRegressor((3,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(ddf[["x1", "x2"]], ddf["t"])
    assert list(est.feature_names_in_) == ["x1", "x2"]


def test_the_module_examples_run():
    result = doctest.testmod(distributed, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

