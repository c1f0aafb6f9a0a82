"""How the estimators train: warm starts, gd's fixed rate, the loss-plateau stop, the
stratified early-stopping split, partial_fit on train_online, the held-out errors."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import prmlnet
from prmlnet import MLPClassifier, MLPRegressor
from prmlnet.estimators import _training
from prmlnet.objective import Objective
from prmlnet.optim import Status, minimize, online, train_online

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def regression(rng, N=40):
    X = rng.uniform(-1, 1, (N, 2))
    return X, np.sin(2 * X[:, 0]) * X[:, 1] + 0.05 * rng.standard_normal(N)


def classes(rng, N=60, K=3):
    X = rng.standard_normal((N, 2))
    return X, np.digitize(X[:, 0] + 0.5 * X[:, 1], np.linspace(-1, 1, K - 1)) if K > 2 else \
        (X[:, 0] > 0).astype(int)


# -- warm_start ---------------------------------------------------------------------
@pytest.mark.parametrize("method, kw", [("gd", {"learning_rate": 0.01}),
                                        ("sgd", {"learning_rate": 0.01, "batch_size": 1000})])
def test_warm_start_continues_a_memoryless_method_exactly(method, kw, rng):
    # fixed-rate gd and full-batch sgd carry nothing but w: 5 + 5 iterations are 10
    X, t = regression(rng)
    ten = MLPRegressor((4,), method=method, max_iter=10, tol=0.0, random_state=0, **kw).fit(X, t)
    est = MLPRegressor((4,), method=method, max_iter=5, tol=0.0, warm_start=True,
                       random_state=0, **kw)
    est.fit(X, t).fit(X, t)
    assert np.allclose(est.w_, ten.w_, rtol=1e-13, atol=1e-14)
    assert est.n_iter_ == 10 and len(est.loss_curve_) == 10
    assert np.allclose(est.loss_curve_, ten.loss_curve_, rtol=1e-12)


def test_warm_start_starts_from_the_previous_weights_and_off_starts_afresh(rng):
    X, t = regression(rng)
    est = MLPRegressor((4,), method="bfgs", max_iter=30, warm_start=True, random_state=0)
    est.fit(X, t)
    w1, E1 = est.w_.copy(), est.loss_
    est.fit(X, t)
    assert est.result_.history.fun[0] == pytest.approx(E1, rel=1e-13)     # where it left off
    est.set_params(warm_start=False).fit(X, t)
    assert np.array_equal(est.w_, w1) and est.n_iter_ == 30


@pytest.mark.parametrize("change, message", [
    ({"hidden_layer_sizes": (5,)}, "different network"),
    ({"activation": "logistic"}, "different network"),
    ({"standardize": True}, "standardize"),
])
def test_warm_start_refuses_a_different_network(change, message, rng):
    X, t = regression(rng)
    est = MLPRegressor((4,), max_iter=5, warm_start=True, random_state=0).fit(X, t)
    with pytest.raises(ValueError, match=message):
        est.set_params(**change).fit(X, t)


def test_warm_start_refuses_other_classes(rng):
    X, y = classes(rng)
    clf = MLPClassifier((3,), max_iter=5, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="classes of the previous fit"):
        clf.fit(X, np.where(y == 2, 7, y))
    clf.fit(X[::-1], y[::-1])                       # the same classes: it continues


# -- gd: (5.41) with learning_rate, as in minimize ------------------------------------
def test_gd_uses_learning_rate_and_equals_minimize(rng):
    X, t = regression(rng)
    fits = {eta: MLPRegressor((4,), method="gd", learning_rate=eta, max_iter=8, tol=0.0,
                              random_state=0).fit(X, t) for eta in (0.005, 1e-9)}
    assert not np.allclose(fits[0.005].w_, fits[1e-9].w_, rtol=1e-6)
    net = fits[0.005].net_
    w0 = net.init_weights(np.random.default_rng(0))
    ref = minimize(Objective(net, X, t[:, None], alpha=0.01), w0, "gd", learning_rate=0.005,
                   max_iter=8, gtol=0.0, ftol=0.0)
    assert np.array_equal(fits[0.005].w_, ref.x)


# -- the loss-plateau stop -------------------------------------------------------------
def test_train_online_stops_on_a_plateau_of_the_epoch_error(rng):
    X, t = regression(rng)
    net = prmlnet.Network((2, 4, 1))
    obj = Objective(net, X, t[:, None], alpha=0.01)
    w0 = net.init_weights(0)
    # any decrease is below a huge tol: the first epoch sets the best, 3 more end the run
    res = train_online(obj.minibatch, w0, X, t[:, None], online.sgd(0.01), batch_size=8,
                       n_epochs=50, rng=0, tol=1e9, n_iter_no_change=3)
    assert res.status is Status.CONVERGED and res.success and res.nit == 4
    assert "tol" in res.message
    # with tol = 0 a run whose error falls every epoch never stops on the plateau test
    res = train_online(obj.minibatch, w0, X, t[:, None], online.sgd(1e-4), batch_size=40,
                       n_epochs=20, rng=0, tol=0.0, n_iter_no_change=2)
    assert np.all(np.diff(res.history.fun) < 0)
    assert res.status is Status.MAX_ITER and res.nit == 20


def test_adam_stops_when_its_loss_stops_falling_and_says_nothing(rng):
    X, y = classes(rng, N=80)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier((5,), method="adam", learning_rate=0.05, tol=1e-3, max_iter=500,
                            random_state=0).fit(X, y)
    assert clf.result_.status is Status.CONVERGED and clf.n_iter_ < 500
    E = np.array(clf.loss_curve_) / 80                 # per pattern, the units of tol
    n = len(E)
    # what stopped it: each of the last n_iter_no_change epochs no lower than the best
    # before it by more than tol, and the epoch before them lower by more
    assert all(E[j] > E[:j].min() - 1e-3 for j in range(n - clf.n_iter_no_change, n))
    j = n - clf.n_iter_no_change - 1
    assert j == 0 or E[j] <= E[:j].min() - 1e-3


def test_online_history_is_the_batch_methods_history(rng):
    X, t = regression(rng)
    reg = MLPRegressor((3,), method="momentum", learning_rate=0.01, max_iter=6, tol=0.0,
                       random_state=0).fit(X, t)
    h = reg.result_.history
    assert isinstance(h, prmlnet.optim.History) and len(h.fun) == 7
    assert np.array_equal(h.nfev, np.arange(7.0)) and reg.result_.nfev == 6 * 2
    assert reg.result_.method == "online-momentum" and reg.result_.status is Status.MAX_ITER


# -- early stopping: a stratified split ---------------------------------------------------
def test_the_early_stopping_split_is_stratified(rng):
    X, y = classes(rng, N=90)
    clf = MLPClassifier(early_stopping=True, validation_fraction=0.2)
    clf.classes_, clf._label_kind = np.unique(y), "multiclass"
    clf._rng_ = np.random.default_rng(0)
    T = np.eye(3)[y]
    train, val = _training.validation_split(clf, T)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(90))
    for k in range(3):
        n = np.sum(y == k)
        assert np.sum(y[val] == k) == max(1, round(0.2 * n))


def test_a_class_too_small_to_split_is_refused(rng):
    X, y = classes(rng, N=30)
    y[0] = 9                                         # one sample of class 9
    with pytest.raises(ValueError, match="class 9 has only 1 sample"):
        MLPClassifier(early_stopping=True, max_iter=5).fit(X, y)


def test_validation_errors_are_errors_and_are_cleared_by_a_refit(rng):
    X, t = regression(rng, N=60)
    reg = MLPRegressor((8,), early_stopping=True, max_iter=300, random_state=0).fit(X, t)
    v = reg.validation_errors_
    assert len(v) == reg.n_iter_ and reg.best_validation_error_ == min(v)
    assert v[reg.result_.best_iter - 1] == min(v)                    # lower is better
    assert not hasattr(reg, "validation_scores_")
    reg.set_params(early_stopping=False).fit(X, t)
    assert reg.validation_errors_ is None and reg.best_validation_error_ is None


# -- partial_fit ----------------------------------------------------------------------------
def test_partial_fit_carries_the_online_state_as_fit_does(rng):
    # full batches: two partial_fit epochs are fit's two epochs, Adam's moments included
    X, y = classes(rng)
    kw = dict(method="adam", learning_rate=0.05, batch_size=1000, tol=0.0, random_state=0)
    two = MLPClassifier((3,), max_iter=2, **kw).fit(X, y)
    est = MLPClassifier((3,), **kw)
    est.partial_fit(X, y, classes=[0, 1, 2]).partial_fit(X, y)
    assert np.allclose(est.w_, two.w_, rtol=1e-14, atol=1e-15)
    assert est.n_iter_ == 2 and est.result_.status is Status.MAX_ITER
    assert est.result_.history.fun.shape == (2,) and np.isnan(est.result_.history.fun[0])
    assert est.result_.state.step == 2


def test_partial_fit_refusals(rng):
    X, y = classes(rng)
    clf = MLPClassifier((3,), method="sgd", random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[2, 1, 0])                   # the same classes again
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2, 3\] is not the classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="partial_fit does not hold out a validation set"):
        MLPClassifier(method="adam", early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_partial_fit_prints_each_epoch_with_verbose(rng, capsys):
    X, t = regression(rng)
    reg = MLPRegressor((3,), method="sgd", verbose=1, random_state=0)
    reg.partial_fit(X, t).partial_fit(X, t)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in out] == ["epoch 1", "epoch 2"]
    assert float(out[1].split("= ")[1]) == pytest.approx(reg.loss_curve_[1], rel=1e-5)
