"""Soft weight sharing (PRML §5.5.7): the mixture prior's derivatives with respect to w,
μ, ln σ and η against central differences and PyTorch autodiff, the joint objective,
and the recovery of clustered weights."""

import numpy as np
import pytest
from scipy import integrate, stats

import prmlnet
from prmlnet.objective import Objective
from prmlnet.optim import minimize
from prmlnet.soft_weight_sharing import SharedObjective, SoftWeightSharing
from prmlnet.testing import central_differences, relative_error


def mixture(rng, W=12, J=3, pin_zero=False, indices=None, s0=0.05, lam=0.7):
    mu = rng.standard_normal(J)
    if pin_zero:
        mu[0] = 0.0
    return SoftWeightSharing(W, rng.standard_normal(J), mu, rng.uniform(-1.0, 0.0, J),
                             indices=indices, pin_zero=pin_zero, s0=s0, lam=lam)


CASES = [dict(), dict(pin_zero=True), dict(indices=[0, 2, 3, 7, 9]), dict(s0=0.0, lam=1.0)]


@pytest.mark.parametrize("case", CASES)
def test_gradients_against_central_differences(case, rng):        # §5.5.7
    prior = mixture(rng, **case)
    w = rng.standard_normal(prior.n_weights)
    theta = prior.theta
    value, g_w, g_th = prior.value_and_gradients(w)
    assert relative_error(g_w, central_differences(
        lambda v: prior.value_and_gradients(v)[0], w)) < 1e-8
    assert relative_error(g_th, central_differences(
        lambda t: prior.value_and_gradients(w, t)[0], theta)) < 1e-8
    assert value == pytest.approx(prior.value_and_gradient(w)[0], rel=1e-15)
    h = central_differences(lambda v: prior.value_and_gradient(v)[1], w)
    assert np.max(np.abs(h - np.diag(np.diag(h)))) < 1e-6        # the Hessian in w is diagonal
    assert relative_error(prior.hessian(w), np.diag(h)) < 1e-7
    v = rng.standard_normal(prior.n_weights)
    assert relative_error(prior.hvp(w, v), np.diag(h) * v) < 1e-7


def test_omega_is_the_negative_log_mixture_density(rng):           # Ω = -Σ ln p(w_i)
    prior = mixture(rng, s0=0.0, lam=1.0)
    w = rng.standard_normal(prior.n_weights)
    dens = sum(p * stats.norm(m, s).pdf(w) for p, m, s in zip(prior.pi, prior.mu, prior.sigma))
    assert prior.value_and_gradient(w)[0] == pytest.approx(-np.log(dens).sum(), rel=1e-12)
    gam = prior.responsibilities(w)
    assert np.allclose(gam.sum(1), 1.0, rtol=0, atol=1e-14)
    comp = np.array([p * stats.norm(m, s).pdf(w) for p, m, s in
                     zip(prior.pi, prior.mu, prior.sigma)]).T
    assert relative_error(gam, comp / comp.sum(1, keepdims=True)) < 1e-12
    lo, hi = prior.mu.min() - 10 * prior.sigma.max(), prior.mu.max() + 10 * prior.sigma.max()
    assert integrate.quad(prior.density, lo, hi, limit=200)[0] == pytest.approx(1.0, abs=1e-8)


@pytest.mark.reference
@pytest.mark.parametrize("pin_zero", [False, True])
def test_gradients_against_torch_autodiff(pin_zero, rng):
    torch = pytest.importorskip("torch")
    prior = mixture(rng, pin_zero=pin_zero, indices=[1, 2, 4, 5, 6, 8, 11])
    w = rng.standard_normal(prior.n_weights)
    idx = torch.tensor(prior.indices)

    def omega(tw, eta, mu, ls):
        x = tw[idx][:, None]
        logp = (torch.log_softmax(eta, 0) - 0.5 * np.log(2 * np.pi) - ls
                - 0.5 * ((x - mu) / torch.exp(ls)) ** 2)
        guard = 0.5 * prior.s0 ** 2 * torch.exp(-2 * ls).sum()
        return prior.lam * (guard - torch.logsumexp(logp, 1).sum())

    args = [torch.tensor(v, dtype=torch.float64) for v in
            (w, prior.eta, prior.mu, prior.log_sigma)]
    value = omega(*args)
    grads = torch.func.grad(omega, argnums=(0, 1, 2, 3))(*args)
    ours, g_w, g_th = prior.value_and_gradients(w)
    J = prior.n_components
    g_eta, g_mu, g_ls = g_th[:J], g_th[J:-J], g_th[-J:]
    mu_torch = grads[2].numpy()[1:] if pin_zero else grads[2].numpy()
    assert ours == pytest.approx(value.item(), rel=1e-12)
    for a, b in [(g_w, grads[0]), (g_eta, grads[1]), (g_mu, mu_torch), (g_ls, grads[3])]:
        b = np.asarray(b)
        assert np.max(np.abs(a - b)) < 1e-10 * max(1.0, np.max(np.abs(b)))
    hess = torch.func.hessian(omega)(*args).numpy()
    assert np.max(np.abs(prior.hessian(w) - np.diag(hess))) < 1e-10 * np.max(np.abs(hess))


