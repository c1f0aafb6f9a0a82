"""The evidence loop (PRML §5.7.2–5.7.3): Chapter 3's fixed point, ARD, classification,
model comparison. Tiny networks and few outer iterations keep it fast."""

import math

import numpy as np
import pytest

import prmlnet
from prmlnet import bayes


def chapter3_fixed_point(Phi, t, alpha=1.0, beta=1.0, n=2000):
    """Iterate (3.92) and (3.95) with the exact posterior mean (3.53) to convergence."""
    N, M = Phi.shape
    lam0 = np.linalg.eigvalsh(Phi.T @ Phi)
    for _ in range(n):
        m = np.linalg.solve(alpha * np.eye(M) + beta * Phi.T @ Phi, beta * Phi.T @ t)   # (3.53)
        gamma = np.sum(beta * lam0 / (alpha + beta * lam0))                          # (3.91)
        alpha, beta = gamma / (m @ m), (N - gamma) / np.sum((t - Phi @ m) ** 2)      # (3.92, 3.95)
    return alpha, beta, gamma, m


def test_linear_network_reaches_the_chapter3_fixed_point(rng):
    N, D = 25, 3
    net = prmlnet.Network((D, 1), output="linear")
    X = rng.standard_normal((N, D))
    T = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 * rng.standard_normal((N, 1))
    Phi = np.hstack([X, np.ones((N, 1))])
    alpha, beta, gamma, m = chapter3_fixed_point(Phi, T[:, 0])
    res = bayes.evidence_loop(net, X, T, alpha=1.0, beta=1.0, n_outer=100, tol=1e-11,
                              method="bfgs", gtol=1e-12, rng=0)
    assert res.converged
    assert res.alpha["w"] == pytest.approx(alpha, rel=1e-7)
    assert res.beta == pytest.approx(beta, rel=1e-7)
    assert res.gamma["w"] == pytest.approx(gamma, rel=1e-7)
    assert np.allclose(res.w, m, rtol=1e-7, atol=1e-9)
    h = res.history
    assert h["alpha"].shape == (len(h["beta"]), 1) and h["groups"] == ["w"]
    assert np.all(np.diff(h["log_evidence"]) > -1e-9)   # Chapter 3's evidence climbs


def sine_ard(rng, N=50):
    """t depends on x1 only; x2 is noise the network should learn to ignore."""
    X = rng.uniform(-1, 1, (N, 2))
    T = np.sin(3 * X[:, :1]) + 0.1 * rng.standard_normal((N, 1))
    return X, T


def test_ard_switches_off_an_irrelevant_input(rng):
    X, T = sine_ard(rng)
    net = prmlnet.Network((2, 3, 1))
    res = bayes.evidence_loop(net, X, T, prior="ard", n_outer=8, max_iter=200, rng=1)
    assert set(res.alpha) == {"x1", "x2", "b1", "W2", "b2"}
    assert res.alpha["x2"] > 100 * res.alpha["x1"]
    for name, idx in res.groups.items():
        assert -1e-9 <= res.gamma[name] <= idx.size + 1e-9


def test_result_is_mutually_consistent(rng):
    X, T = sine_ard(rng, N=30)
    net = prmlnet.Network((2, 3, 1))
    res = bayes.evidence_loop(net, X, T, prior="layers", n_outer=4, max_iter=400, gtol=1e-9,
                              rng=2)
    avec = bayes.group_alpha_vector(res.groups, res.alpha, net.n_weights)
    g = res.beta * net.gradient(res.w, X, T) + avec * res.w
    assert np.max(np.abs(g)) < 1e-3                  # w is the MAP for the returned α, β
    assert np.array_equal(res.posterior.alpha, avec) and res.posterior.beta == res.beta
    assert res.log_evidence == pytest.approx(bayes.log_evidence(res.posterior, X, T), rel=1e-12)
    assert res.log_evidence == res.history["log_evidence"][-1]
    mean, std = res.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == (5, 1) and np.all(std ** 2 >= 1 / res.beta)


def test_classifier_evidence_has_no_beta(rng):
    X, T = prmlnet.datasets.two_class(60, rng)
    net = prmlnet.Network((2, 3, 1), output="logistic")
    res = bayes.evidence_loop(net, X, T, beta=7.0, n_outer=4, max_iter=200, rng=3)
    assert res.beta == 1.0 and np.all(res.history["beta"] == 1.0)
    assert 0 <= res.gamma_total <= net.n_weights
    p, p_map = res.predict_proba(X), res.predict_proba(X, moderated=False)
    assert np.all(np.abs(p - 0.5) <= np.abs(p_map - 0.5) + 1e-15)


def test_model_comparison_adds_the_symmetry_factor(rng):
    X, T = prmlnet.datasets.sinusoidal(15, rng, noise=0.2)
    opts = dict(hidden_units=[1, 2], n_restarts=2, n_outer=2, max_iter=100)
    with_sym = bayes.compare_hidden_units(X, T, rng=4, symmetry=True, **opts)
    without = bayes.compare_hidden_units(X, T, rng=4, **opts)
    assert with_sym.log_evidence.shape == (2, 2)
    for i, M in enumerate([1, 2]):
        extra = math.log(math.factorial(M) * 2 ** M)
        assert np.allclose(with_sym.log_evidence[i] - without.log_evidence[i], extra, rtol=1e-12)
    assert with_sym.best_size in (1, 2)
    assert [r.posterior.net.sizes for r in with_sym.best] == [(1, 1, 1), (1, 2, 1)]


def test_bad_arguments(rng):
    X, T = sine_ard(rng, N=10)
    net = prmlnet.Network((2, 2, 1))
    for kwargs, match in [({"n_outer": 0}, "n_outer"), ({"prior": "each"}, "prior must be"),
                          ({"alpha": {"w": 1.0}, "prior": "layers"}, "no value for groups"),
                          ({"alpha": 0.0}, "initial alpha"), ({"beta": -1.0}, "beta must be"),
                          ({"prior": {"a": [0, 1], "b": [1, 2]}}, "overlap"),
                          ({"prior": {"a": [0, 99]}}, "indices must lie")]:
        with pytest.raises(ValueError, match=match):
            bayes.evidence_loop(net, X, T, **kwargs)
    with pytest.raises(ValueError, match="hidden_units"):
        bayes.compare_hidden_units(X, T, [0, 2])


def test_beta_is_kept_when_gamma_exceeds_the_number_of_targets(rng):
    """W > N with a weak prior: γ ≥ NK and (5.180) has no positive solution."""
    net = prmlnet.Network((3, 10, 1))
    X, T = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    post = bayes.laplace(net, net.init_weights(rng), X, T, 1e-6, 2.0)
    groups = bayes.prior_groups(net)
    alpha, beta, gamma = bayes.reestimate(post, X, T, groups)
    assert gamma["w"] > 5
    assert beta == 2.0 and alpha["w"] == pytest.approx(gamma["w"] / (post.w @ post.w))


def test_ctrl_c_keeps_the_last_consistent_iteration(rng, monkeypatch):
    X, T = sine_ard(rng, N=20)
    net = prmlnet.Network((2, 2, 1))
    real = bayes.evidence.laplace
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bayes.evidence, "laplace", flaky)
    res = bayes.evidence_loop(net, X, T, n_outer=10, tol=1e-12, max_iter=100, rng=0)
    assert res.status == "stopped" and not res.converged
    assert len(res.history["beta"]) == 2
    assert res.beta == res.history["beta"][-1] and res.log_evidence == res.history["log_evidence"][-1]
    assert res.posterior.beta == res.beta
