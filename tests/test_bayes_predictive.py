"""Class probabilities under the Gaussian of the output activations (PRML §5.7.3):
the probit, pairwise and Monte Carlo predictives against Gauss–Hermite quadrature of
the same integral, their invariance to the shift the softmax ignores, and the
network's predictive against samples of the linearised posterior."""

import itertools

import numpy as np
import pytest
from scipy import special

import prmlnet
from prmlnet import BayesianMLPClassifier, bayes
from prmlnet.bayes import class_probabilities, kappa
from prmlnet.testing import central_differences, relative_error

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(30)      # ∫ f(x) N(x | 0, 1) dx
WEIGHTS = WEIGHTS / WEIGHTS.sum()


def quadrature(mu, S):
    """E[softmax(a)], a ~ N(mu, S), by a product Gauss–Hermite rule (K = len(mu) <= 3)."""
    K = mu.size
    lam, Q = np.linalg.eigh(S)
    R = Q * np.sqrt(np.maximum(lam, 0.0))
    grid = np.array(list(itertools.product(range(NODES.size), repeat=K)))
    w = np.prod(WEIGHTS[grid], axis=1)
    return w @ special.softmax(mu + NODES[grid] @ R.T, axis=1)


def gaussian_cases(rng, n, K=3, scale=1.0):
    mu = rng.normal(0.0, 3.0, (n, K))
    M = rng.normal(size=(n, K, K)) * scale
    return mu, M @ np.swapaxes(M, 1, 2)


def test_monte_carlo_predictive_converges_to_the_integral(rng):
    mu, S = gaussian_cases(rng, 6)
    n = 100_000
    p = class_probabilities("softmax", mu, S, "mc", n_samples=n, rng=3)
    exact = np.array([quadrature(m, s) for m, s in zip(mu, S)])
    assert np.max(np.abs(p - exact)) < 5 * 0.5 / np.sqrt(n)      # 5 standard errors at most
    assert np.allclose(p.sum(axis=1), 1.0)
    # logistic outputs: each sigmoid averaged over its own variance (1-D quadrature)
    a, s2 = mu[:, :2], np.abs(mu[:, 2:]) + 0.5 * np.abs(mu[:, :2])
    q = class_probabilities("logistic", a, s2, "mc", n_samples=n, rng=3)
    exact = np.array([[WEIGHTS @ special.expit(m + np.sqrt(v) * NODES) for m, v in zip(r, t)]
                      for r, t in zip(a, s2)])
    assert np.max(np.abs(q - exact)) < 5 * 0.5 / np.sqrt(n)


def test_pairwise_probit_is_the_book_probit_for_two_classes(rng):         # (5.190)
    mu, S = gaussian_cases(rng, 20, K=2)
    p = class_probabilities("softmax", mu, S, "pairwise")
    d = mu[:, 0] - mu[:, 1]
    v = S[:, 0, 0] + S[:, 1, 1] - 2 * S[:, 0, 1]                  # Var(a_1 - a_2)
    assert relative_error(p[:, 0], special.expit(kappa(v) * d)) < 1e-12
    assert relative_error(p[:, 1], special.expit(-kappa(v) * d)) < 1e-12


def test_pairwise_is_the_closer_approximation_to_the_integral(rng):
    mu, S = gaussian_cases(rng, 40)
    exact = np.array([quadrature(m, s) for m, s in zip(mu, S)])
    err = {m: np.mean(np.max(np.abs(class_probabilities("softmax", mu, S, m) - exact), axis=1))
           for m in ("probit", "pairwise")}
    assert err["pairwise"] < 0.04 and err["pairwise"] < 0.7 * err["probit"]


