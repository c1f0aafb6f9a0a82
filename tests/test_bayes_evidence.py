"""The evidence loop (PRML §5.7.2–5.7.3): Chapter 3's fixed point, ARD, classification,
model comparison. Tiny networks and few outer iterations keep it fast."""

import math

import numpy as np
import pytest

import prmlnet
from prmlnet import bayes
from prmlnet.objective import Objective
from prmlnet.optim import Status
from prmlnet.priors import gaussian_prior
from prmlnet.testing import central_differences, relative_error


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
    res = bayes.evidence_loop(net, X, T, prior="ard", alpha=0.01, n_outer=8, max_iter=200,
                              rng=1)
    assert set(res.alpha) == {"x1", "x2", "b1", "W2", "b2"}
    assert res.alpha["x2"] > 100 * res.alpha["x1"]
    for name, idx in res.groups.items():
        assert -1e-9 <= res.gamma[name] <= idx.size + 1e-9


def test_result_is_mutually_consistent(rng):
    X, T = sine_ard(rng, N=30)
    net = prmlnet.Network((2, 3, 1))
    res = bayes.evidence_loop(net, X, T, prior="layers", alpha=0.01, n_outer=4, max_iter=400,
                              gtol=1e-9, rng=2)
    avec = res.prior.alpha_vector
    g = res.beta * net.gradient(res.w, X, T) + avec * res.w
    assert np.max(np.abs(g)) < 1e-3                  # w is the MAP for the returned α, β
    assert res.posterior.prior == res.prior and res.posterior.beta == res.beta
    assert np.array_equal(res.posterior.w, res.w)
    assert res.log_evidence == pytest.approx(bayes.log_evidence(res.posterior, X, T), rel=1e-12)
    assert res.log_evidence == res.history["log_evidence"][res.iteration]
    assert res.gamma == bayes.reestimate(res.posterior, X, T).gamma
    assert list(res.history["alpha"][res.iteration]) == [res.alpha[k] for k in res.groups]
    mean, std = res.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == (5, 1) and np.all(std ** 2 >= 1 / res.beta)


def test_the_last_reestimate_is_trained_for_and_kept(rng):
    """The final α, β are the last re-estimate (not thrown away): row 1 of the loop is
    the re-estimate from row 0's posterior, rebuilt here step by step."""
    X, T = sine_ard(rng, N=30)
    net = prmlnet.Network((2, 3, 1))
    w0 = net.init_weights(5)
    res = bayes.evidence_loop(net, X, T, alpha=0.05, beta=20.0, w0=w0, n_outer=1,
                              tol=1e-12, gtol=1e-10, max_iter=2000, select="last")
    from prmlnet.optim import minimize
    prior0 = gaussian_prior(net, "single", 0.05)
    w = minimize(Objective(net, X, T, prior=prior0, beta=20.0), w0, "bfgs", max_iter=2000,
                 gtol=1e-10).x
    step = bayes.reestimate(bayes.laplace(net, w, X, T, prior0, 20.0), X, T)
    assert res.iteration == 1 and res.status is Status.MAX_ITER
    assert res.alpha["w"] == pytest.approx(step.prior.alpha["w"], rel=1e-6)
    assert res.beta == pytest.approx(step.beta, rel=1e-6)
    w1 = minimize(Objective(net, X, T, prior=step.prior, beta=step.beta), w, "bfgs",
                  max_iter=2000, gtol=1e-10).x
    assert np.allclose(res.w, w1, atol=1e-5)
    _, std = res.predict(X[:3], return_std=True)
    _, std1 = bayes.laplace(net, w1, X, T, step.prior, step.beta).predict(X[:3], return_std=True)
    assert np.allclose(std, std1, rtol=1e-5)


