"""Small inputs that were silently accepted, cast or misreported, each now a clear ValueError;
and log-probabilities that no longer round to -inf."""

import numpy as np
import pytest
from scipy import special

import prmlnet
from prmlnet import BayesianMLPRegressor, MLPClassifier, MLPRegressor, hessian
from prmlnet.optim import minimize


@pytest.mark.parametrize("sizes", [(2.7, 3, 1), (2, True, 1), (2, "3", 1)])
def test_network_sizes_must_be_integers(sizes):
    with pytest.raises(ValueError, match="sizes must be integers"):
        prmlnet.Network(sizes)
    assert prmlnet.Network((np.int64(2), 3, 1)).sizes == (2, 3, 1)


def test_a_single_softmax_output_is_refused():
    with pytest.raises(ValueError, match="softmax output layer needs at least 2 units"):
        prmlnet.Network((3, 4, 1), output="softmax")


@pytest.mark.parametrize("param, value", [
    ("alpha", True), ("max_iter", True), ("hidden_layer_sizes", True),
    ("hidden_layer_sizes", (True, 3)), ("tol", False), ("batch_size", True),
    ("activation", None), ("activation", 3)])
def test_booleans_and_nonsense_are_refused_naming_the_parameter(param, value):
    X = np.random.default_rng(0).standard_normal((10, 2))
    est = MLPRegressor(**{param: value})
    with pytest.raises(ValueError, match=param if param != "activation" else "activation"):
        est.fit(X, X[:, 0])


def test_evidence_tol_zero_is_reported_as_evidence_tol():
    X = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(ValueError, match="^evidence_tol must be a number > 0"):
        BayesianMLPRegressor(evidence_tol=0).fit(X, X[:, 0])


def test_extreme_eigenvalues_refuses_more_than_w():
    rng = np.random.default_rng(0)
    net = prmlnet.Network((2, 3, 1))                  # W = 13
    X, T = rng.standard_normal((5, 2)), rng.standard_normal((5, 1))
    w = net.init_weights(rng)
    with pytest.raises(ValueError, match="k = 1000 .* W = 13"):
        hessian.extreme_eigenvalues(net, w, X, T, k=1000)
    with pytest.raises(ValueError, match="k must be an integer"):
        hessian.extreme_eigenvalues(net, w, X, T, k=2.5)
    both = hessian.extreme_eigenvalues(net, w, X, T, k=13)     # every eigenvalue, twice
    assert np.allclose(both[0], both[1])


@pytest.mark.parametrize("method", ["gd", "cg", "scg", "bfgs", "lbfgs"])
def test_a_gradient_of_the_wrong_size_is_named(method):
    def fg(w):
        return float(w @ w), np.ones(w.size + 1)

    kw = {"line_search": True} if method == "gd" else {}
    with pytest.raises(ValueError, match=r"gradient of shape \(4,\) for weights of shape \(3,\)"):
        minimize(fg, np.ones(3), method, **kw)


def _saturated(clf, X):
    """Scale the output layer up until the probabilities round to exactly 0 and 1."""
    W_out, b_out = clf.net_.unpack(clf.w_)[-1]
    W_out *= 1e4
    b_out *= 1e4
    p = clf.predict_proba(X)
    assert np.any(p == 0.0)
    return clf.net_.forward(clf.w_, clf._transform(X)).a[-1]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_probabilities_of_saturated_outputs_are_finite_and_exact(n_classes):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = np.digitize(X[:, 0], [-0.4, 0.4][: n_classes - 1])
    clf = MLPClassifier((3,), max_iter=20, random_state=0).fit(X, y)
    a = _saturated(clf, X)
    got = clf.predict_log_proba(X)
    assert np.all(np.isfinite(got))
    if n_classes == 2:        # an independent formula: ln σ(a) = a - ln(1 + e^a), in log1p form
        expected = np.hstack([-(np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))),
                              a - (np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a))))])
    else:
        expected = special.log_softmax(a, axis=1)
    assert np.allclose(got, expected, rtol=1e-12, atol=0)
    assert np.allclose(np.exp(got), clf.predict_proba(X), rtol=0, atol=1e-15)


def test_the_bayesian_classifier_logs_its_moderated_probabilities():
    from prmlnet import BayesianMLPClassifier
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2))
    clf = BayesianMLPClassifier((2,), n_outer=2, max_iter=30, random_state=0).fit(X, X[:, 0] > 0)
    for moderated in (True, False):
        p = clf.predict_proba(X, moderated=moderated)
        assert np.allclose(np.exp(clf.predict_log_proba(X, moderated=moderated)), p,
                           rtol=1e-12, atol=1e-15)
