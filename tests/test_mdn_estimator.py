"""MDNRegressor: scikit-learn's estimator checks, predictions, model files."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from prmlnet import MDNRegressor, datasets
from prmlnet.estimators import load

from conftest import weight_equivalence_xfails

ESTIMATORS = [
    MDNRegressor(n_components=2, hidden_layer_sizes=(6,), max_iter=60, random_state=0),
    MDNRegressor(n_components=2, hidden_layer_sizes=(6,), method="adam", max_iter=30,
                 random_state=0),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=weight_equivalence_xfails)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def fitted_toy():
    X, t = datasets.toy_inverse(400, rng=0)
    mdn = MDNRegressor(n_components=3, hidden_layer_sizes=(5,), standardize=True,
                       max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mdn.fit(X, t.ravel())
    return mdn, X, t


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_predictions_on_the_toy_inverse_problem(fitted_toy):
    mdn, X, t = fitted_toy
    Xq = np.array([[0.2], [0.5], [0.8]])
    mix = mdn.predict_mixture(Xq)
    assert mix.pi.shape == (3, 3) and mix.mu.shape == (3, 3, 1)
    mode, mean = mdn.predict(Xq), mdn.predict_mean(Xq)
    assert mode.shape == mean.shape == (3,)
    assert np.allclose(mean, mix.mean()[:, 0])
    # at x = 0.2 and 0.8 one branch: mode and mean agree within the noise
    assert abs(mode[0] - mean[0]) < 0.05 and abs(mode[2] - mean[2]) < 0.05
    # a grid that covers every component and resolves the narrowest one
    lo, hi = (mix.mu[..., 0] - 12 * mix.sigma).min(), (mix.mu[..., 0] + 12 * mix.sigma).max()
    grid = np.linspace(lo, hi, int((hi - lo) / (mix.sigma.min() / 20)) + 2)
    p = mdn.predict_density(Xq, grid)
    assert np.allclose(np.trapezoid(p, grid, axis=1), 1.0, atol=1e-6)
    seen = p > 1e-300                        # where the density does not underflow
    assert np.allclose(mdn.predict_density(Xq, grid, log=True)[seen], np.log(p[seen]))
    assert np.allclose(mode, grid[np.argmax(p, axis=1)], atol=1e-3)
    assert mdn.predict_variance(Xq).shape == (3,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_score_is_mean_log_likelihood_and_sampling_is_seeded(fitted_toy):
    mdn, X, t = fitted_toy
    ll = mdn.log_likelihood(X, t.ravel())
    assert mdn.score(X, t.ravel()) == pytest.approx(ll.mean(), rel=1e-14)
    # the training objective is the summed negative log-likelihood of the standardised
    # targets, ln p(t') = ln p(t) + K ln s, plus the prior term
    w, s = mdn.w_, mdn.y_scale_[0]
    assert s == pytest.approx(np.std(t), rel=1e-12)
    assert mdn.loss_ == pytest.approx(-(ll + np.log(s)).sum() + 0.5 * mdn.alpha * w @ w,
                                      rel=1e-10)
    s1 = mdn.sample(X[:4], n_samples=3, random_state=7)
    s2 = mdn.sample(X[:4], n_samples=3, random_state=np.random.default_rng(7))
    assert s1.shape == (3, 4) and np.array_equal(s1, s2)
    # the width floor is 1e-3 of the targets' spread: 1e-3 in the standardised units
    assert mdn.net_.output.min_width * s == pytest.approx(1e-3 * np.std(t))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_model_file_round_trip(fitted_toy, tmp_path):
    mdn, X, t = fitted_toy
    path = tmp_path / "mdn.npz"
    mdn.save(path)
    back = load(path)
    assert isinstance(back, MDNRegressor)
    assert back.net_ == mdn.net_
    assert np.array_equal(back.predict(X[:20]), mdn.predict(X[:20]))
    assert back.score(X, t.ravel()) == mdn.score(X, t.ravel())
    assert back.t_scale_ == mdn.t_scale_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_two_dimensional_targets_robot_arm():
    X, T = datasets.robot_arm(300, rng=1)
    mdn = MDNRegressor(n_components=2, hidden_layer_sizes=(8,), standardize=True,
                       max_iter=100, random_state=0).fit(X, T)
    assert mdn.net_.sizes == (2, 8, 2 * 4)
    assert mdn.predict(X[:5]).shape == (5, 2)
    assert mdn.sample(X[:5], 2, random_state=0).shape == (2, 5, 2)
    assert mdn.predict_density(X[:2], T[:7]).shape == (2, 7)
    with pytest.raises(ValueError, match="grid must have shape"):
        mdn.predict_density(X[:2], np.zeros(3))


@pytest.mark.parametrize("params, match", [
    ({"n_components": 0}, "n_components"),
    ({"prediction": "median"}, "prediction"),
    ({"min_width": -1.0}, "min_width"),
])
def test_estimator_bad_parameters_raise_before_work(params, match):
    X, t = datasets.toy_inverse(20, rng=0)
    with pytest.raises(ValueError, match=match):
        MDNRegressor(**params).fit(X, t.ravel())


def test_cli_fit_task_density_writes_an_mdn_model(tmp_path):
    from click.testing import CliRunner

    from prmlnet.cli import cli

    X, t = datasets.toy_inverse(200, rng=0)
    csv = tmp_path / "toy.csv"
    np.savetxt(csv, np.hstack([X, t]), delimiter=",", header="x,t", comments="")
    model = tmp_path / "toy.model.npz"
    r = CliRunner().invoke(cli, ["fit", str(csv), "-t", "t", "--task", "density",
                                 "--components", "3", "--hidden", "5", "--method", "bfgs",
                                 "--max-iter", "50", "-q", "-o", str(model)])
    assert r.exit_code == 0, r.output
    est = load(model)
    assert isinstance(est, MDNRegressor) and est.n_components == 3
    assert est.net_.sizes == (1, 5, 9)
    r = CliRunner().invoke(cli, ["predict", str(model), str(csv)])
    assert r.exit_code == 0, r.output
    pred = np.loadtxt(r.output.splitlines()[1:], delimiter=",")
    assert np.allclose(pred, est.predict(X))
    r = CliRunner().invoke(cli, ["fit", str(csv), "-t", "t", "--task", "density", "--bayes"])
    assert r.exit_code != 0 and "--bayes does not go with --task density" in r.output
