"""prmlnet.objective.Objective: data term + prior term, chunked sums, curvature."""

import numpy as np
import pytest

import prmlnet
from prmlnet.objective import Objective, default_chunk_size
from prmlnet.priors import Term
from prmlnet.testing import central_differences, relative_error


def problem(rng, output="softmax", sizes=(3, 5, 4), N=23):
    net = prmlnet.Network(sizes, output=output)
    X = rng.standard_normal((N, sizes[0]))
    K = sizes[-1]
    if output == "linear":
        T = rng.standard_normal((N, K))
    elif output == "logistic":
        T = (rng.random((N, K)) < 0.5).astype(float)
    else:
        T = np.eye(K)[rng.integers(0, K, N)]
    return net, X, T, net.init_weights(rng)


ALPHAS = [0.0, 0.3, {"W1": 0.2, "W2": 1.5}, {"W1": 0.1, "b1": 0.4, "W2": 0.2, "b2": 0.7}]


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
def test_gradient_matches_central_differences(alpha, output, rng):
    net, X, T, w = problem(rng, output)
    obj = Objective(net, X, T, alpha=alpha, beta=2.5, chunk_size=4)
    E, g = obj(w)
    assert E == obj.error(w)
    assert relative_error(g, central_differences(obj.error, w)) < 1e-7


@pytest.mark.parametrize("alpha", ALPHAS)
def test_error_is_beta_data_error_plus_prior(alpha, rng):   # (5.112) with groups
    net, X, T, w = problem(rng)
    obj = Objective(net, X, T, alpha=alpha, beta=3.0)
    a = np.zeros(net.n_weights)
    groups = net.weight_groups()
    for name, val in (alpha.items() if isinstance(alpha, dict) else
                      ((n, alpha) for n in groups)):
        a[groups[name]] = val
    assert np.array_equal(obj.alpha_vector, a)
    assert obj.data_error(w) == pytest.approx(net.error(w, X, T), rel=1e-13)
    assert obj.prior_error(w) == pytest.approx(0.5 * np.sum(a * w * w), rel=1e-13)
    assert obj.error(w) == pytest.approx(3.0 * net.error(w, X, T) + 0.5 * np.sum(a * w * w),
                                         rel=1e-13)
    assert np.allclose(obj.gradient(w), 3.0 * net.gradient(w, X, T) + a * w, rtol=1e-13, atol=1e-13)


def test_unnamed_groups_are_unpenalised(rng):
    net, X, T, w = problem(rng)
    obj = Objective(net, X, T, alpha={"W1": 1.0, "W2": 1.0})
    for name, idx in net.weight_groups().items():
        assert np.all(obj.alpha_vector[idx] == (1.0 if name.startswith("W") else 0.0))


def test_prior_terms_per_group(rng):
    net, X, T, w = problem(rng)
    obj = Objective(net, X, T, alpha={"W1": 2.0, "W2": 3.0})
    terms = obj.prior_terms(w)
    groups = net.weight_groups()
    assert set(terms) == {"W1", "W2"}                       # the prior's groups; biases free
    for name in terms:
        assert terms[name] == pytest.approx(0.5 * w[groups[name]] @ w[groups[name]], rel=1e-13)
    assert obj.prior_error(w) == pytest.approx(2.0 * terms["W1"] + 3.0 * terms["W2"], rel=1e-13)


@pytest.mark.parametrize("chunk_size", [1, 5, 23, 1000])
def test_chunked_sums_equal_one_pass(chunk_size, rng):
    net, X, T, w = problem(rng)
    whole = Objective(net, X, T, alpha=0.1, chunk_size=10_000)
    parts = Objective(net, X, T, alpha=0.1, chunk_size=chunk_size)
    E1, g1 = whole(w)
    E2, g2 = parts(w)
    assert E2 == pytest.approx(E1, rel=1e-13) and np.allclose(g2, g1, rtol=1e-12, atol=1e-13)
    assert parts.data_error(w) == pytest.approx(whole.data_error(w), rel=1e-13)


def test_default_chunk_size_is_bounded():
    assert default_chunk_size(prmlnet.Network((1, 3, 1))) == 4096
    assert default_chunk_size(prmlnet.Network((10, 50, 3))) == 327
    assert default_chunk_size(prmlnet.Network((784, 1000, 10))) == 128


def test_minibatches_of_an_epoch_add_up_to_the_objective(rng):
    net, X, T, w = problem(rng, N=30)
    obj = Objective(net, X, T, alpha={"W1": 0.3, "b2": 0.1}, beta=1.7)
    order = rng.permutation(30)
    Es, gs = zip(*(obj.minibatch(w, X[idx], T[idx]) for idx in np.array_split(order, 4)))
    E, g = obj(w)
    assert sum(Es) == pytest.approx(E, rel=1e-13)
    assert np.allclose(sum(gs), g, rtol=1e-12, atol=1e-13)


