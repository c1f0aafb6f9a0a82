"""The Laplace posterior, the predictive distribution and the log evidence (PRML §5.7)
against independent oracles: Chapter 3's Bayesian linear regression, the exact
Gaussian marginal likelihood, central differences and explicit matrix inverses."""

import numpy as np
import pytest
from scipy import special, stats

import prmlnet
from prmlnet import bayes
from prmlnet.priors import gaussian_prior
from prmlnet.testing import central_differences, relative_error


# -- Chapter 3 oracle: a network linear in its weights --------------------------------
def linear_problem(rng, N=25, D=3, K=1):
    """A network with no hidden layer and a linear output, and its design matrix Φ.

    For K outputs the weight vector is [W (K, D) row-major, b (K,)]; the oracle
    treats each output as its own Bayesian linear regression on Φ = [x, 1].
    """
    net = prmlnet.Network((D, K), output="linear")
    X = rng.standard_normal((N, D))
    w_true = rng.standard_normal(net.n_weights)
    T = net.predict(w_true, X) + 0.3 * rng.standard_normal((N, K))
    Phi = np.hstack([X, np.ones((N, 1))])
    return net, X, T, Phi


def to_net_order(per_output, D, K):
    """Stack per-output parameter vectors [w_k (D), b_k] in the network's order."""
    P = np.asarray(per_output)                       # (K, D + 1)
    return np.concatenate([P[:, :D].ravel(), P[:, D]])


def chapter3(Phi, t, alpha, beta):
    """m_N, S_N (3.53, 3.54) and the log evidence (3.86) for one target column."""
    N, M = Phi.shape
    S_inv = alpha * np.eye(M) + beta * Phi.T @ Phi                          # (3.54)
    S = np.linalg.inv(S_inv)
    m = beta * S @ Phi.T @ t                                                 # (3.53)
    E = 0.5 * beta * np.sum((t - Phi @ m) ** 2) + 0.5 * alpha * m @ m       # (3.79, 3.82)
    ev = (0.5 * M * np.log(alpha) + 0.5 * N * np.log(beta) - E
          - 0.5 * np.linalg.slogdet(S_inv)[1] - 0.5 * N * np.log(2 * np.pi))  # (3.86)
    return m, S, ev


@pytest.mark.parametrize("K", [1, 2])
def test_linear_network_reproduces_bayesian_linear_regression(K, rng):
    net, X, T, Phi = linear_problem(rng, K=K)
    D = X.shape[1]
    alpha, beta = 0.7, 9.0
    oracle = [chapter3(Phi, T[:, k], alpha, beta) for k in range(K)]
    m = to_net_order([o[0] for o in oracle], D, K)
    # m_N is the mode of β E_D + α/2 ‖w‖² for the network (3.53 vs backprop)
    g = beta * net.gradient(m, X, T) + alpha * m
    assert np.max(np.abs(g)) < 1e-10
    post = bayes.laplace(net, m, X, T, alpha, beta)
    # posterior covariance (3.54): block per output, in network order
    S = np.zeros((net.n_weights, net.n_weights))
    for k, (_, Sk, _) in enumerate(oracle):
        idx = np.r_[k * D:(k + 1) * D, K * D + k]
        S[np.ix_(idx, idx)] = Sk
    assert relative_error(post.covariance(), S) < 1e-10
    assert relative_error(post.diagonal(), np.diag(S)) < 1e-10
    # predictive variance (3.59) at new inputs
    Xs = rng.standard_normal((6, D)) * 2
    Phis = np.hstack([Xs, np.ones((6, 1))])
    mean, std = post.predict(Xs, return_std=True)
    for k, (mk, Sk, _) in enumerate(oracle):
        var = 1 / beta + np.einsum("ni,ij,nj->n", Phis, Sk, Phis)           # (3.59)
        assert relative_error(std[:, k] ** 2, var) < 1e-10
        assert relative_error(mean[:, k], Phis @ mk) < 1e-10
    # evidence (3.86), summed over the independent outputs
    assert bayes.log_evidence(post, X, T) == pytest.approx(sum(o[2] for o in oracle),
                                                           rel=1e-10, abs=1e-9)


