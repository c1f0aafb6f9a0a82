"""The prior object and the door through which terms join the objective."""

import numpy as np
import pytest
from scipy import stats

import prmlnet
from prmlnet.objective import Objective
from prmlnet.optim import online, train_online
from prmlnet.priors import Batch, GaussianPrior, Term, as_prior, gaussian_prior
from prmlnet.testing import central_differences, relative_error


def small_net():
    return prmlnet.Network((3, 4, 2), hidden="tanh", output="linear")


@pytest.mark.parametrize("grouping", ["single", "layers", "ard"])
def test_groupings_partition_the_weights(grouping):
    net = small_net()
    prior = gaussian_prior(net, grouping, alpha=0.5)
    idx = np.concatenate(list(prior.groups.values()))
    assert np.array_equal(np.sort(idx), np.arange(net.n_weights))
    assert sum(prior.sizes.values()) == net.n_weights


def test_ard_groups_are_the_fan_out_of_each_input():
    net = small_net()
    prior = gaussian_prior(net, "ard", alpha=1.0)
    W1 = net.unpack(np.arange(net.n_weights, dtype=float))[0][0]      # (M, D) holding indices
    for i in range(net.n_inputs):
        assert np.array_equal(np.sort(prior.groups[f"x{i + 1}"]), np.sort(W1[:, i].astype(int)))


def test_biases_left_out_are_unpenalised(rng):
    net = small_net()
    prior = gaussian_prior(net, "layers", alpha={"W1": 1.0, "b1": 2.0, "W2": 3.0, "b2": 4.0},
                           biases=False)
    assert set(prior.groups) == {"W1", "W2"}
    groups = net.weight_groups()
    assert np.all(prior.alpha_vector[groups["b1"]] == 0) and np.all(prior.alpha_vector[groups["b2"]] == 0)
    assert prior.n_penalised == groups["W1"].size + groups["W2"].size
    with pytest.raises(ValueError, match="improper"):
        prior.sample(rng)


def test_energy_and_gradient_against_central_differences(rng):
    net = small_net()
    prior = gaussian_prior(net, "layers", alpha={"W1": 0.3, "b1": 2.0, "W2": 5.0, "b2": 0.01})
    w = rng.standard_normal(net.n_weights)
    E, g = prior.value_and_gradient(w)
    assert E == pytest.approx(prior.energy(w), rel=1e-15)
    assert relative_error(g, central_differences(prior.energy, w)) < 1e-8
    assert np.array_equal(prior.gradient(w), g)
    v = rng.standard_normal(net.n_weights)
    fd = central_differences(lambda u: prior.gradient(u) @ v, w)
    assert relative_error(prior.hvp(w, v), fd) < 1e-8
    assert np.array_equal(prior.hessian(w), prior.alpha_vector)


def test_group_energies_and_log_pdf_match_scipy(rng):
    net = small_net()
    alpha = {"W1": 0.3, "b1": 2.0, "W2": 5.0, "b2": 0.7}
    prior = gaussian_prior(net, "layers", alpha=alpha)
    w = rng.standard_normal(net.n_weights)
    groups = net.weight_groups()
    energies = prior.group_energies(w)
    assert prior.energy(w) == pytest.approx(sum(alpha[k] * energies[k] for k in alpha), rel=1e-13)
    expected = sum(stats.norm.logpdf(w[groups[k]], scale=alpha[k] ** -0.5).sum() for k in alpha)
    assert prior.log_pdf(w) == pytest.approx(expected, rel=1e-12)


def test_with_alpha_returns_a_new_prior_and_keeps_the_old():
    net = small_net()
    prior = gaussian_prior(net, "layers", alpha=1.0)
    other = prior.with_alpha({"W1": 2.0, "b1": 3.0, "W2": 4.0, "b2": 5.0})
    assert prior.alpha == {"W1": 1.0, "b1": 1.0, "W2": 1.0, "b2": 1.0}
    assert other.alpha["b2"] == 5.0 and other.groups.keys() == prior.groups.keys()
    assert other != prior and prior.with_alpha(1.0) == prior
    assert "W1: 2 (12)" in repr(other)


