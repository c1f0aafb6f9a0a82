"""ConvNetClassifier: scikit-learn's estimator checks, model files, the image shape."""

import doctest

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import prmlnet
from prmlnet import ConvNetClassifier, datasets

from conftest import weight_equivalence_xfails

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# 1×2 kernels fit every image the checks make (D features read as s×s or 1×D)
ESTIMATORS = [
    ConvNetClassifier("conv:3x1x2-dense:6", max_iter=60, random_state=0),
    # an online method: partial_fit exists, so the partial_fit checks run too
    ConvNetClassifier("conv:3x1x2-dense:6", method="adam", learning_rate=0.03, batch_size=64,
                      max_iter=40, random_state=0),
    # the invariances (§5.5.3-5.5.5) on the images of the inferred shape: tangent
    # propagation, Tikhonov and a fixed augmented set, through max pooling
    ConvNetClassifier("conv:3x1x2-max:1-dense:6", max_iter=30, invariances=("translate_x",),
                      tangent_prop=0.1, tikhonov=0.01, augment=("affine", "noise"), n_augment=1,
                      random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=weight_equivalence_xfails)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_model_file_round_trip_is_bit_exact(tmp_path):
    X, y = datasets.digits()
    clf = ConvNetClassifier("conv:3x3x3-max-dense:8", image_shape=(1, 8, 8), max_iter=15,
                            random_state=0).fit(X[:200], y[:200])
    clf.save(tmp_path / "cnn.npz")
    back = prmlnet.estimators.load(tmp_path / "cnn.npz")
    assert type(back) is ConvNetClassifier and back.get_params() == clf.get_params()
    assert back.net_ == clf.net_ and back.image_shape_ == (1, 8, 8)
    assert np.array_equal(back.predict_proba(X[200:260]), clf.predict_proba(X[200:260]))


def test_soft_weight_sharing_over_the_kernels_saves_and_loads(tmp_path):     # §5.5.7
    X, y = datasets.digits()
    clf = ConvNetClassifier("conv:3x3x3-sub-dense:8", weight_prior="mixture", alpha=0.1,
                            max_iter=10, random_state=0).fit(X[:150], y[:150])
    assert clf.mixture_ is not None
    clf.save(tmp_path / "sws.npz")
    back = prmlnet.estimators.load(tmp_path / "sws.npz")
    assert np.array_equal(back.predict_proba(X[150:180]), clf.predict_proba(X[150:180]))


def test_image_shape_is_checked_against_the_features(rng):
    X, y = rng.random((20, 12)), rng.integers(0, 2, 20)
    with pytest.raises(ValueError, match="holds 16 pixels"):
        ConvNetClassifier(image_shape=(1, 4, 4)).fit(X, y)
    with pytest.raises(ValueError, match="image_shape must be three"):
        ConvNetClassifier(image_shape=(4, 4)).fit(X, y)
    with pytest.raises(ValueError, match="'conv:6' in the layer spec"):
        ConvNetClassifier("conv:6-dense:3").fit(X, y)
    with pytest.raises(ValueError, match="3x3 kernel does not fit"):       # read as 1×12
        ConvNetClassifier("conv:2x3x3").fit(X, y)
    clf = ConvNetClassifier("conv:2x1x3", max_iter=5).fit(X, y)
    assert clf.image_shape_ == (1, 1, 12) and clf.net_.layers[0].out_shape == (2, 1, 10)


def test_tangent_prop_on_the_inferred_images_is_the_objective_term():     # (5.127)
    from prmlnet.invariance import TangentPropagation, Tikhonov, image_tangents
    from prmlnet.objective import Objective

    X, y = datasets.digits()
    X, y = X[:100], y[:100]
    clf = ConvNetClassifier("conv:3x3x3-max-dense:8", alpha=0.1, max_iter=10, random_state=0,
                            invariances=("translate", "rotate"), tangent_prop=2.0,
                            tikhonov=0.05).fit(X, y)
    assert clf.image_shape is None and clf.image_shape_ == (1, 8, 8)
    tau = image_tangents(X, (8, 8), ["translate_x", "translate_y", "rotate"])
    obj = Objective(clf.net_, X, np.eye(10)[y], alpha=0.1,
                    terms=[TangentPropagation(clf.net_, tau, 2.0), Tikhonov(clf.net_, 0.05)])
    assert clf.loss_ == pytest.approx(obj.error(clf.w_), rel=1e-12)


def test_invariance_parameters_save_load_and_are_checked(tmp_path):
    X, y = datasets.digits()
    kw = dict(alpha=0.1, max_iter=8, invariances=("rotate",), tangent_prop=1.0,
              augment="elastic", n_augment=1)
    a = ConvNetClassifier("conv:3x3x3-sub-dense:8", random_state=0, **kw).fit(X[:80], y[:80])
    b = ConvNetClassifier("conv:3x3x3-sub-dense:8", random_state=0, **kw).fit(X[:80], y[:80])
    plain = ConvNetClassifier("conv:3x3x3-sub-dense:8", alpha=0.1, max_iter=8,
                              random_state=0).fit(X[:80], y[:80])
    assert np.array_equal(a.w_, b.w_) and not np.allclose(a.w_, plain.w_)
    a.save(tmp_path / "inv.npz")
    back = prmlnet.estimators.load(tmp_path / "inv.npz")
    assert back.get_params() == a.get_params()
    assert np.array_equal(back.predict_proba(X[80:120]), a.predict_proba(X[80:120]))
    for bad, message in [(dict(tangent_prop=1.0), "needs the transformations"),
                         (dict(augment="blur"), "augment must be"),
                         (dict(invariances=("twist",)), "unknown transformation"),
                         (dict(n_augment=0), "n_augment")]:
        with pytest.raises(ValueError, match=message):
            ConvNetClassifier(**bad).fit(X[:20], y[:20])


@pytest.mark.parametrize("module", ["prmlnet.convolution.spec", "prmlnet.estimators.conv"])
def test_docstring_examples_run(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_command_line_fits_a_convolutional_classifier(tmp_path, capsys):
    from prmlnet.cli import main

    X, y = datasets.digits()
    table = tmp_path / "digits.csv"
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    np.savetxt(table, np.column_stack([X[:120], y[:120]]), delimiter=",", header=header,
               comments="", fmt="%.6g")
    model = tmp_path / "cnn.npz"
    args = ["fit", str(table), "-t", "digit", "--layers", "conv:3x3x3-sub-dense:8",
            "--max-iter", "10", "--no-standardize", "-q", "-o", str(model)]
    main(args + ["--image-shape", "1x8x8", "--invariance", "rotate", "--tangent-prop", "0.5"])
    est = prmlnet.estimators.load(model)
    assert type(est) is ConvNetClassifier and est.get_params()["image_shape"] == (1, 8, 8)
    assert est.tangent_prop == 0.5 and est.invariances == ("rotate",)
    assert est.net_.layers[0].out_shape == (3, 6, 6)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(args + ["--image-shape", "2x8x8"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and "holds 128 pixels" in err