def test_gamma_trace_formula_equals_eigenvalue_formula(rng):            # (5.179)
    net = prmlnet.Network((2, 4, 1), output="linear")
    X = rng.standard_normal((30, 2))
    T = np.sin(X[:, :1]) + 0.1 * rng.standard_normal((30, 1))
    w = net.init_weights(rng)
    alpha, beta = 0.3, 20.0
    post = bayes.laplace(net, w, X, T, alpha, beta)
    lam = beta * np.linalg.eigvalsh(post.H)
    trace = net.n_weights - alpha * np.trace(np.linalg.inv(post.precision))
    gamma = bayes.effective_parameters(post)["w"]
    assert gamma == pytest.approx(trace, rel=1e-10)
    assert bayes.gamma_from_eigenvalues(lam, alpha) == pytest.approx(trace, rel=1e-10)
    # the grouped (trace) path with every group at the same α gives the same γ
    by_layer = bayes.laplace(net, w, X, T, gaussian_prior(net, "layers", alpha), beta)
    layers = bayes.effective_parameters(by_layer)
    assert sum(layers.values()) == pytest.approx(trace, rel=1e-10)


@pytest.mark.parametrize("prior", ["single", "layers", "ard"])
def test_gamma_per_group_between_zero_and_group_size(prior, rng):
    net = prmlnet.Network((3, 5, 2), output="linear")
    X = rng.standard_normal((20, 3))
    T = rng.standard_normal((20, 2))
    w = net.init_weights(rng)
    groups = gaussian_prior(net, prior).groups
    alpha = {k: a for k, a in zip(groups, np.geomspace(0.01, 10, len(groups)))}
    post = bayes.laplace(net, w, X, T, gaussian_prior(net, prior, alpha), 5.0, negative="clip")
    gamma = bayes.effective_parameters(post)
    for name, idx in groups.items():
        assert -1e-10 <= gamma[name] <= idx.size + 1e-10


@pytest.mark.parametrize("output", ["linear", "logistic"])
def test_scalar_evidence_step_balances_errors(output, rng):   # αE_W + βE_D = NK/2
    net = prmlnet.Network((2, 3, 2), output=output)
    X = rng.standard_normal((15, 2))
    T = rng.standard_normal((15, 2)) if output == "linear" else (rng.random((15, 2)) < .5) * 1.0
    w = net.init_weights(rng)
    post = bayes.laplace(net, w, X, T, 0.5, 3.0 if output == "linear" else 1.0)
    prior, beta, gamma, clipped, notes, _ = bayes.reestimate(post, X, T)
    assert not clipped and notes == ()
    E_W, E_D = 0.5 * w @ w, net.error(w, X, T)
    if output == "linear":
        assert prior.alpha["w"] * E_W + beta * E_D == pytest.approx(15 * 2 / 2, rel=1e-12)
    else:                                              # no β: α E_W = γ/2 (5.178)
        assert beta == 1.0
        assert prior.alpha["w"] * E_W == pytest.approx(gamma["w"] / 2, rel=1e-12)


# -- grouped log evidence ---------------------------------------------------------------
def test_grouped_log_evidence_equals_exact_gaussian_marginal(rng):
    """For a linear network the Laplace integral is exact: compare with
    ln N(t | 0, Φ diag(α)⁻¹ Φᵀ + β⁻¹ I) computed in data space (N×N), per output."""
    net, X, T, Phi = linear_problem(rng, N=12, D=3, K=2)
    alpha = {"W1": 0.4, "b1": 3.0}                   # W1 and b1 with different α
    prior = gaussian_prior(net, "layers", alpha)
    beta = 6.0
    # w_MAP by a direct solve in Chapter 3's per-output form
    a_out = np.r_[np.full(3, alpha["W1"]), alpha["b1"]]
    m = [np.linalg.solve(np.diag(a_out) + beta * Phi.T @ Phi, beta * Phi.T @ T[:, k])
         for k in range(2)]
    w = to_net_order(m, 3, 2)
    post = bayes.laplace(net, w, X, T, prior, beta)
    C = Phi @ np.diag(1 / a_out) @ Phi.T + np.eye(12) / beta
    exact = sum(stats.multivariate_normal(np.zeros(12), C).logpdf(T[:, k]) for k in range(2))
    assert bayes.log_evidence(post, X, T) == pytest.approx(exact, rel=1e-11)