def test_masks_and_index_arrays_give_the_same_prior():
    W = 10
    mask = np.zeros(W, dtype=bool)
    mask[[1, 3, 4]] = True
    assert GaussianPrior({"g": mask}, 2.0, W) == GaussianPrior({"g": [1, 3, 4]}, 2.0, W)


def test_sample_spread_grows_as_one_over_root_alpha():
    net = small_net()
    for alpha in (0.25, 4.0, 100.0):
        S = gaussian_prior(net, "single", alpha=alpha).sample(0, size=4000)
        assert S.shape == (4000, net.n_weights)
        assert np.std(S) == pytest.approx(alpha ** -0.5, rel=0.02)


@pytest.mark.parametrize("groups, alpha, message", [
    ({"a": [0, 1], "b": [1, 2]}, 1.0, "overlap"),
    ({"a": [0, 99]}, 1.0, "outside"),
    ({"a": []}, 1.0, "empty"),
    ({"a": [0.5]}, 1.0, "integer"),
    ({"a": [0]}, -1.0, "alpha"),
    ({"a": [0]}, float("nan"), "alpha"),
    ({"a": [0]}, True, "alpha"),
    ({"a": [0]}, {"b": 1.0}, "unknown"),
])
def test_bad_priors_are_refused(groups, alpha, message):
    with pytest.raises(ValueError, match=message):
        GaussianPrior(groups, alpha, 10)


def test_shorthand_becomes_a_prior_at_once():
    net = small_net()
    assert as_prior(net, 0.0) is None and as_prior(net, None) is None
    p = as_prior(net, 0.1)
    assert isinstance(p, GaussianPrior) and p.sizes == {"w": net.n_weights}
    q = as_prior(net, {"W1": 1.0})
    assert list(q.groups) == ["W1"] and q.n_penalised == net.weight_groups()["W1"].size
    with pytest.raises(ValueError, match="unknown weight groups"):
        as_prior(net, {"W9": 1.0})
    with pytest.raises(ValueError, match="over 5 weights"):
        as_prior(net, GaussianPrior({"w": [0]}, 1.0, 5))
    obj = Objective(net, np.zeros((3, 3)), np.zeros((3, 2)), alpha={"W1": 1.0})
    assert obj.prior == q
    with pytest.raises(ValueError, match="not both"):
        Objective(net, np.zeros((3, 3)), np.zeros((3, 2)), 0.1, alpha=0.1)


def test_objective_with_a_prior_equals_the_shorthand(rng):
    net = small_net()
    X, T = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))
    w = net.init_weights(rng)
    a = Objective(net, X, T, alpha={"W1": 0.5, "W2": 2.0}, beta=3.0)
    b = Objective(net, X, T, gaussian_prior(net, {"W1": net.weight_groups()["W1"],
                                                  "W2": net.weight_groups()["W2"]},
                                            {"W1": 0.5, "W2": 2.0}), beta=3.0)
    Ea, ga = a(w)
    Eb, gb = b(w)
    assert Ea == pytest.approx(Eb, rel=1e-14) and np.allclose(ga, gb, rtol=1e-14, atol=0)
    assert Ea == pytest.approx(3.0 * net.error(w, X, T) + b.prior.energy(w), rel=1e-13)


class RowQuadratic(Term):
    r"""A per-pattern term that holds an array of its own, one row per pattern:
    :math:`\Omega = \frac{\lambda}{2}\sum_n (\mathbf{c}_n^\mathrm{T}\mathbf{w})^2`."""

    per_pattern = True

    def __init__(self, C, lam):
        self.C, self.lam = C, lam

    def value_and_gradient(self, w, batch):
        Cb = self.C[batch.rows]
        r = Cb @ w
        return 0.5 * self.lam * float(r @ r), self.lam * (Cb.T @ r)

    def hvp(self, w, v, batch):
        Cb = self.C[batch.rows]
        return self.lam * (Cb.T @ (Cb @ v))

    def hessian(self, w, batch):
        Cb = self.C[batch.rows]
        return self.lam * (Cb.T @ Cb)


