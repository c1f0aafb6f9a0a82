"""Curvature in use: LinearOperator, eigenvalues, the regularized objective, Newton–CG, scg."""

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator

import prmlnet
from prmlnet import hessian, optim
from prmlnet.objective import Objective
from prmlnet.testing import relative_error

from conftest import tiny_problem


def sine_problem(rng, N=30, M=4):
    net = prmlnet.Network((1, M, 1), hidden="tanh", output="linear")
    X = np.linspace(-1, 1, N)[:, None]
    T = np.sin(np.pi * X) + 0.1 * rng.standard_normal((N, 1))
    return net, X, T


# -- LinearOperator and eigenvalues -------------------------------------------------------

@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
def test_linear_operator_applies_h_plus_alpha_without_forming_it(output, rng):
    net, X, T = tiny_problem(output, rng, sizes=(3, 5, 4, 3), N=10)
    w = net.init_weights(rng)
    op = hessian.linear_operator(net, w, X, T, alpha=0.7)
    assert isinstance(op, LinearOperator) and op.shape == (net.n_weights,) * 2
    H = hessian.exact(net, w, X, T) + 0.7 * np.eye(net.n_weights)
    v = rng.standard_normal(net.n_weights)
    V = rng.standard_normal((net.n_weights, 4))
    assert relative_error(op @ v, H @ v) < 1e-12
    assert relative_error(op.matmat(V), H @ V) < 1e-12
    assert relative_error(op.rmatvec(v), H @ v) < 1e-12


@pytest.mark.parametrize("output", ["linear", "softmax"])
def test_extreme_eigenvalues_by_lanczos_equal_dense_ones(output, rng):
    net, X, T = tiny_problem(output, rng, sizes=(3, 6, 3), N=15)
    w = net.init_weights(rng)
    lam = np.linalg.eigvalsh(hessian.exact(net, w, X, T))
    ev = hessian.extreme_eigenvalues(net, w, X, T, k=2, rng=0)
    np.testing.assert_allclose(ev.smallest, lam[:2], rtol=1e-8, atol=1e-10 * abs(lam).max())
    np.testing.assert_allclose(ev.largest, lam[-2:], rtol=1e-8)
    assert ev.smallest[0] < 0 < ev.largest[-1]            # indefinite away from a minimum


def test_linear_operator_refuses_missing_data(rng):
    net, X, T = tiny_problem("linear", rng)
    with pytest.raises(ValueError, match="give the data"):
        hessian.linear_operator(net, net.init_weights(rng))
    with pytest.raises(ValueError, match="k must be"):
        hessian.extreme_eigenvalues(net, net.init_weights(rng), X, T, k=0)


# -- the regularized objective: β H + diag(α) ---------------------------------------------

def test_objective_curvature_is_beta_h_plus_per_group_alpha(rng):
    net, X, T = tiny_problem("logistic", rng, sizes=(3, 5, 2), N=13)
    w = net.init_weights(rng)
    alpha = {"W1": 0.3, "b1": 0.1, "W2": 2.0}
    obj = Objective(net, X, T, alpha=alpha, beta=1.7, chunk_size=4)
    H = 1.7 * hessian.exact(net, w, X, T) + np.diag(obj.alpha_vector)
    assert relative_error(obj.hessian(w), H) < 1e-12
    v = rng.standard_normal(net.n_weights)
    assert relative_error(obj.hvp(w, v), H @ v) < 1e-12
    G = 1.7 * hessian.outer_product(net, w, X, T) + np.diag(obj.alpha_vector)
    assert relative_error(obj.outer_product(w), G) < 1e-12
    # the objective's Hessian is the finite difference of its own gradient
    Hfd = np.column_stack([(obj(w + 1e-5 * e)[1] - obj(w - 1e-5 * e)[1]) / 2e-5
                           for e in np.eye(net.n_weights)])
    assert relative_error(obj.hessian(w), Hfd) < 1e-7
    op = hessian.linear_operator(obj, w)
    assert relative_error(op @ v, H @ v) < 1e-12
    ev = hessian.extreme_eigenvalues(obj, w, k=1, rng=0)
    lam = np.linalg.eigvalsh(H)
    np.testing.assert_allclose([ev.smallest[0], ev.largest[0]], [lam[0], lam[-1]], rtol=1e-8)


