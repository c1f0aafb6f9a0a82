"""Soft weight sharing in the estimators and on the command line: the same joint
minimum as the library objective, every kind of training, model files, bad input."""

import csv
from types import SimpleNamespace

import numpy as np
import pytest

import prmlnet
from prmlnet import MLPClassifier, MLPRegressor
from prmlnet.cli import main
from prmlnet.objective import Objective
from prmlnet.optim import minimize
from prmlnet.priors import GaussianPrior
from prmlnet.soft_weight_sharing import SharedObjective, SoftWeightSharing

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def sine(rng, N=40):
    X = rng.uniform(-1, 1, (N, 2))
    return X, np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(N)


def test_regressor_trains_the_joint_objective(rng):
    X, y = sine(rng)
    reg = MLPRegressor(hidden_layer_sizes=(4,), alpha=0.05, weight_prior="mixture",
                       n_prior_components=3, method="bfgs", max_iter=300,
                       random_state=0).fit(X, y)
    net = prmlnet.Network((2, 4, 1))
    w0 = net.init_weights(np.random.default_rng(0))
    groups = net.weight_groups()
    biases = np.concatenate([groups["b1"], groups["b2"]])
    start = SoftWeightSharing.initial(w0, 3, indices=np.concatenate([groups["W1"], groups["W2"]]),
                                      lam=0.05)
    joint = SharedObjective(Objective(net, X, y[:, None],
                                      prior=GaussianPrior({"b": biases}, 0.05, net.n_weights)),
                            start)
    T = y[:, None]                     # the estimator's tolerances scale with the targets
    res = minimize(joint, joint.join(w0), "bfgs", max_iter=300, gtol=reg._gtol(T),
                   ftol=1e-12 * min(1.0, reg._error_scale(T)))
    w, mix = joint.split(res.x)
    assert np.array_equal(reg.w_, w)
    assert np.array_equal(reg.mixture_.theta, mix.theta) and reg.mixture_.lam == 0.05
    assert reg.loss_ == pytest.approx(joint(joint.join(w, mix))[0], rel=1e-12)
    assert reg.mixture_.indices.size == 12 and reg.mixture_.n_components == 3


@pytest.mark.parametrize("kwargs", [dict(method="scg"), dict(method="adam", learning_rate=0.02),
                                    dict(method="lbfgs", early_stopping=True)])
def test_every_kind_of_training_moves_the_mixture(kwargs, rng):
    X, y = sine(rng)
    reg = MLPRegressor(hidden_layer_sizes=(5,), weight_prior="mixture", max_iter=150,
                       random_state=1, **kwargs).fit(X, y)
    start = SoftWeightSharing.initial(reg.net_.init_weights(np.random.default_rng(1)), 3)
    assert not np.allclose(reg.mixture_.mu, start.mu)
    assert reg.score(X, y) > 0.8


def test_partial_fit_continues_the_mixture(rng):
    X, y = sine(rng)
    reg = MLPRegressor(hidden_layer_sizes=(4,), weight_prior="mixture", method="sgd",
                       learning_rate=0.01, random_state=0)
    reg.partial_fit(X, y)
    first = reg.mixture_.theta
    reg.partial_fit(X, y)
    assert reg.mixture_.theta.shape == first.shape and not np.array_equal(reg.mixture_.theta, first)


def test_classifier_model_file_and_pickle_keep_the_mixture(rng, tmp_path):
    import pickle

    X, t = prmlnet.datasets.two_class(60, rng)
    clf = MLPClassifier(hidden_layer_sizes=(4,), weight_prior="mixture", n_prior_components=2,
                        max_iter=100, random_state=0).fit(X, t[:, 0])
    path = clf.save(tmp_path / "m.npz")
    for other in (prmlnet.estimators.load(path), pickle.loads(pickle.dumps(clf))):
        assert np.array_equal(other.mixture_.theta, clf.mixture_.theta)
        assert other.mixture_.lam == clf.mixture_.lam and other.mixture_.s0 == clf.mixture_.s0
        assert np.array_equal(other.predict_proba(X), clf.predict_proba(X))
    gauss = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(X, t[:, 0])
    assert getattr(prmlnet.estimators.load(gauss.save(tmp_path / "g.npz")), "mixture_",
                   None) is None


@pytest.mark.parametrize("params, match", [
    (dict(weight_prior="laplace"), "weight_prior must be"),
    (dict(weight_prior="mixture", n_prior_components=0), "n_prior_components"),
    (dict(weight_prior="mixture", alpha={"W1": 1.0}), "one number"),
    (dict(weight_prior="mixture", method="newton"), "newton")])
def test_bad_settings(params, match, rng):
    X, y = sine(rng, N=10)
    with pytest.raises(ValueError, match=match):
        MLPRegressor(**params).fit(X, y)


@pytest.fixture
def run(capsys):
    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code or 0, stdout=out.out, stderr=out.err)
    return run


def test_command_line_fits_a_mixture_prior(run, tmp_path, rng):
    X, y = sine(rng)
    train = tmp_path / "sine.csv"
    with open(train, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x1", "x2", "y"])
        w.writerows(np.column_stack([X, y]))
    model = tmp_path / "m.npz"
    r = run("fit", train, "-t", "y", "--hidden", "4", "--weight-prior", "mixture",
            "--prior-components", "2", "-o", model)
    assert r.returncode == 0, r.stderr
    assert "weight mixture: π" in r.stderr
    assert prmlnet.estimators.load(model).mixture_.n_components == 2
    for extra, fragment in [(["--bayes"], "--bayes"), (["--method", "newton"], "newton")]:
        r = run("fit", train, "-t", "y", "--weight-prior", "mixture", *extra, "-o", model)
        assert r.returncode != 0 and fragment in r.stderr
