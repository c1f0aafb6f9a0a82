"""Fits do not depend on the units of the data, and no fit that stalled is called converged.

The oracle is the invariance itself: with ``standardize=True`` a regression on
inputs multiplied by 1e-13 or near 1e308, or on targets multiplied by 1e±12 or
offset by 1e6, is the same standardised problem as the plain one, so its
predictions are the plain ones mapped back — up to rounding.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from prmlnet import MDNRegressor, MLPRegressor
from prmlnet.estimators._base import column_scales
from prmlnet.optim import Status, minimize


def data(seed=0, N=60):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (N, 2))
    return X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2


def fit(cls, X, y, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = cls(hidden_layer_sizes=(4,), random_state=0, **kw).fit(X, y)
    return est, [w for w in caught if issubclass(w.category, (ConvergenceWarning, UserWarning))]


@pytest.mark.parametrize("x_scale, y_scale, y_shift", [
    (1e-13, 1.0, 0.0), (1e307, 1.0, 0.0), (1.0, 1e12, 0.0), (1.0, 1e-12, 0.0), (1.0, 1.0, 1e6)])
def test_a_standardised_regression_does_not_depend_on_the_units(x_scale, y_scale, y_shift):
    X, y = data()
    base, _ = fit(MLPRegressor, X, y, standardize=True, max_iter=25)
    est, _ = fit(MLPRegressor, X * x_scale, y * y_scale + y_shift, standardize=True, max_iter=25)
    got = (est.predict(X * x_scale) - y_shift) / y_scale
    assert np.allclose(got, base.predict(X), rtol=0, atol=1e-6)
    assert est.score(X * x_scale, y * y_scale + y_shift) == pytest.approx(base.score(X, y),
                                                                          abs=1e-6)
    assert est.training_["status"] == base.training_["status"]
    assert base.score(X, y) > 0.9                               # it did learn something


@pytest.mark.parametrize("y_scale", [1e-5, 1e5])
def test_a_standardised_mdn_does_not_depend_on_the_units(y_scale):
    X, y = data()
    base, _ = fit(MDNRegressor, X, y, n_components=2, standardize=True, max_iter=25)
    est, _ = fit(MDNRegressor, X, y * y_scale, n_components=2, standardize=True, max_iter=25)
    # ln p(c t | x) = ln p(t | x) - ln c for a density in one target dimension
    assert np.allclose(est.log_likelihood(X, y * y_scale),
                       base.log_likelihood(X, y) - np.log(y_scale), rtol=0, atol=1e-6)


def test_a_constant_column_is_judged_relative_to_its_magnitude():
    rng = np.random.default_rng(1)
    A = np.column_stack([np.full(50, 7.3), 1e-13 * rng.standard_normal(50),
                         1e13 * rng.standard_normal(50), np.zeros(50),
                         1e307 * rng.uniform(0.5, 1.5, 50)])
    mean, scale = column_scales(A)
    assert scale[0] == 1.0 and scale[3] == 1.0                 # constants: centred only
    assert np.allclose(scale[1:3], A[:, 1:3].std(axis=0), rtol=1e-12)
    assert np.isfinite(scale[4]) and scale[4] == pytest.approx(
        1e307 * (A[:, 4] / 1e307).std(), rel=1e-12)            # no overflow in the squares
    assert np.allclose(mean[:4], A[:, :4].mean(axis=0), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("method", ["scg", "bfgs", "cg"])
@pytest.mark.parametrize("y_scale, y_shift", [(1e12, 0.0), (1.0, 1e6)])
def test_a_stalled_fit_on_unscaled_targets_is_not_reported_as_converged(method, y_scale,
                                                                        y_shift):
    X, y = data()
    est, caught = fit(MLPRegressor, X, y * y_scale + y_shift, method=method, max_iter=400)
    assert est.score(X, y * y_scale + y_shift) < 0.9           # it learned little ...
    messages = [str(w.message) for w in caught]
    assert any("set standardize=True" in m for m in messages), messages   # ... and says why
    if est.training_["status"] == Status.STALLED.name:
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    # the standardised fit of the same data learns it
    good, _ = fit(MLPRegressor, X, y * y_scale + y_shift, method=method, max_iter=400,
                  standardize=True)
    assert good.score(X, y * y_scale + y_shift) > 0.99


def test_every_ending_that_is_not_a_convergence_warns():
    X, y = data()
    cases = [dict(max_iter=2),                                    # MAX_ITER
             dict(alpha=1e300),                                   # NONFINITE (scg overflows)
             dict(alpha=1e300, method="cg"),                      # STALLED
             dict(alpha=1e300, method="sgd")]                     # NONFINITE (online)
    seen = set()
    for kw in cases:
        est, caught = fit(MLPRegressor, X, y, **kw)
        status = est.training_["status"]
        seen.add(status)
        assert status != Status.CONVERGED.name
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught), (kw, status)
    assert seen == {"MAX_ITER", "NONFINITE", "STALLED"}


def test_an_mdn_on_targets_of_tiny_spread_trains_past_its_first_step():
    X, y = data()
    est, caught = fit(MDNRegressor, X, 1e-5 * y, n_components=2, max_iter=30)
    assert est.n_iter_ > 1
    assert est.training_["status"] == Status.CONVERGED.name or caught


def test_the_optimizer_calls_a_relative_stall_with_a_large_gradient_stalled():
    # E = 1e30 + ½‖w‖²: every step lowers E by a relative 1e-30, far below ftol,
    # while the gradient is still of order 1
    def fg(w):
        return 1e30 + 0.5 * w @ w, w.copy()

    res = minimize(fg, np.ones(3), "bfgs", gtol=1e-8)
    assert res.status is Status.STALLED and not res.success
    assert "stopped decreasing" in res.message
    # an error that falls to ~0 from its start still converges on the relative decrease
    res = minimize(lambda w: (0.5 * w @ w, w.copy()), np.ones(3), "gd", line_search=True,
                   gtol=0.0, ftol=1e-12, max_iter=100)
    assert res.status is Status.CONVERGED