# -- Newton–CG with exact H·v, and scg's hvp hook ----------------------------------------

def test_newton_cg_converges_in_few_iterations_on_a_convex_problem(rng):
    net, X, T = tiny_problem("softmax", rng, sizes=(4, 3), N=40)   # multiclass logistic regression
    obj = Objective(net, X, T, alpha=0.1)
    res = optim.minimize(obj, net.init_weights(rng), method="newton", hvp=obj.hvp, gtol=1e-10)
    assert res.success, res.message
    assert res.nit <= 12
    assert np.max(np.abs(obj.gradient(res.x))) <= 1e-10


def test_newton_cg_trains_a_network_in_fewer_iterations_than_bfgs(rng):
    net, X, T = sine_problem(rng)
    obj = Objective(net, X, T, alpha=1e-3)
    w0 = net.init_weights(rng)
    res = optim.minimize(obj, w0, method="newton", gtol=1e-9, ftol=0, max_iter=500, cg_rtol=1e-3)
    assert res.success, res.message
    assert np.max(np.abs(obj.gradient(res.x))) <= 1e-9
    assert hessian.extreme_eigenvalues(obj, res.x).smallest[0] > 0    # a minimum: H there is PD
    ref = optim.minimize(obj, w0, method="bfgs", gtol=1e-9, ftol=0, max_iter=2000)
    assert res.nit < ref.nit / 3


def test_newton_near_a_minimum_converges_superlinearly(rng):
    net, X, T = sine_problem(rng)
    obj = Objective(net, X, T, alpha=1e-3)
    start = optim.minimize(obj, net.init_weights(rng), method="bfgs", gtol=1e-7).x
    H = hessian.exact(net, start, X, T) + 1e-3 * np.eye(net.n_weights)
    assert np.linalg.eigvalsh(H)[0] > 0                      # near a minimum indeed
    res = optim.minimize(obj, start, method="newton", gtol=1e-10, ftol=0, max_iter=50)  # obj.hvp
    assert res.success and res.nit <= 5
    g = res.history.grad_norm
    # one step of a linearly convergent method gains a constant factor; Newton's,
    # from this close, squares the distance: over two digits at once
    assert g[-1] <= 1e-10 and g[1] < 1e-2 * g[0]


def test_newton_without_hvp_uses_gradient_differences(rng):
    w0 = np.array([-1.2, 1.0])

    def rosen(w):
        x, y = w
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2, np.array(
            [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])

    res = optim.minimize(rosen, w0, method="newton", gtol=1e-8, max_iter=200)
    assert res.success and np.allclose(res.x, 1.0, atol=1e-6)
    assert res.nhev > 0 and res.nfev > res.nit + 1           # difference gradients counted


def test_newton_rejects_bad_options():
    with pytest.raises(ValueError, match="eta"):
        optim.minimize(lambda w: (w @ w, 2 * w), np.ones(2), method="newton", eta=0.5)


def test_scg_with_exact_hvp_trains_the_network(rng):
    net, X, T = sine_problem(rng)
    obj = Objective(net, X, T, alpha=1e-3)
    w0 = net.init_weights(rng)
    calls = []

    def hvp(w, v):
        calls.append(1)
        return obj.hvp(w, v)

    res = optim.minimize(obj, w0, method="scg", hvp=hvp, gtol=1e-5, ftol=0, max_iter=5000)
    assert res.success, res.message
    assert len(calls) == res.nhev > 0
    assert np.max(np.abs(obj.gradient(res.x))) <= 1e-5
    # exact curvature replaces scg's extra gradient evaluation per step
    fd = optim.minimize(obj, w0, method="scg", gtol=1e-5, ftol=0, max_iter=5000)
    assert fd.nhev == 0 and res.nfev < 0.7 * fd.nfev