def test_log_evidence_at_a_mode_uses_a_unclipped(rng):
    """At a mode with negative eigenvalues of H, the loop's posterior precision is the
    whole Hessian of βE_D + E_W (central differences) and its log evidence the direct
    Laplace integral with it — no eigenvalue clipped."""
    X, T = prmlnet.datasets.sinusoidal(20, rng, noise=0.2)
    net = prmlnet.Network((1, 6, 1))
    res = bayes.evidence_loop(net, X, T, alpha=0.01, n_outer=6, gtol=1e-10, max_iter=3000,
                              rng=3, select="last")
    post = res.posterior
    assert post.n_negative > 0 and not post.clipped and res.history["clipped"][-1] == 0
    obj = Objective(net, X, T, prior=res.prior, beta=res.beta)
    assert np.max(np.abs(obj.gradient(res.w))) < 1e-4
    A = central_differences(obj.gradient, res.w)
    A = 0.5 * (A + A.T)
    assert np.max(np.abs(post.precision - A)) < 1e-6 * np.max(np.abs(A))
    N = X.shape[0]
    direct = (-obj.error(res.w) - 0.5 * np.linalg.slogdet(A)[1]
              + 0.5 * net.n_weights * np.log(res.alpha["w"])
              + 0.5 * N * np.log(res.beta / (2 * np.pi)))
    assert res.log_evidence == pytest.approx(direct, rel=1e-7)
    clipped = bayes.log_evidence(bayes.laplace(net, res.w, X, T, res.prior, res.beta,
                                               negative="clip"), X, T)
    assert abs(clipped - res.log_evidence) > 1e-3           # clipping would change it


def test_negative_keep_runs_to_the_end(rng):
    """Unconverged trainings (max_iter=15) leave A indefinite: the loop trains further and
    reports it instead of raising 'A not positive definite'."""
    X, T = prmlnet.datasets.sinusoidal(25, rng, noise=0.1)
    net = prmlnet.Network((1, 8, 1))
    res = bayes.evidence_loop(net, X, T, alpha=1e-3, n_outer=4, max_iter=15, tol=1e-12,
                              negative="keep", rng=0)
    assert res.status is Status.MAX_ITER and len(res.history["beta"]) == 5
    assert any("not positive definite" in n for n in res.notes)
    assert np.all(np.isfinite(res.history["log_evidence"]))


def test_gamma_outside_its_range_is_never_used_silently():
    """Near the saddle w = 0 of a tanh network βH has eigenvalue pairs ±λ; with α just
    above λ, A is positive definite but nearly singular and (5.179) gives γ < 0."""
    net = prmlnet.Network((1, 3, 1))
    X = np.linspace(-1, 1, 12)[:, None]
    T = np.sin(3 * X)
    w = np.zeros(net.n_weights)
    w[-1] = T.mean()                                     # the output bias at its optimum
    beta = 5.0
    H = bayes.data_hessian(net, w, X, T)
    alpha = -beta * np.linalg.eigvalsh(H)[0] * (1 + 1e-4)
    post = bayes.laplace(net, w, X, T, alpha, beta)
    assert not post.clipped and post.n_negative > 0
    raw = bayes.effective_parameters(post)["w"]
    assert raw < 0                                       # the book's formula, as it is
    step = bayes.reestimate(post, X, T)
    assert step.gamma_clipped and 0 <= step.gamma["w"] <= net.n_weights
    assert any("outside [0, W_k]" in n for n in step.notes)
    assert step.prior.alpha["w"] > 0
    clipped = bayes.laplace(net, w, X, T, alpha, beta, negative="clip")
    assert step.gamma["w"] == pytest.approx(bayes.effective_parameters(clipped)["w"], rel=1e-12)


def test_inner_steps_repeat_the_reestimate_at_fixed_weights(rng):
    """n_inner=3: the first re-estimation is three steps at row 0's w and H (Netlab)."""
    X, T = sine_ard(rng, N=25)
    net = prmlnet.Network((2, 3, 1))
    w0 = net.init_weights(1)
    kw = dict(alpha=0.1, beta=10.0, w0=w0, n_outer=1, tol=1e-12, gtol=1e-10,
              max_iter=2000, select="last")
    one = bayes.evidence_loop(net, X, T, **kw)
    three = bayes.evidence_loop(net, X, T, n_inner=3, **kw)
    from prmlnet.optim import minimize
    prior, beta = gaussian_prior(net, "single", 0.1), 10.0
    w = minimize(Objective(net, X, T, prior=prior, beta=beta), w0, "bfgs", max_iter=2000,
                 gtol=1e-10).x
    H = bayes.data_hessian(net, w, X, T)
    for k in range(3):
        step = bayes.reestimate(bayes.laplace(net, w, X, T, prior, beta, H=H), X, T)
        prior, beta = step.prior, step.beta
        if k == 0:
            assert one.history["alpha"][1, 0] == pytest.approx(prior.alpha["w"], rel=1e-6)
    assert three.history["alpha"][1, 0] == pytest.approx(prior.alpha["w"], rel=1e-6)
    assert three.history["beta"][1] == pytest.approx(beta, rel=1e-6)
    assert three.history["alpha"][1, 0] != pytest.approx(one.history["alpha"][1, 0], rel=1e-3)