class Quartic(Term):
    """A weight-only term that is not Gaussian: Ω = κ Σ_i w_i⁴ (diagonal Hessian)."""

    def __init__(self, kappa):
        self.kappa = kappa

    def value_and_gradient(self, w, batch=None):
        return self.kappa * float(np.sum(w ** 4)), 4 * self.kappa * w ** 3

    def hvp(self, w, v, batch=None):
        return 12 * self.kappa * w ** 2 * v

    def hessian(self, w, batch=None):
        return 12 * self.kappa * w ** 2


def door_problem(rng, chunk_size):
    net = small_net()
    N = 13
    X, T = rng.standard_normal((N, 3)), rng.standard_normal((N, 2))
    C = rng.standard_normal((N, net.n_weights))
    obj = Objective(net, X, T, alpha=0.2, beta=2.0, chunk_size=chunk_size,
                    terms=[RowQuadratic(C, 0.7), Quartic(0.05)])
    return net, X, T, C, obj


@pytest.mark.parametrize("chunk_size", [1, 4, 100])
def test_terms_enter_the_error_and_all_its_derivatives(chunk_size, rng):
    net, X, T, C, obj = door_problem(rng, chunk_size)
    w = net.init_weights(rng)
    E, g = obj(w)
    expected = (2.0 * net.error(w, X, T) + 0.1 * w @ w + 0.35 * np.sum((C @ w) ** 2)
                + 0.05 * np.sum(w ** 4))
    assert E == pytest.approx(expected, rel=1e-13)
    assert relative_error(g, central_differences(obj.error, w)) < 1e-8
    v = rng.standard_normal(net.n_weights)
    assert relative_error(obj.hvp(w, v), central_differences(lambda u: obj.gradient(u) @ v, w)) < 1e-7
    H = obj.hessian(w)
    assert relative_error(H @ v, obj.hvp(w, v)) < 1e-12
    d = obj.diagonal(w)
    from prmlnet import hessian
    extra = 0.2 + 0.7 * np.sum(C * C, axis=0) + 0.6 * w ** 2
    assert relative_error(d, 2.0 * hessian.diagonal(net, w, X, T) + extra) < 1e-12


def test_minibatches_of_an_epoch_add_up_to_the_full_error(rng):
    net, X, T, C, obj = door_problem(rng, 100)
    w = net.init_weights(rng)
    order = rng.permutation(X.shape[0])
    parts = [obj.minibatch(w, X[b], T[b], rows=b) for b in np.array_split(order, 4)]
    E, g = obj(w)
    assert sum(p[0] for p in parts) == pytest.approx(E, rel=1e-13)
    assert relative_error(sum(p[1] for p in parts), g) < 1e-13
    with pytest.raises(ValueError, match="row indices"):
        obj.minibatch(w, X[:3], T[:3])


def test_train_online_gives_the_rows_to_per_pattern_terms(rng):
    net, X, T, C, obj = door_problem(rng, 100)
    w0 = net.init_weights(rng)
    res = train_online(obj.minibatch, w0, X, T, online.sgd(1e-3), batch_size=3, n_epochs=3, rng=1)
    assert res.history.fun[-1] < res.history.fun[0]
    assert res.fun == pytest.approx(obj.error(res.x), rel=1e-13)


def test_batch_carries_rows():
    b = Batch(np.zeros((2, 1)), np.zeros((2, 1)), slice(0, 2))
    assert b.rows == slice(0, 2)


# -- consistent priors (§5.5.1) -------------------------------------------------------------
def mapped_weights(net, w, a=1.0, b=0.0, c=1.0, d=0.0):
    """The weights that compute the same function on inputs a x + b, targets c t + d."""
    (W1, b1), (W2, b2) = net.unpack(w)
    return np.concatenate([(W1 / a).ravel(), b1 - W1.sum(1) * b / a, (c * W2).ravel(),
                           c * b2 + d])


