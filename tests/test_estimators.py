"""MLPRegressor and MLPClassifier: conventions, output models, pipelines, files, no lost work."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import prmlnet
from prmlnet import MLPClassifier, MLPRegressor
from prmlnet.estimators import load
from prmlnet.optim import Status

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def blobs(rng, n=60, k=3, d=2):
    centres = 3.0 * rng.standard_normal((k, d))
    y = np.arange(n) % k
    return centres[y] + 0.5 * rng.standard_normal((n, d)), y


def smooth(rng, n=80):
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2


# -- the book's conventions ---------------------------------------------------------------
def test_no_hidden_layer_regressor_is_ridge_regression_with_alpha_not_divided_by_n(rng):
    # E = ½ Σ_n (wᵀφ_n - t_n)² + (α/2) wᵀw, bias included (5.112): closed form (3.28)-like
    X = rng.standard_normal((40, 3))
    t = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.standard_normal(40)
    alpha = 7.0
    reg = MLPRegressor(hidden_layer_sizes=(), alpha=alpha, method="cg", tol=1e-12,
                       max_iter=500, random_state=0).fit(X, t)
    Phi = np.hstack([X, np.ones((40, 1))])            # weights then bias, as in w
    w_ridge = np.linalg.solve(Phi.T @ Phi + alpha * np.eye(4), Phi.T @ t)
    assert np.max(np.abs(reg.w_ - w_ridge)) < 1e-8
    # loss_ is the summed error plus (α/2)wᵀw — not a mean
    r = Phi @ reg.w_ - t
    assert reg.loss_ == pytest.approx(0.5 * r @ r + 0.5 * alpha * reg.w_ @ reg.w_, rel=1e-12)


def test_alpha_dict_penalises_only_the_named_groups(rng):
    X = rng.standard_normal((30, 2))
    t = X @ np.array([2.0, -1.0]) + 5.0
    reg = MLPRegressor(hidden_layer_sizes=(), alpha={"W1": 3.0}, method="cg", tol=1e-12,
                       max_iter=500, random_state=0).fit(X, t)
    Phi = np.hstack([X, np.ones((30, 1))])
    w = np.linalg.solve(Phi.T @ Phi + np.diag([3.0, 3.0, 0.0]), Phi.T @ t)
    assert np.max(np.abs(reg.w_ - w)) < 1e-8


def test_trained_weights_are_a_stationary_point_of_the_documented_objective(rng):
    X, y = blobs(rng)
    clf = MLPClassifier(hidden_layer_sizes=(4,), alpha=0.5, method="bfgs", tol=1e-9,
                        max_iter=2000, random_state=1).fit(X, y)
    net, w = clf.net_, clf.w_
    T = np.eye(3)[y]
    grad = net.gradient(w, X, T) + 0.5 * w       # ∇(E_D + α/2 wᵀw), α on every weight
    assert np.max(np.abs(grad)) < 1e-4
    # ... and not of the objective with α divided by the number of samples
    assert np.max(np.abs(net.gradient(w, X, T) + 0.5 / len(X) * w)) > 1e-2
    assert clf.loss_ == pytest.approx(net.error(w, X, T) + 0.25 * w @ w, rel=1e-12)


def test_standardize_is_off_by_default_and_stored_when_on(rng):
    X, t = smooth(rng)
    X = 100.0 * X + 7.0
    reg = MLPRegressor(max_iter=5, random_state=0).fit(X, t)
    assert reg.x_mean_ is None and reg.x_scale_ is None
    reg = MLPRegressor(max_iter=5, standardize=True, random_state=0).fit(X, t)
    assert np.allclose(reg.x_mean_, X.mean(0)) and np.allclose(reg.x_scale_, X.std(0))
    assert np.allclose(reg.y_mean_, t.mean()) and np.allclose(reg.y_scale_, t.std())
    Z = (X - reg.x_mean_) / reg.x_scale_
    y = reg.net_.predict(reg.w_, Z)[:, 0] * reg.y_scale_[0] + reg.y_mean_[0]
    assert np.array_equal(reg.predict(X), y)


# -- output models from the labels ------------------------------------------------------
def test_two_classes_give_one_logistic_output(rng):
    X, y = blobs(rng, k=2)
    labels = np.array(["no", "yes"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(3,), random_state=0).fit(X, labels)
    assert clf.net_.output.name == "logistic" and clf.net_.n_outputs == 1
    P = clf.predict_proba(X)
    y1 = clf.net_.predict(clf.w_, X)[:, 0]
    assert np.array_equal(P[:, 1], y1) and np.array_equal(P[:, 0], 1.0 - y1)
    assert np.array_equal(clf.predict(X), clf.classes_[(y1 > 0.5).astype(int)])
    assert clf.score(X, labels) > 0.9


def test_more_classes_give_softmax_outputs(rng):
    X, y = blobs(rng, k=4)
    clf = MLPClassifier(hidden_layer_sizes=(5,), random_state=0).fit(X, y + 10)
    assert clf.net_.output.name == "softmax" and clf.net_.n_outputs == 4
    P = clf.predict_proba(X)
    assert np.allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(clf.predict(X), clf.classes_[P.argmax(1)])
    assert np.array_equal(clf.classes_, [10, 11, 12, 13])


def test_label_indicator_matrix_gives_k_logistic_outputs(rng):
    X = rng.standard_normal((50, 3))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0]).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.net_.output.name == "logistic" and clf.net_.n_outputs == 3
    assert clf.predict(X).shape == (50, 3) and clf.predict(X).dtype.kind == "i"
    assert np.array_equal(clf.predict_proba(X), clf.net_.predict(clf.w_, X))
    assert np.mean(clf.predict(X) == Y) > 0.9


def test_a_single_class_is_refused(rng):
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier().fit(rng.standard_normal((5, 2)), ["a"] * 5)


def test_regressor_multi_output(rng):
    X, t = smooth(rng)
    Y = np.column_stack([t, -t])
    reg = MLPRegressor(hidden_layer_sizes=(6,), random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (80, 2) and reg.net_.n_outputs == 2


# -- scikit-learn tools and pandas ---------------------------------------------------------
def test_pipeline_and_grid_search(rng):
    X, y = blobs(rng, n=90)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=50, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [0.01, 1.0],
                                 "mlpclassifier__hidden_layer_sizes": [(3,), (6,)]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ > 0.85
    assert set(search.best_params_) == {"mlpclassifier__alpha",
                                        "mlpclassifier__hidden_layer_sizes"}
    assert search.predict(X).shape == (90,)


def test_pandas_dataframes(rng):
    pd = pytest.importorskip("pandas")
    X, t = smooth(rng)
    df = pd.DataFrame(X, columns=["a", "b"])
    reg = MLPRegressor(max_iter=30, random_state=0).fit(df, pd.Series(t))
    assert list(reg.feature_names_in_) == ["a", "b"]
    reg2 = MLPRegressor(max_iter=30, random_state=0).fit(X, t)
    assert np.array_equal(reg.predict(df), reg2.predict(X))
    clf = MLPClassifier(max_iter=30, random_state=0).fit(df, pd.Series(np.where(t > 0, "p", "n")))
    assert set(clf.predict(df)) <= {"p", "n"}


# -- determinism, files, pickles ------------------------------------------------------------
@pytest.mark.parametrize("method", ["scg", "lbfgs", "adam"])
def test_same_seed_same_data_bit_identical_weights(rng, method):
    X, y = blobs(rng)
    a = MLPClassifier(method=method, max_iter=20, random_state=3).fit(X, y)
    b = MLPClassifier(method=method, max_iter=20, random_state=3).fit(X, y)
    c = MLPClassifier(method=method, max_iter=20, random_state=4).fit(X, y)
    assert np.array_equal(a.w_, b.w_)
    assert not np.array_equal(a.w_, c.w_)


def _fitted(rng):
    X, y = blobs(rng)
    X2, t = smooth(rng)
    Y = (rng.random((40, 3)) < 0.5).astype(int)
    return [
        (MLPClassifier(max_iter=20, random_state=0).fit(X, np.array(["a", "b", "c"])[y]), X),
        (MLPClassifier(max_iter=20, standardize=True, random_state=0).fit(X, y % 2), X),
        (MLPClassifier(max_iter=20, random_state=0).fit(X[:40], Y), X[:40]),
        (MLPRegressor(hidden_layer_sizes=(4, 3), activation=["relu", "tanh"], max_iter=20,
                      random_state=0).fit(X2, np.column_stack([t, t])), X2),
        (MLPRegressor(method="adam", standardize=True, max_iter=5, random_state=0).fit(X2, t), X2),
    ]


def test_save_load_round_trip_predictions_bit_for_bit(tmp_path, rng):
    for i, (est, X) in enumerate(_fitted(rng)):
        path = tmp_path / f"m{i}.npz"
        est.save(path)
        back = load(path)
        assert type(back) is type(est) and back.get_params() == est.get_params()
        assert np.array_equal(back.predict(X), est.predict(X))
        if hasattr(est, "predict_proba"):
            assert np.array_equal(back.predict_proba(X), est.predict_proba(X))
            assert np.array_equal(back.classes_, est.classes_)
        assert back.n_iter_ == est.n_iter_ and back.loss_curve_ == est.loss_curve_
        assert back.training_["n_samples"] == X.shape[0]
        assert type(est).load(path).net_ == est.net_


def test_load_as_the_wrong_class(tmp_path, rng):
    est, _ = _fitted(rng)[0]
    est.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="not a MLPRegressor"):
        MLPRegressor.load(tmp_path / "m.npz")


def test_pickle_round_trip(rng):
    for est, X in _fitted(rng):
        back = pickle.loads(pickle.dumps(est))
        assert np.array_equal(back.predict(X), est.predict(X))


# -- online methods and partial_fit -----------------------------------------------------------
def test_partial_fit_only_for_online_methods(rng):
    assert not hasattr(MLPRegressor(method="scg"), "partial_fit")
    assert hasattr(MLPRegressor(method="sgd"), "partial_fit")


def test_partial_fit_continues_and_lowers_the_error(rng):
    X, y = blobs(rng, n=90)
    clf = MLPClassifier(method="adam", learning_rate=0.02, batch_size=10, random_state=0)
    with pytest.raises(ValueError, match="classes must be given"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    errors = []
    for _ in range(20):
        clf.partial_fit(X, y)
        errors.append(clf.loss_)
    assert clf.n_iter_ == 21 and len(clf.loss_curve_) == 21
    assert errors[-1] < 0.5 * errors[0]
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X[:3], [0, 1, 7])


def test_partial_fit_with_classes_covering_unseen_labels(rng):
    X, y = blobs(rng, k=2)
    clf = MLPClassifier(method="sgd", learning_rate=0.01).partial_fit(X, y, classes=[0, 1, 2])
    assert clf.net_.output.name == "softmax" and clf.predict_proba(X).shape == (60, 3)


# -- early stopping and interrupts ------------------------------------------------------------
def test_early_stopping_keeps_the_best_validation_weights(rng):
    X, t = smooth(rng, n=60)
    t = t + 0.3 * rng.standard_normal(60)
    seen = {}
    reg = MLPRegressor(hidden_layer_sizes=(30,), alpha=0.0, early_stopping=True,
                       n_iter_no_change=5, max_iter=2000, random_state=0)
    reg.fit(X, t, callback=lambda info: seen.__setitem__(info.nit, info.x.copy()))
    assert np.array_equal(reg.w_, seen[reg.result_.best_iter])
    assert reg.result_.status == Status.CALLBACK_STOP
    assert min(reg.validation_errors_) == pytest.approx(
        reg.validation_errors_[reg.result_.best_iter - 1])
    assert len(reg.validation_errors_) == reg.n_iter_ == reg.result_.best_iter + 5


def test_online_early_stopping_and_tol(rng):
    X, t = smooth(rng, n=60)
    t = t + 0.3 * rng.standard_normal(60)
    reg = MLPRegressor(hidden_layer_sizes=(30,), method="adam", learning_rate=0.05, alpha=0.0,
                       early_stopping=True, n_iter_no_change=5, max_iter=3000,
                       random_state=0).fit(X, t)
    assert reg.result_.status == Status.CALLBACK_STOP and reg.n_iter_ < 3000
    v = reg.validation_errors_
    assert min(v) == v[reg.result_.best_iter - 1]
    assert len(v) == reg.n_iter_ == reg.result_.best_iter + 5      # stopped `patience` later
    loose = MLPRegressor(method="sgd", learning_rate=1e-3, tol=1e6, max_iter=50,
                         random_state=0).fit(X, t)
    assert loose.result_.status == Status.CONVERGED and loose.n_iter_ == 1


def test_ctrl_c_keeps_the_best_weights(rng):
    X, y = blobs(rng)
    seen = []

    def interrupt(info):
        seen.append((info.fun, info.x.copy()))
        if info.nit == 8:
            raise KeyboardInterrupt

    clf = MLPClassifier(random_state=0, alpha=0.0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y, callback=interrupt)
    assert clf.result_.status == Status.INTERRUPTED and clf.training_["interrupted"]
    best_E, best_w = min(seen, key=lambda s: s[0])
    assert np.array_equal(clf.w_, best_w)
    assert clf.loss_ == pytest.approx(best_E, rel=1e-12)


# -- bad parameters ---------------------------------------------------------------------------
@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
    ({"activation": "sigmoid"}, "unknown activation"),
    ({"method": "newton-raphson"}, "unknown method"),
    ({"alpha": -1.0}, "alpha"),
    ({"max_iter": 0}, "max_iter"),
    ({"validation_fraction": 1.5}, "validation_fraction"),
    ({"learning_rate": 0.0}, "learning_rate"),
])
def test_bad_parameters_raise_before_any_work(params, match, rng):
    with pytest.raises(ValueError, match=match):
        MLPRegressor(**params).fit(rng.standard_normal((5, 2)), rng.standard_normal(5))


def test_convergence_warning_when_max_iter_is_hit(rng):
    X, t = smooth(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="max_iter"):
            MLPRegressor(max_iter=2, tol=0.0, random_state=0).fit(X, t)


def test_lazy_names_map_to_these_classes():
    assert prmlnet.MLPRegressor is MLPRegressor and prmlnet.MLPClassifier is MLPClassifier
