"""The estimators' invariance parameters: tangent propagation, Tikhonov, transformed data."""

import numpy as np
import pytest
from sklearn.base import clone

from prmlnet import MLPClassifier, MLPRegressor
from prmlnet.datasets import digits
from prmlnet.estimators import load
from prmlnet.invariance import (InputNoise, TangentPropagation, image_tangents, tangent_penalty,
                                tikhonov_penalty)
from prmlnet.objective import Objective

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def few_digits():
    X, y = digits()
    return X[:120], y[:120]


def fit(X, y, **kw):
    base = dict(hidden_layer_sizes=(8,), alpha=0.1, max_iter=25, random_state=0,
                image_shape=(8, 8))
    return MLPClassifier(**{**base, **kw}).fit(X, y)


def test_tangent_prop_is_the_objective_term_and_lowers_omega(few_digits):
    X, y = few_digits
    plain = fit(X, y)
    tp = fit(X, y, invariances=("translate", "rotate"), tangent_prop=30.0)
    tau = image_tangents(X, (8, 8), ["translate_x", "translate_y", "rotate"])
    omega = [tangent_penalty(c.net_, c.w_, X, tau)[0] for c in (plain, tp)]
    assert omega[1] < 0.5 * omega[0]
    T = np.eye(10)[y]
    obj = Objective(tp.net_, X, T, alpha=0.1, terms=[TangentPropagation(tp.net_, tau, 30.0)])
    assert tp.loss_ == pytest.approx(obj.error(tp.w_), rel=1e-12)


def test_tangents_follow_the_standardisation(few_digits):
    X, y = few_digits
    clf = fit(X, y, invariances=("scale",), tangent_prop=3.0, standardize=True)
    Xs = (X - clf.x_mean_) / clf.x_scale_
    tau = image_tangents(X, (8, 8), ["scale"]) / clf.x_scale_           # the chain rule
    obj = Objective(clf.net_, Xs, np.eye(10)[y], alpha=0.1,
                    terms=[TangentPropagation(clf.net_, tau, 3.0)])
    assert clf.loss_ == pytest.approx(obj.error(clf.w_), rel=1e-12)


@pytest.mark.parametrize("method", ["scg", "adam"])
def test_the_same_seed_gives_the_same_augmented_run(method, few_digits):
    X, y = few_digits
    kw = dict(method=method, augment=("affine", "noise"), n_augment=2, tangent_prop=1.0,
              invariances=("translate_x",), learning_rate=0.01,
              max_iter=3 if method == "adam" else 10)
    a, b, c = fit(X, y, **kw), fit(X, y, **kw), fit(X, y, random_state=1, **kw)
    assert np.array_equal(a.w_, b.w_) and not np.allclose(a.w_, c.w_)
    p = fit(X, y, method=method, learning_rate=0.01, max_iter=kw["max_iter"])
    assert not np.allclose(a.w_, p.w_)                                 # augmentation mattered


def test_partial_fit_transforms_every_batch_and_passes_rows(few_digits):
    X, y = few_digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), method="sgd", learning_rate=0.01,
                        random_state=0, image_shape=(8, 8), invariances=("rotate",),
                        tangent_prop=1.0, augment="elastic")
    clf.partial_fit(X, y, classes=np.arange(10)).partial_fit(X, y)
    assert clf.n_iter_ == 2 and np.all(np.isfinite(clf.w_))


def test_a_callable_augmentation_and_tikhonov_for_a_regressor(rng):
    X = rng.standard_normal((40, 2))
    t = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(40)
    smooth = MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, random_state=0,
                          tikhonov=1.0, augment=InputNoise(0.2), n_augment=2).fit(X, t)
    rough = MLPRegressor(hidden_layer_sizes=(8,), max_iter=100, random_state=0).fit(X, t)
    omega = [tikhonov_penalty(est.net_, est.w_, X)[0] for est in (smooth, rough)]
    assert omega[0] < omega[1]
    assert clone(smooth).get_params()["augment"] == InputNoise(0.2)


def test_model_files_keep_the_invariance_parameters(few_digits, tmp_path):
    X, y = few_digits
    clf = fit(X, y, invariances=("translate",), tangent_prop=1.0, augment="affine", n_augment=1)
    path = tmp_path / "digits.model.npz"
    clf.save(path)
    back = load(path)
    assert back.get_params() == clf.get_params()
    assert np.array_equal(back.predict(X), clf.predict(X))


@pytest.mark.parametrize("params, message", [
    (dict(tangent_prop=1.0), "needs the transformations"),
    (dict(tangent_prop=1.0, invariances=("rotate",), image_shape=None), "needs the trans"),
    (dict(invariances=("twist",)), "unknown transformation"),
    (dict(image_shape=(8, 7)), "holds 56 pixels"),
    (dict(image_shape=(8, -8)), "positive integers"),
    (dict(augment="affine", image_shape=None), "give image_shape"),
    (dict(augment="blur"), "augment must be"),
    (dict(n_augment=0), "n_augment"),
    (dict(tikhonov=-1.0), "tikhonov"),
    (dict(tangent_prop=float("nan")), "tangent_prop"),
])
def test_bad_invariance_parameters_are_refused_before_work(params, message, few_digits):
    X, y = few_digits
    with pytest.raises(ValueError, match=message):
        fit(X, y, **params)


def test_the_command_line_trains_an_invariant_digit_classifier(few_digits, tmp_path, capsys):
    from prmlnet.cli import main
    X, y = few_digits
    csv = tmp_path / "digits.csv"
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    np.savetxt(csv, np.column_stack([X, y]), delimiter=",", header=header, comments="",
               fmt="%.6g")
    out = tmp_path / "digits.model.npz"
    main(["fit", str(csv), "-t", "digit", "--image-shape", "8x8", "--invariance", "translate",
          "--invariance", "rotate", "--tangent-prop", "3", "--augment", "affine",
          "--max-iter", "5", "-q", "-o", str(out)])
    est = load(out)
    assert est.get_params()["image_shape"] == (8, 8)
    assert est.get_params()["invariances"] == ("translate", "rotate")
    assert est.get_params()["augment"] == ("affine",) and est.tangent_prop == 3.0
    for bad, message in [(["--image-shape", "8x7", "--augment", "affine"], "holds 56 pixels"),
                         (["--image-shape", "eight"], "expected HxW"),
                         (["--image-shape", "8x8"], "does nothing here"),
                         (["--bayes", "--tikhonov", "1"], "plain networks only")]:
        with pytest.raises(SystemExit) as e:
            main(["fit", str(csv), "-t", "digit", "--max-iter", "2", "-q", "-o", str(out), *bad])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_dask_arrays_refuse_the_invariance_parameters_before_work(few_digits):
    da = pytest.importorskip("dask.array")
    X, y = few_digits
    with pytest.raises(ValueError, match="do not go with dask arrays"):
        fit(da.from_array(X, chunks=60), da.from_array(y, chunks=60), tikhonov=1.0)