@pytest.mark.parametrize("transform", [dict(a=7.0, b=-2.0), dict(c=0.2, d=3.0)])
def test_layer_priors_rescaled_with_the_data_leave_the_objective_invariant(transform, rng):
    """x → a x + b with α_1 → a² α_1, and t → c t + d with α_2 → α_2/c² and β → β/c²: the
    objective at the mapped weights equals the original one for every w, so the minima
    (and trained network functions) correspond. A single α does not have this property."""
    net = prmlnet.Network((2, 3, 1))
    X, T = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    a, b = transform.get("a", 1.0), transform.get("b", 0.0)
    c, d = transform.get("c", 1.0), transform.get("d", 0.0)
    alpha, beta = {"W1": 0.3, "W2": 2.0}, 4.0
    scaled = {"W1": alpha["W1"] * a * a, "W2": alpha["W2"] / (c * c)}
    original = Objective(net, X, T, alpha=alpha, beta=beta)
    moved = Objective(net, a * X + b, c * T + d, alpha=scaled, beta=beta / (c * c))
    shared = Objective(net, a * X + b, c * T + d, alpha={"W1": 0.3, "W2": 0.3},
                       beta=beta / (c * c))
    ref = Objective(net, X, T, alpha={"W1": 0.3, "W2": 0.3}, beta=beta)
    for _ in range(3):
        w = net.init_weights(rng)
        v = mapped_weights(net, w, a, b, c, d)
        assert np.allclose(net.predict(v, a * X + b), c * net.predict(w, X) + d, rtol=1e-12)
        assert moved.error(v) == pytest.approx(original.error(w), rel=1e-12)
        assert abs(shared.error(v) - ref.error(w)) > 1e-3 * abs(ref.error(w))
    # a minimum of the original maps to a minimum of the rescaled problem, not of the shared one
    from prmlnet.optim import minimize
    w_min = minimize(original, net.init_weights(rng), "bfgs", max_iter=3000, gtol=1e-10,
                     ftol=0).x
    v_min = mapped_weights(net, w_min, a, b, c, d)
    assert np.max(np.abs(original.gradient(w_min))) < 1e-9
    assert np.max(np.abs(moved.gradient(v_min))) < 1e-8
    w_ref = minimize(ref, net.init_weights(rng), "bfgs", max_iter=3000, gtol=1e-10, ftol=0).x
    assert np.max(np.abs(shared.gradient(mapped_weights(net, w_ref, a, b, c, d)))) > 1e-2


def test_function_spread_scales_as_one_over_root_alpha_w2():
    """Figure 5.11's vertical scale: y = W2 z + b2, so with the offset switched off
    (α_b2 large) the spread of y over draws from the prior goes as 1/√α_w2."""
    net = prmlnet.Network((1, 12, 1))
    x = np.linspace(-2, 2, 9)[:, None]
    spread = {}
    for a2 in (1.0, 4.0, 100.0):
        prior = gaussian_prior(net, "layers", {"W1": 1.0, "b1": 1.0, "W2": a2, "b2": 1e8})
        W = prior.sample(7, size=1500)
        Y = np.stack([net.predict(w, x)[:, 0] for w in W])
        spread[a2] = Y.std(axis=0)
        Y0 = Y - W[:, -1:]                          # without the output bias b2
        if a2 == 1.0:
            base = Y0
        else:                                       # the same draws, scaled exactly
            assert np.allclose(Y0, base / np.sqrt(a2), rtol=1e-10, atol=1e-12)
    ratio = spread[1.0] / spread[4.0]
    assert np.allclose(ratio, 2.0, rtol=1e-3)
    independent = np.stack([net.predict(w, x)[:, 0] for w in gaussian_prior(
        net, "layers", {"W1": 1.0, "b1": 1.0, "W2": 100.0, "b2": 1e8}).sample(8, 1500)])
    assert np.allclose(independent.std(0) * 10, spread[1.0], rtol=0.1)