@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
def test_grouped_log_evidence_equals_direct_laplace_integral(output, rng):
    """ln ∫ p(D|w) p(w|α) dw ≈ ln p(D|w) + ln p(w|α) + W/2 ln 2π − ½ ln|A|, every term
    assembled independently: scipy log densities and a central-difference Hessian."""
    net = prmlnet.Network((2, 3, 2), output=output)
    N = 9
    X = rng.standard_normal((N, 2))
    if output == "linear":
        T = rng.standard_normal((N, 2))
    elif output == "logistic":
        T = (rng.random((N, 2)) < 0.5) * 1.0
    else:
        T = np.eye(2)[rng.integers(0, 2, N)]
    prior = gaussian_prior(net, "layers", dict(zip(["W1", "b1", "W2", "b2"],
                                                   [20.0, 50.0, 30.0, 70.0])))
    avec = prior.alpha_vector
    beta = 4.0 if output == "linear" else 1.0
    w = 0.3 * net.init_weights(rng)
    if output == "linear":                            # small residuals: A positive definite
        T = net.predict(w, X) + 0.3 * T
    post = bayes.laplace(net, w, X, T, prior, beta, negative="keep")
    y = net.predict(w, X)
    if output == "linear":
        loglik = stats.norm(y, 1 / np.sqrt(beta)).logpdf(T).sum()
    elif output == "logistic":
        loglik = np.sum(T * np.log(y) + (1 - T) * np.log1p(-y))
    else:
        loglik = np.sum(T * np.log(y))
    logprior = stats.norm(0, 1 / np.sqrt(avec)).logpdf(w).sum()
    H = central_differences(lambda v: net.gradient(v, X, T), w)
    A = beta * 0.5 * (H + H.T) + np.diag(avec)
    direct = loglik + logprior + 0.5 * w.size * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(A)[1]
    assert bayes.log_evidence(post, X, T) == pytest.approx(direct, rel=1e-8)


# -- predictive distribution ------------------------------------------------------------
def tanh_regression(rng, N=20):
    net = prmlnet.Network((1, 4, 2), output="linear")
    X = rng.uniform(-0.5, 0.5, (N, 1))
    T = np.hstack([np.sin(3 * X), np.cos(3 * X)]) + 0.1 * rng.standard_normal((N, 2))
    return net, X, T


def test_predictive_covariance_against_central_differences(rng):          # (5.173)
    net, X, T = tanh_regression(rng)
    w = net.init_weights(rng)
    post = bayes.laplace(net, w, X, T, 0.5, 10.0)
    Xs = np.array([[-2.0], [0.1], [1.5]])
    mean, std, cov = post.predict(Xs, return_std=True, return_cov=True)
    Ainv = np.linalg.inv(post.precision)
    for n in range(3):
        G = central_differences(lambda v: net.predict(v, Xs[n:n + 1])[0], w)   # (K, W), (5.170)
        expect = G @ Ainv @ G.T + np.eye(2) / 10.0
        assert relative_error(cov[n], expect) < 1e-8
        assert relative_error(std[n] ** 2, np.diag(expect)) < 1e-8
    assert relative_error(mean, net.predict(w, Xs)) == 0.0
    assert np.all(std ** 2 >= 1 / 10.0)


def test_error_bars_grow_away_from_the_data(rng):
    net, X, T = tanh_regression(rng, N=40)
    w = net.init_weights(rng)
    post = bayes.laplace(net, w, X, T, 1.0, 100.0)
    far = np.r_[np.linspace(-4, -2, 5), np.linspace(2, 4, 5)][:, None]   # data in [-0.5, 0.5]
    _, std_far = post.predict(far, return_std=True)
    _, std_in = post.predict(X, return_std=True)
    assert np.all(std_in ** 2 >= 1 / 100.0)
    assert np.all(std_far.min(axis=0) > 1.5 * std_in.max(axis=0))


def test_quadratic_and_samples_use_the_posterior_covariance(rng):
    net, X, T = tanh_regression(rng)
    w = net.init_weights(rng)
    post = bayes.laplace(net, w, X, T, 0.5, 10.0)
    Ainv = np.linalg.inv(post.precision)
    G = rng.standard_normal((5, 3, net.n_weights))
    assert relative_error(post.quadratic(G), np.einsum("nki,ij,nkj->nk", G, Ainv, G)) < 1e-10
    assert relative_error(post.solve(G[0].T), Ainv @ G[0].T) < 1e-10
    S = post.sample(100_000, rng=1)
    assert relative_error(S.mean(0), w) < 0.02
    assert relative_error(np.cov(S.T), Ainv) < 0.03


