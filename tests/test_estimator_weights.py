"""fit(sample_weight=): integer weights train as repeated rows do, for every method and
estimator; the held-out error of early stopping is the weighted one."""

import warnings

import numpy as np
import pytest

import prmlnet
from prmlnet import ConvNetClassifier, MDNRegressor, MLPClassifier, MLPRegressor
from prmlnet.objective import Objective

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BATCH = ["gd", "cg", "scg", "bfgs", "lbfgs", "newton"]
ONLINE = ["sgd", "momentum", "adam"]


def data(rng, N=24, D=3):
    X = rng.standard_normal((N, D)) * [1.0, 3.0, 0.5][:D] + 2.0
    t = np.sin(X[:, 0]) + 0.3 * X[:, 1] + 0.1 * rng.standard_normal(N)
    s = rng.integers(0, 4, N)
    s[:2] = [0, 3]
    return X, t, s


def repeated(A, s):
    return np.repeat(A, s, axis=0)


def pair(make, X, y, s):
    """The estimator fitted on weighted rows and on the rows repeated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = make().fit(X, y, sample_weight=s)
        b = make().fit(repeated(X, s), repeated(y, s))
    return a, b


def close(a, b, rtol):
    assert np.max(np.abs(a - b)) <= rtol * max(1.0, np.max(np.abs(b)))


@pytest.mark.parametrize("method", BATCH)
def test_batch_methods_train_weighted_rows_as_repeated_ones(method, rng):
    X, t, s = data(rng)
    kw = {"learning_rate": 2e-3} if method == "gd" else {}
    # a fixed number of iterations (tol = 0): the same path, up to rounding
    make = lambda: MLPRegressor((4,), method=method, max_iter=12, tol=0.0, standardize=True,  # noqa: E731
                                random_state=0, **kw)
    a, b = pair(make, X, t, s)
    assert np.allclose(a.x_mean_, b.x_mean_, rtol=1e-13) and np.allclose(a.y_scale_, b.y_scale_)
    assert a.n_iter_ == b.n_iter_ == 12
    close(a.w_, b.w_, 1e-8)
    assert a.loss_ == pytest.approx(b.loss_, rel=1e-10)
    assert a.training_["sample_weight_sum"] == s.sum()


@pytest.mark.parametrize("method", ONLINE)
def test_online_methods_on_full_batches_train_weighted_rows_as_repeated_ones(method, rng):
    X, y, s = data(rng)
    y = (y > np.median(y)).astype(int)
    make = lambda: MLPClassifier((4,), method=method, learning_rate=0.01, batch_size=1000,  # noqa: E731
                                 max_iter=15, tol=0.0, standardize=True, random_state=0)
    a, b = pair(make, X, y, s)
    close(a.w_, b.w_, 1e-10)
    assert np.allclose(a.loss_curve_, b.loss_curve_, rtol=1e-11)
    # partial_fit continues with its weights the same way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.partial_fit(X, y, sample_weight=s)
        b.partial_fit(repeated(X, s), repeated(y, s))
    close(a.w_, b.w_, 1e-10)


def test_softmax_classifier_mixture_prior_and_tikhonov_weigh_alike(rng):
    X, t, s = data(rng, N=30)
    y = np.digitize(t, np.quantile(t, [0.33, 0.66]))
    for kw in ({}, {"weight_prior": "mixture", "n_prior_components": 2},
               {"tikhonov": 0.05}):
        make = lambda: MLPClassifier((3,), method="bfgs", max_iter=10, tol=0.0,  # noqa: E731
                                     standardize=True, random_state=1, **kw)
        a, b = pair(make, X, y, s)
        close(a.w_, b.w_, 1e-8)
        close(a.predict_proba(X), b.predict_proba(X), 1e-8)


def test_mdn_weighs_its_start_and_its_error(rng):
    X, t, s = data(rng)
    make = lambda: MDNRegressor(n_components=1, hidden_layer_sizes=(3,), method="bfgs",  # noqa: E731
                                max_iter=10, tol=0.0, standardize=True, random_state=0)
    a, b = pair(make, X, t, s)
    assert a.t_scale_ == pytest.approx(b.t_scale_, rel=1e-13)
    close(a.w_, b.w_, 1e-8)


def test_conv_net_weighs_its_patterns(rng):
    X = rng.random((20, 16))
    y = (X[:, :8].sum(axis=1) > X[:, 8:].sum(axis=1)).astype(int)
    s = rng.integers(0, 3, 20)
    make = lambda: ConvNetClassifier("conv:2x2x2-dense:3", max_iter=8, tol=0.0,  # noqa: E731
                                     method="lbfgs", random_state=0)
    a, b = pair(make, X, y, s)
    close(a.w_, b.w_, 1e-8)


def test_the_held_out_error_is_weighted(rng):
    from prmlnet.estimators import _training
    X, t, s = data(rng, N=40)
    reg = MLPRegressor((3,), early_stopping=True, validation_fraction=0.25, random_state=0)
    reg._rng_ = np.random.default_rng(7)
    reg.net_ = prmlnet.Network((3, 3, 1))
    T = t[:, None]
    Xt, Tt, st, cb, stopper = _training.with_early_stopping(reg, X, T, s.astype(float), None)
    train, val = _training.validation_split(
        type("E", (), {"validation_fraction": 0.25, "_rng_": np.random.default_rng(7)})(), T)
    assert np.array_equal(Xt, X[train]) and np.array_equal(st, s[train])
    w = reg.net_.init_weights(0)
    E_n = 0.5 * (reg.net_.predict(w, X[val])[:, 0] - t[val]) ** 2      # per-pattern errors
    assert stopper.validation_error(w) == pytest.approx(np.sum(s[val] * E_n), rel=1e-12)


@pytest.mark.parametrize("bad, message", [
    (np.ones(5), "shape"), (-np.ones(24), "(?i)negative"),
    (np.zeros(24), "non-zero"), (np.full(24, np.inf), "infinity"),
])
def test_bad_sample_weight_is_refused(bad, message, rng):
    X, t, _ = data(rng)
    with pytest.raises(ValueError, match=message):
        MLPRegressor(max_iter=5).fit(X, t, sample_weight=bad)


def test_a_classifier_refuses_weights_that_leave_one_class(rng):
    X, t, _ = data(rng)
    y = (t > 0).astype(int)
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier(max_iter=5).fit(X, y, sample_weight=y.astype(float))


def test_the_caller_weights_are_not_modified(rng):
    X, t, s = data(rng)
    s = s.astype(float)
    kept = s.copy()
    MLPRegressor((3,), max_iter=5, early_stopping=True, random_state=0).fit(X, t, sample_weight=s)
    assert np.array_equal(s, kept)


def test_objective_and_estimator_agree_on_the_weighted_loss(rng):
    X, t, s = data(rng)
    reg = MLPRegressor((3,), max_iter=20, random_state=0).fit(X, t, sample_weight=s)
    obj = Objective(reg.net_, X, t[:, None], alpha=reg.alpha, sample_weight=s)
    assert reg.loss_ == pytest.approx(obj.error(reg.w_), rel=1e-13)
    assert reg.training_["error_per_pattern"] == pytest.approx(reg.loss_ / s.sum())


def test_dask_arrays_take_weights_as_numpy_does(rng):
    da = pytest.importorskip("dask.array")
    X, t, s = data(rng, N=90)
    kw = dict(hidden_layer_sizes=(4,), method="lbfgs", max_iter=15, tol=0.0,
              early_stopping=True, standardize=True, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MLPRegressor(**kw).fit(X, t, sample_weight=s)
        b = MLPRegressor(**kw).fit(da.from_array(X, chunks=(30, -1)), da.from_array(t, chunks=30),
                                   sample_weight=da.from_array(s.astype(float), chunks=30))
    assert np.allclose(b.x_mean_, a.x_mean_, rtol=1e-12) and np.allclose(b.y_scale_, a.y_scale_)
    close(b.w_, a.w_, 1e-9)
    assert np.allclose(b.validation_errors_, a.validation_errors_, rtol=1e-10)