def test_predictives_ignore_the_shift_the_softmax_ignores(rng):
    """a + ζ1, with ζ Gaussian and correlated with a, has the same softmax: the
    probabilities must not move. Each class's variance alone (the heuristic as it was)
    does move with the variance of ζ."""
    K, n = 4, 10
    M = rng.normal(size=(n, K + 1, K + 1))
    J = M @ np.swapaxes(M, 1, 2)                    # the joint covariance of (a, ζ)
    mu = rng.normal(0.0, 2.0, (n, K))
    S = J[:, :K, :K]
    v, s = J[:, :K, K], J[:, K, K]
    S2 = S + v[:, :, None] + v[:, None, :] + s[:, None, None]    # Cov(a + ζ1)
    mu2 = mu + rng.normal(0.0, 5.0, (n, 1))
    for method in ("probit", "pairwise"):
        p = class_probabilities("softmax", mu, S, method)
        assert relative_error(class_probabilities("softmax", mu2, S2, method), p) < 1e-12
    a = 3 * class_probabilities("softmax", mu, S, "mc", n_samples=50_000, rng=1)
    b = 3 * class_probabilities("softmax", mu2, S2, "mc", n_samples=50_000, rng=1)
    assert np.max(np.abs(a - b)) / 3 < 10 * 0.5 / np.sqrt(50_000)
    old = special.softmax(kappa(np.diagonal(S, 0, 1, 2)) * mu, axis=1)
    old2 = special.softmax(kappa(np.diagonal(S2, 0, 1, 2)) * mu2, axis=1)
    assert np.max(np.abs(old - old2)) > 0.05


def softmax_posterior(rng):
    X = rng.standard_normal((30, 2))
    T = np.eye(3)[np.argmax(X @ rng.standard_normal((2, 3)) + 0.5 * rng.standard_normal((30, 3)),
                            axis=1)]
    net = prmlnet.Network((2, 3, 3), output="softmax")
    w = net.init_weights(rng)
    return net, w, bayes.laplace(net, w, X, T, 0.3)


def test_activation_covariance_and_network_predictive(rng):
    net, w, post = softmax_posterior(rng)
    Xs = rng.standard_normal((5, 2)) * 2
    a, S = post.activation_covariance(Xs)
    Ainv = np.linalg.inv(post.precision)
    for n in range(5):
        B = central_differences(lambda v: net.forward(v, Xs[n:n + 1]).a[-1][0], w)   # (K, W)
        assert relative_error(S[n], B @ Ainv @ B.T) < 1e-8
    assert relative_error(a, net.forward(w, Xs).a[-1]) == 0.0
    # mc: the average of the linearised network's softmax over posterior weight samples
    Bs = net.output_gradients(w, Xs, wrt="a")                                          # (5, K, W)
    draws = post.sample(40_000, rng=2) - w
    lin = special.softmax(a[None] + np.einsum("nkw,sw->snk", Bs, draws), axis=2).mean(axis=0)
    p = post.predict_proba(Xs, method="mc", n_samples=40_000)
    assert np.max(np.abs(p - lin)) < 10 * 0.5 / np.sqrt(40_000)
    for method in bayes.PREDICTIVES:
        q = post.predict_proba(Xs, method=method)
        assert np.allclose(q.sum(axis=1), 1.0)
        log_p, log_q = post.predict_log_proba(Xs, method=method)
        assert log_q is None and relative_error(np.exp(log_p), q) < 1e-12


def test_monte_carlo_predictive_is_the_same_for_each_input_alone(rng):
    net, w, post = softmax_posterior(rng)
    Xs = rng.standard_normal((7, 2))
    p = post.predict_proba(Xs, method="mc")
    assert np.array_equal(p, post.predict_proba(Xs, method="mc"))
    assert relative_error(post.predict_proba(Xs[4:6], method="mc"), p[4:6]) < 1e-14


def test_classifier_takes_the_predictive(rng):
    X, t = prmlnet.datasets.two_class(60, rng)
    y = np.where(X[:, 0] + 0.3 * rng.standard_normal(60) > 0, "b", np.where(X[:, 1] > 0, "a", "c"))
    for method in bayes.PREDICTIVES:
        clf = BayesianMLPClassifier(hidden_layer_sizes=(3,), alpha=0.1, n_outer=2, max_iter=100,
                                    predictive=method, random_state=0).fit(X, y)
        p = clf.predict_proba(X[:9])
        expect = clf.posterior_.predict_proba(X[:9], method=method)
        assert relative_error(p, expect) < 1e-12
        assert relative_error(np.exp(clf.predict_log_proba(X[:9])), p) < 1e-12
    with pytest.raises(ValueError, match="predictive must be one of"):
        BayesianMLPClassifier(predictive="laplace").fit(X, y)
    with pytest.raises(ValueError, match="method must be one of"):
        clf.posterior_.predict_proba(X, method="probits")