def test_returned_gradients_are_fresh_arrays(rng):
    net, X, T, w = problem(rng)
    obj = Objective(net, X, T, chunk_size=5)
    _, g1 = obj(w)
    keep = g1.copy()
    obj(w + 0.1)
    assert np.array_equal(g1, keep)


def test_curvature_methods_add_the_prior_and_match_differences(rng):
    from prmlnet import hessian

    net, X, T, w = problem(rng, "softmax", sizes=(2, 3, 3), N=11)
    alpha = {"W1": 0.5, "W2": 0.25}
    obj = Objective(net, X, T, alpha=alpha, beta=2.0, chunk_size=3)
    H = obj.hessian(w)
    assert relative_error(H, central_differences(obj.gradient, w)) < 1e-7
    v = rng.standard_normal(net.n_weights)
    assert np.allclose(obj.hvp(w, v), H @ v, rtol=1e-10, atol=1e-12)
    whole = Objective(net, X, T, alpha=alpha, beta=2.0)
    assert np.allclose(obj.outer_product(w), whole.outer_product(w), rtol=1e-12, atol=1e-13)
    assert np.allclose(obj.outer_product(w),
                       2.0 * hessian.outer_product(net, w, X, T) + np.diag(obj.alpha_vector),
                       rtol=1e-12, atol=1e-13)
    assert np.allclose(obj.diagonal(w),
                       2.0 * hessian.diagonal(net, w, X, T) + obj.alpha_vector, rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": -1.0}, "alpha"),
    ({"alpha": {"W9": 1.0}}, "unknown weight groups"),
    ({"alpha": {"W1": -0.1}}, "alpha"),
    ({"alpha": "big"}, "alpha"),
    ({"beta": 0.0}, "beta"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_bad_settings_raise(kwargs, match, rng):
    net, X, T, w = problem(rng)
    with pytest.raises(ValueError, match=match):
        Objective(net, X, T, **kwargs)


def test_bad_weights_and_data_raise(rng):
    net, X, T, w = problem(rng)
    obj = Objective(net, X, T)
    with pytest.raises(ValueError, match="shape"):
        obj(w[:-1])
    bad = w.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        obj(bad)
    with pytest.raises(ValueError, match="patterns"):
        Objective(net, X, T[:-1])
    with pytest.raises(ValueError, match="columns"):
        Objective(net, X[:, :2], T)


@pytest.mark.reference
def test_matches_pytorch_autodiff(rng):
    torch = pytest.importorskip("torch")
    from torch.func import grad

    net, X, T, w = problem(rng, "softmax", sizes=(3, 4, 3), N=9)
    alpha = {"W1": 0.3, "b1": 0.05, "W2": 0.7}
    obj = Objective(net, X, T, alpha=alpha, beta=1.3, chunk_size=4)
    Xt, Tt = torch.tensor(X), torch.tensor(T)
    at = torch.tensor(obj.alpha_vector)

    def E(wt):
        W1, b1 = wt[:12].reshape(4, 3), wt[12:16]
        W2, b2 = wt[16:28].reshape(3, 4), wt[28:31]
        a = torch.tanh(Xt @ W1.T + b1) @ W2.T + b2
        ED = -(Tt * torch.log_softmax(a, dim=1)).sum()
        return 1.3 * ED + 0.5 * (at * wt * wt).sum()

    wt = torch.tensor(w)
    E_ours, g_ours = obj(w)
    assert abs(E_ours - float(E(wt))) <= 1e-12 * abs(E_ours)
    assert relative_error(g_ours, grad(E)(wt).numpy()) < 1e-10


class RowQuadratic(Term):
    r"""Ω = ½ Σ_n (a_n·w)² over the batch's rows, the a_n rows of an array the term holds:
    right only if ``batch.rows`` are rows of the whole data set."""

    per_pattern = True

    def __init__(self, A):
        self.A = A

    def value_and_gradient(self, w, batch=None):
        a = self.A[batch.rows]
        s = a @ w
        return 0.5 * float(s @ s), a.T @ s

    def hvp(self, w, v, batch=None):
        a = self.A[batch.rows]
        return a.T @ (a @ v)

    def hessian(self, w, batch=None):
        a = self.A[batch.rows]
        return a.T @ a


def test_objective_hvp_takes_many_directions_terms_included(rng):
    # the hook the partitions use: Objective.hvp with R directions (rows) at once
    net, X, T, w = problem(rng, "linear", sizes=(3, 4, 2), N=60)
    terms = [RowQuadratic(rng.standard_normal((60, net.n_weights)))]
    obj = Objective(net, X, T, alpha={"W1": 0.3, "W2": 0.1}, beta=1.7, terms=terms,
                    chunk_size=25)
    V = rng.standard_normal((3, net.n_weights))
    HV = obj.hvp(w, V)
    assert HV.shape == V.shape
    assert relative_error(HV, V @ obj.hessian(w)) < 1e-12
    assert relative_error(HV[1], obj.hvp(w, V[1])) < 1e-14
    with pytest.raises(ValueError, match=r"it must be \(26,\) or \(R, 26\)"):
        obj.hvp(w, V[:, :5])