def test_an_evidence_that_peaked_earlier_is_reported_and_kept(rng):
    X, T = prmlnet.datasets.sinusoidal(15, rng, noise=0.3)
    net = prmlnet.Network((1, 10, 1))
    for seed in range(10):
        res = bayes.evidence_loop(net, X, T, alpha=0.01, n_outer=8, tol=1e-12, max_iter=200,
                                  rng=seed, select="last")
        score = res.history["log_evidence_compared"]
        if score.max() > score[-1] + 1e-6:
            break
    else:
        pytest.fail("no run whose evidence fell after a peak")
    assert any("peaked at row" in n for n in res.notes)
    assert res.iteration == len(score) - 1
    best = bayes.evidence_loop(net, X, T, alpha=0.01, n_outer=8, tol=1e-12, max_iter=200,
                               rng=seed)
    assert best.iteration == int(np.argmax(score)) < len(score) - 1
    assert best.log_evidence == res.history["log_evidence"][best.iteration]
    assert best.posterior.beta == res.history["beta"][best.iteration]


def test_default_starts_keep_the_largest_evidence(rng):
    X, T = sine_ard(rng, N=30)
    net = prmlnet.Network((2, 3, 1))
    res = bayes.evidence_loop(net, X, T, n_outer=5, max_iter=300, rng=0)
    assert [s["alpha0"] for s in res.starts] == list(bayes.DEFAULT_STARTS)
    single = [bayes.evidence_loop(net, X, T, alpha=a, n_outer=5, max_iter=300, rng=0)
              for a in bayes.DEFAULT_STARTS]
    assert [s["log_evidence"] for s in res.starts] == [r.log_evidence for r in single]
    k = int(np.argmax([r.history["log_evidence_compared"][r.iteration] for r in single]))
    assert res.log_evidence == single[k].log_evidence and np.array_equal(res.w, single[k].w)
    assert any("ran from 3 starting alpha" in n for n in res.notes)


def test_classifier_evidence_has_no_beta(rng):
    X, T = prmlnet.datasets.two_class(60, rng)
    net = prmlnet.Network((2, 3, 1), output="logistic")
    res = bayes.evidence_loop(net, X, T, alpha=0.01, beta=7.0, n_outer=4, max_iter=200, rng=3)
    assert res.beta == 1.0 and np.all(res.history["beta"] == 1.0)
    default = bayes.evidence_loop(net, X, T, n_outer=4, max_iter=200, rng=3)   # one start
    assert [s["alpha0"] for s in default.starts] == list(bayes.CLASSIFIER_STARTS) == [0.01]
    assert default.log_evidence == res.log_evidence
    assert 0 <= res.gamma_total <= net.n_weights
    p, p_map = res.predict_proba(X), res.predict_proba(X, moderated=False)
    assert np.all(np.abs(p - 0.5) <= np.abs(p_map - 0.5) + 1e-15)


def test_model_comparison_adds_the_symmetry_factor(rng):
    X, T = prmlnet.datasets.sinusoidal(15, rng, noise=0.2)
    opts = dict(hidden_units=[1, 2], n_restarts=2, n_outer=2, max_iter=100, alpha=0.01)
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
                          ({"prior": {"a": [0, 99]}}, "outside"),
                          ({"n_inner": 0}, "n_inner"), ({"select": "first"}, "select"),
                          ({"alpha": []}, "at least one")]:
        with pytest.raises(ValueError, match=match):
            bayes.evidence_loop(net, X, T, **kwargs)
    with pytest.raises(ValueError, match="hidden_units"):
        bayes.compare_hidden_units(X, T, [0, 2])


def test_beta_is_kept_when_gamma_exceeds_the_number_of_targets(rng):
    """W > N with a weak prior: γ ≥ NK and (5.180) has no positive solution."""
    net = prmlnet.Network((3, 10, 1))
    X, T = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    post = bayes.laplace(net, net.init_weights(rng), X, T, 1e-6, 2.0, negative="clip")
    prior, beta, gamma, _, notes, _ = bayes.reestimate(post, X, T)
    assert gamma["w"] > 5 and any("beta kept" in n for n in notes)
    assert beta == 2.0 and prior.alpha["w"] == pytest.approx(gamma["w"] / (post.w @ post.w))