# -- classification and moderation -------------------------------------------------------
def test_probit_approximation_against_monte_carlo():                   # κ(σ²), §4.5.2
    rng = np.random.default_rng(5)
    z = rng.standard_normal(400_000)
    worst = 0.0
    for mu in (-4.0, -1.0, 0.0, 0.5, 2.0, 6.0):
        for s2 in (0.0, 0.5, 3.0, 20.0):
            mc = special.expit(mu + np.sqrt(s2) * z).mean()
            approx = special.expit(bayes.kappa(s2) * mu)
            worst = max(worst, abs(mc - approx))
    assert worst < 0.02                                # the probit approximation's error
    # and it is a real approximation to the average, not to σ(μ)
    mc = special.expit(2.0 + np.sqrt(20.0) * z).mean()
    assert abs(mc - special.expit(2.0)) > 0.15 > abs(mc - special.expit(bayes.kappa(20.0) * 2.0))


def two_class(rng, N=30):
    X = rng.standard_normal((N, 2))
    T = ((X[:, :1] + 0.5 * X[:, 1:] + 0.5 * rng.standard_normal((N, 1))) > 0) * 1.0
    return X, T


def test_moderated_probability_against_explicit_inverse(rng):         # (5.185–5.190)
    X, T = two_class(rng)
    net = prmlnet.Network((2, 3, 1), output="logistic")
    w = net.init_weights(rng)
    post = bayes.laplace(net, w, X, T, 0.2)
    Xs = rng.standard_normal((4, 2)) * 3
    Ainv = np.linalg.inv(post.precision)
    p = post.predict_proba(Xs)
    for n in range(4):
        b = central_differences(lambda v: net.forward(v, Xs[n:n + 1]).a[-1][0, 0], w)
        a = net.forward(w, Xs[n:n + 1]).a[-1][0, 0]
        assert p[n, 0] == pytest.approx(special.expit(bayes.kappa(b @ Ainv @ b) * a), rel=1e-8)


@pytest.mark.parametrize("output", ["logistic", "softmax"])
def test_moderation_pulls_towards_uniform(output, rng):
    X, T = two_class(rng)
    K = 1 if output == "logistic" else 2
    T = T if K == 1 else np.hstack([T, 1 - T])
    net = prmlnet.Network((2, 3, K), output=output)
    w = net.init_weights(rng)
    post = bayes.laplace(net, w, X, T, 0.05)
    Xs = rng.standard_normal((50, 2)) * 4
    p_map = post.predict_proba(Xs, moderated=False)
    p_mod = post.predict_proba(Xs)
    assert relative_error(p_map, net.predict(w, Xs)) == 0.0
    centre = 0.5 if K == 1 else 1 / K
    assert np.all(np.abs(p_mod - centre) <= np.abs(p_map - centre) + 1e-15)
    assert np.mean(np.abs(p_mod - centre) < np.abs(p_map - centre) - 1e-6) > 0.5
    if K == 2:
        assert np.allclose(p_mod.sum(1), 1.0)


def test_moderated_equals_map_at_one_half(rng):
    net = prmlnet.Network((1, 1), output="logistic")       # p = σ(w x + b)
    X = np.array([[-1.0], [0.5], [2.0], [-0.3]])
    T = np.array([[0.0], [1.0], [1.0], [0.0]])
    w = np.array([1.3, -0.65])                              # a = 0 at x = 0.5
    post = bayes.laplace(net, w, X, T, 1.0)
    p = post.predict_proba(np.array([[0.5], [3.0]]))
    assert p[0, 0] == pytest.approx(0.5, abs=1e-15)
    assert 0.5 < p[1, 0] < post.predict_proba(np.array([[3.0]]), moderated=False)[0, 0]


# -- negative eigenvalues and errors ------------------------------------------------------
def saddle_problem(rng):
    """Weights far from a minimum, where the data Hessian has negative eigenvalues."""
    net = prmlnet.Network((1, 5, 1), output="linear")
    X = np.linspace(-1, 1, 15)[:, None]
    T = np.sin(3 * X)
    for seed in range(50):
        w = 3 * net.init_weights(seed)
        H = central_differences(lambda v: net.gradient(v, X, T), w)
        if np.linalg.eigvalsh(0.5 * (H + H.T))[0] < -1e-2:
            return net, X, T, w, H
    raise AssertionError("no weights with negative curvature found")