def test_joint_objective_gradient_and_minibatches(rng):
    net = prmlnet.Network((2, 3, 1))
    X, T = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    w = net.init_weights(rng)
    biases = np.concatenate([g for k, g in net.weight_groups().items() if k.startswith("b")])
    prior = SoftWeightSharing.initial(w, 3, indices=np.setdiff1d(np.arange(net.n_weights), biases))
    obj = Objective(net, X, T, prior=prmlnet.priors.GaussianPrior({"b": biases}, 0.3,
                                                                    net.n_weights))
    joint = SharedObjective(obj, prior)
    z = joint.join(w) + 0.1 * rng.standard_normal(net.n_weights + prior.n_params)
    E, g = joint(z)
    assert relative_error(g, central_differences(joint.error, z)) < 1e-8
    w_, mix = joint.split(z)
    assert E == pytest.approx(obj.error(w_) + mix.value_and_gradient(w_)[0], rel=1e-13)
    parts = [joint.minibatch(z, X[s], T[s], rows=np.arange(16)[s])
             for s in (slice(0, 5), slice(5, 16))]
    assert sum(p[0] for p in parts) == pytest.approx(E, rel=1e-12)
    assert relative_error(parts[0][1] + parts[1][1], g) < 1e-12
    with pytest.raises(ValueError, match="already holds"):
        SharedObjective(Objective(net, X, T, terms=[prior]), prior)


def test_recovers_the_centres_of_clustered_weights():
    """A linear model whose 15 true weights sit at −1, 0 and 1.5: trained jointly, the
    mixture's centres land on the clusters, and each weight on its cluster's centre."""
    rng = np.random.default_rng(3)
    centres = np.array([-1.0, 0.0, 1.5])
    w_true = np.r_[np.repeat(centres, 5), 0.0]              # 15 weights and a zero bias
    net = prmlnet.Network((15, 1), output="linear")
    X = rng.standard_normal((60, 15))
    T = net.predict(w_true, X) + 0.3 * rng.standard_normal((60, 1))
    w0 = np.zeros(net.n_weights)
    prior = SoftWeightSharing.initial(w0, 3, spread=1.0)
    joint = SharedObjective(Objective(net, X, T, beta=1 / 0.3 ** 2), prior)
    res = minimize(joint, joint.join(w0), "bfgs", max_iter=3000, gtol=1e-8)
    w, mix = joint.split(res.x)
    order = np.argsort(mix.mu)
    assert np.allclose(mix.mu[order], centres, atol=0.1)
    assert np.allclose(mix.pi[order], [5 / 16, 6 / 16, 5 / 16], atol=0.02)
    assigned = mix.mu[np.argmax(mix.responsibilities(w), axis=1)]
    assert np.allclose(assigned, w_true, atol=0.1)
    ls = np.linalg.lstsq(np.hstack([X, np.ones((60, 1))]), T[:, 0], rcond=None)[0]
    assert np.abs(w - w_true).max() < np.abs(ls - w_true).max()   # sharing helps


def test_pinned_component_stays_at_zero(rng):
    net = prmlnet.Network((1, 5, 1))
    X = np.linspace(-1, 1, 20)[:, None]
    T = np.sin(3 * X)
    w0 = net.init_weights(rng)
    prior = SoftWeightSharing.initial(w0, 3, pin_zero=True)
    assert prior.mu[0] == 0.0 and prior.n_params == 8
    joint = SharedObjective(Objective(net, X, T), prior)
    w, mix = joint.split(minimize(joint, joint.join(w0), "lbfgs", max_iter=200).x)
    assert mix.mu[0] == 0.0 and mix.mu[1] != prior.mu[1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(eta=[0.0], mu=[0.0, 1.0], log_sigma=[0.0]), "one entry per component"),
    (dict(eta=[0.0], mu=[1.0], log_sigma=[0.0], pin_zero=True), "pin_zero"),
    (dict(eta=[0.0], mu=[0.0], log_sigma=[np.nan]), "finite"),
    (dict(eta=[0.0], mu=[0.0], log_sigma=[0.0], lam=-1.0), "lam"),
    (dict(eta=[0.0], mu=[0.0], log_sigma=[0.0], indices=[0, 0]), "distinct"),
    (dict(eta=[0.0], mu=[0.0], log_sigma=[0.0], indices=[0.5]), "integers"),
])
def test_bad_mixtures_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SoftWeightSharing(4, **kwargs)


def test_bad_parameter_vectors_are_refused(rng):
    prior = mixture(rng)
    with pytest.raises(ValueError, match="parameters"):
        prior.with_params(np.zeros(3))
    with pytest.raises(ValueError, match="n_components"):
        SoftWeightSharing.initial(np.zeros(3), 0)
    with pytest.raises(ValueError, match="over 12 weights"):
        prior.value_and_gradient(np.zeros(5))