def test_ctrl_c_keeps_the_last_consistent_iteration(rng, monkeypatch):
    X, T = sine_ard(rng, N=20)
    net = prmlnet.Network((2, 2, 1))
    real = bayes.loop.try_posterior         # the loop's Laplace step
    rows = []

    def flaky(*args, **kwargs):              # Ctrl-C inside the third row's Laplace step
        if len(rows) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bayes.loop, "try_posterior", flaky)
    res = bayes.evidence_loop(net, X, T, alpha=0.01, n_outer=10, tol=1e-12, max_iter=100,
                              rng=0, callback=rows.append, select="last")
    assert res.status is Status.INTERRUPTED and not res.converged
    assert len(res.history["beta"]) == 2
    assert res.iteration == 1 and res.beta == res.history["beta"][-1]
    assert res.log_evidence == res.history["log_evidence"][-1]
    assert res.posterior.beta == res.beta


def test_replaced_names_say_what_replaces_them():
    with pytest.raises(AttributeError, match="gaussian_prior"):
        bayes.prior_groups
    with pytest.raises(AttributeError, match="alpha_vector"):
        bayes.group_alpha_vector


def test_the_loop_reports_like_minimize(rng):
    """The run as prmlnet.optim.minimize reports one: an outer iteration per iteration,
    E = βE_D + E_W and its gradient at the returned weights, a Status."""
    from prmlnet.optim import OptimizeResult
    X, T = sine_ard(rng, N=30)
    net = prmlnet.Network((2, 3, 1))
    res = bayes.evidence_loop(net, X, T, alpha=0.05, n_outer=30, gtol=1e-9, max_iter=500, rng=0)
    r = res.result
    assert isinstance(r, OptimizeResult) and res.status is r.status is Status.CONVERGED
    assert r.success and res.converged and "converged" in r.message
    assert r.nit == res.iteration and np.array_equal(r.x, res.w)
    obj = Objective(net, X, T, prior=res.prior, beta=res.beta)
    E, g = obj(res.w)
    assert r.fun == pytest.approx(E, rel=1e-12) and relative_error(r.jac, g) < 1e-10
    h = r.history
    assert len(h.fun) == len(h.nfev) == res.iteration + 1 and h.step[0] == 0.0
    beta_E = res.history["beta"] * res.history["E_D"] + res.history["E_W"]
    assert relative_error(h.fun, beta_E[:res.iteration + 1]) < 1e-12
    assert np.all(np.diff(h.nfev) > 0) and r.nfev >= h.nfev[-1] and r.njev == r.nfev
    short = bayes.evidence_loop(net, X, T, alpha=0.05, n_outer=1, tol=1e-12, rng=0)
    assert short.status is Status.MAX_ITER and not short.result.success
    stop = bayes.evidence_loop(net, X, T, alpha=0.05, n_outer=5, rng=0,
                               train_callback=lambda info: info.nit >= 3)
    assert stop.status is Status.CALLBACK_STOP and len(stop.history["beta"]) == 1
    assert stop.history["nit"][0] == 3 and stop.starts[0]["status"] is Status.CALLBACK_STOP


def test_the_estimator_keeps_the_loops_result(rng):
    X, T = sine_ard(rng, N=30)
    reg = prmlnet.BayesianMLPRegressor(hidden_layer_sizes=(3,), alpha=0.05, n_outer=30,
                                       random_state=0).fit(X, T[:, 0])
    net = prmlnet.Network((2, 3, 1))
    res = bayes.evidence_loop(net, X, T, alpha=0.05, n_outer=30,
                              w0=net.init_weights(np.random.default_rng(0)))
    assert reg.result_.status is res.status is Status.CONVERGED
    assert reg.training_["status"] == "CONVERGED" and reg.result_.message == res.result.message
    assert reg.result_.nfev == res.result.nfev and reg.n_iter_ == max(res.iteration, 1)
    assert reg.loss_curve_ == list(res.result.history.fun[1:])
    with pytest.warns(UserWarning, match="stopped early"):
        stopped = prmlnet.BayesianMLPRegressor(hidden_layer_sizes=(3,), alpha=0.05,
                                               random_state=0).fit(
            X, T[:, 0], callback=lambda info: info.nit >= 2)
    assert stopped.result_.status is Status.CALLBACK_STOP