def test_negative_eigenvalues_are_clipped_and_reported(rng):
    net, X, T, w, H = saddle_problem(rng)
    post = bayes.laplace(net, w, X, T, 1e-3, 50.0, negative="clip")
    assert post.n_negative >= 1 and post.clipped
    assert post.eigenvalues[0] < 0
    assert np.linalg.eigvalsh(post.H)[0] > -1e-10
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert relative_error(np.linalg.eigvalsh(post.H), np.maximum(lam, 0)) < 1e-6
    gamma = bayes.effective_parameters(post)["w"]
    assert 0 <= gamma <= net.n_weights
    # the default clips too here, because A = βH + αI is not positive definite ...
    auto = bayes.laplace(net, w, X, T, 1e-3, 50.0)
    assert auto.clipped and np.array_equal(auto.chol, post.chol)


def test_a_positive_definite_is_used_unclipped(rng):
    """... but where A is positive definite despite negative eigenvalues of H (a mode
    of βE_D + E_W, where H may reach −α/β), A is used as it is."""
    net, X, T, w, H = saddle_problem(rng)
    beta = 50.0
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    alpha = -2 * beta * lam[0]                         # A positive definite, H not
    post = bayes.laplace(net, w, X, T, alpha, beta)
    assert post.n_negative >= 1 and not post.clipped
    A = beta * 0.5 * (H + H.T) + alpha * np.eye(net.n_weights)
    assert relative_error(post.precision, A) < 1e-6
    assert post.log_det == pytest.approx(np.linalg.slogdet(A)[1], rel=1e-6)
    clipped = bayes.laplace(net, w, X, T, alpha, beta, negative="clip")
    assert clipped.log_det > post.log_det + 1.0         # clipping would have moved it


def test_bad_arguments(rng):
    net, X, T = tanh_regression(rng)
    w = net.init_weights(rng)
    for kwargs, match in [({"alpha": -1.0}, "alpha must be"),
                          ({"alpha": np.ones(3)}, "GaussianPrior"),
                          ({"alpha": {"W9": 1.0}}, "unknown weight groups"),
                          ({"alpha": 1.0, "beta": 0.0}, "beta must be"),
                          ({"alpha": 1.0, "hessian": "bfgs"}, "hessian must be"),
                          ({"alpha": 1.0, "negative": "abs"}, "negative must be"),
                          ({"alpha": 1.0, "H": np.eye(3)}, "H must be")]:
        with pytest.raises(ValueError, match=match):
            bayes.laplace(net, w, X, T, kwargs.pop("alpha"), **kwargs)
    post = bayes.laplace(net, w, X, T, 1.0)
    with pytest.raises(ValueError, match="predict_proba needs"):
        post.predict_proba(X)
    with pytest.raises(ValueError, match="X has 2 columns"):
        post.predict(np.ones((3, 2)), return_std=True)


@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
def test_outer_product_posterior_is_positive_definite_and_matches_its_formula(output, rng):
    """hessian='outer_product': H = Σ_n B_nᵀ C_n B_n (5.84, 5.85), B from central differences."""
    net = prmlnet.Network((2, 3, 2), output=output)
    X = rng.standard_normal((8, 2))
    T = (rng.standard_normal((8, 2)) if output == "linear" else
         (rng.random((8, 2)) < .5) * 1.0 if output == "logistic" else np.eye(2)[rng.integers(0, 2, 8)])
    w = 2 * net.init_weights(rng)
    post = bayes.laplace(net, w, X, T, 1e-3, hessian="outer_product", negative="keep")
    H = np.zeros((net.n_weights, net.n_weights))
    for n in range(8):
        B = central_differences(lambda v: net.forward(v, X[n:n + 1]).a[-1][0], w)   # (K, W)
        y = net.predict(w, X[n:n + 1])[0]
        C = np.eye(2) if output == "linear" else (
            np.diag(y * (1 - y)) if output == "logistic" else np.diag(y) - np.outer(y, y))
        H += B.T @ C @ B
    assert relative_error(post.H, H) < 1e-8
    assert post.n_negative == 0
