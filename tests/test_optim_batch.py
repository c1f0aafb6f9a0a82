"""Batch methods of prmlnet.optim: quadratics, Rosenbrock, small networks, scipy as oracle."""

import math

import numpy as np
import pytest
import scipy.optimize

import prmlnet
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import METHODS, EarlyStopping, Status, minimize, scipy_method
from prmlnet.testing import relative_error

METHOD_NAMES = ["gd", "cg", "scg", "bfgs", "lbfgs"]


def quadratic(W, cond, rng):
    """E = ½ wᵀAw − bᵀw with eigenvalues spread over [1, cond]."""
    Q, _ = np.linalg.qr(rng.standard_normal((W, W)))
    A = (Q * np.geomspace(1.0, cond, W)) @ Q.T
    b = rng.standard_normal(W)
    return A, b, (lambda w: (0.5 * w @ A @ w - b @ w, A @ w - b))


def rosenbrock(w):
    x, y = w
    return ((1 - x) ** 2 + 100 * (y - x * x) ** 2,
            np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]))


def options(method, lr=None):
    return {"learning_rate": lr} if method == "gd" else {}


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_quadratic_minimum_matches_linear_solve(method, rng):
    A, b, fg = quadratic(12, 10.0, rng)
    res = minimize(fg, np.zeros(12), method, max_iter=2000, gtol=1e-10, ftol=0.0,
                   **options(method, lr=1.0 / 10.0))
    assert res.status is Status.CONVERGED, res.message
    assert np.allclose(res.x, np.linalg.solve(A, b), rtol=0, atol=1e-9)


def linear_cg_residuals(A, b, n):
    """Textbook linear CG from 0 (Hestenes & Stiefel): ‖Aw − b‖∞ after each step."""
    x, r = np.zeros(b.size), b.copy()
    p, out = r.copy(), [np.abs(b).max()]
    for _ in range(n):
        Ap = A @ p
        a = (r @ r) / (p @ Ap)
        x, r_new = x + a * p, r - a * Ap
        p, r = r_new + (r_new @ r_new) / (r @ r) * p, r_new
        out.append(np.abs(A @ x - b).max())
    return np.array(out)


def test_cg_with_exact_line_search_ends_in_at_most_W_iterations(rng):
    W = 12
    A, b, fg = quadratic(W, 10.0, rng)
    res = minimize(fg, np.zeros(W), "cg", c1=1e-10, c2=1e-9, restart=10 * W, gtol=1e-7,
                   ftol=0.0, max_iter=10 * W)
    assert res.status is Status.CONVERGED
    assert res.nit <= W
    assert np.allclose(res.x, np.linalg.solve(A, b), atol=1e-8)
    # The same iterates as linear CG: the directions are mutually conjugate.
    ref = linear_cg_residuals(A, b, res.nit)
    assert np.allclose(res.history.grad_norm[:-1], ref[:-1], rtol=1e-6)


def test_scg_with_exact_curvature_ends_in_at_most_W_iterations(rng):
    W = 12
    A, b, fg = quadratic(W, 10.0, rng)
    res = minimize(fg, np.zeros(W), "scg", hvp=lambda w, v: A @ v, gtol=1e-7, ftol=0.0,
                   max_iter=10 * W, lambda0=1e-12)
    assert res.status is Status.CONVERGED
    assert res.nit <= W
    assert res.nhev == res.nit and res.nfev == res.nit + 1   # one H·v and one evaluation per step
    assert np.allclose(res.x, np.linalg.solve(A, b), atol=1e-8)
    ref = linear_cg_residuals(A, b, res.nit)
    assert np.allclose(res.history.grad_norm[:-1], ref[:-1], rtol=1e-6)


@pytest.mark.parametrize("method", ["cg", "scg", "bfgs", "lbfgs"])
def test_rosenbrock_matches_scipy(method):
    w0 = np.array([-1.2, 1.0])
    res = minimize(rosenbrock, w0, method, max_iter=2000, gtol=1e-8, ftol=0.0)
    ref = scipy.optimize.minimize(rosenbrock, w0, jac=True, method="BFGS", options={"gtol": 1e-8})
    assert res.success, res.message
    assert np.allclose(res.x, ref.x, atol=1e-6) and np.allclose(res.x, 1.0, atol=1e-6)


def test_gd_with_line_search_on_rosenbrock_descends_monotonically():
    res = minimize(rosenbrock, np.array([-1.2, 1.0]), "gd", line_search=True, max_iter=300)
    assert np.all(np.diff(res.history.fun) < 0)
    assert res.fun < 0.1 * rosenbrock(np.array([-1.2, 1.0]))[0]


@pytest.mark.parametrize("method, nit, nfev", [
    ("cg", 31, 80), ("scg", 37, 85), ("bfgs", 37, 45), ("lbfgs", 36, 45)])
def test_pinned_evaluation_counts_on_rosenbrock(method, nit, nfev):
    # A known-good run: a change in these counts is a change in the algorithm.
    res = minimize(rosenbrock, np.array([-1.2, 1.0]), method)
    assert (res.nit, res.nfev, res.njev) == (nit, nfev, nfev)
    assert res.success


def softmax_regression(rng, alpha=0.1):
    """A network with no hidden layer and softmax outputs: convex in w, so every
    method must find the same (unique, with alpha > 0) minimum."""
    net = prmlnet.Network((3, 4), output="softmax")
    X = rng.standard_normal((40, 3))
    T = np.eye(4)[rng.integers(0, 4, 40)]
    return net, Objective(net, X, T, alpha=alpha)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_convex_network_minimum_matches_scipy(method, rng):
    net, obj = softmax_regression(rng)
    w0 = net.init_weights(rng)
    ref = scipy.optimize.minimize(obj, w0, jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 5000})
    res = minimize(obj, w0, method, max_iter=5000, gtol=1e-8, ftol=0.0,
                   **options(method, lr=0.05))
    assert res.success, res.message
    assert abs(res.fun - ref.fun) <= 1e-9 * abs(ref.fun)
    assert np.allclose(res.x, ref.x, atol=1e-6)


@pytest.mark.parametrize("method", ["cg", "scg", "bfgs", "lbfgs"])
def test_small_network_ends_at_a_minimum_scipy_cannot_improve(method):
    X, T = sinusoidal(30, rng=3)
    net = prmlnet.Network((1, 3, 1))
    obj = Objective(net, X, T, alpha=1e-3)
    w0 = net.init_weights(7)
    res = minimize(obj, w0, method, max_iter=5000, gtol=1e-7, ftol=0.0)
    assert res.fun < 0.5 * obj.error(w0)
    polish = scipy.optimize.minimize(obj, res.x, jac=True, method="BFGS", options={"gtol": 1e-9})
    assert polish.fun >= res.fun - 1e-7 * res.fun
    assert np.linalg.norm(polish.x - res.x) < 1e-3


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_runs_behind_scipy_minimize(method):
    seen = []
    opts = {"maxiter": 3000, **({"learning_rate": 1e-3} if method == "gd" else {})}
    res = scipy.optimize.minimize(rosenbrock, np.array([-1.2, 1.0]), jac=True,
                                  method=scipy_method(method), callback=seen.append,
                                  options=opts)
    ours = minimize(rosenbrock, np.array([-1.2, 1.0]), method, max_iter=3000,
                    **options(method, lr=1e-3))
    assert np.array_equal(res.x, ours.x) and res.nfev == ours.nfev
    assert len(seen) == res.nit and np.array_equal(seen[-1], res.x)


def test_scipy_method_with_separate_jac_and_intermediate_result_callback():
    got = []

    def cb(intermediate_result):
        got.append(intermediate_result.fun)

    res = scipy.optimize.minimize(lambda w: rosenbrock(w)[0], np.array([-1.2, 1.0]),
                                  jac=lambda w: rosenbrock(w)[1], method=scipy_method("bfgs"),
                                  callback=cb)
    assert res.success and got[-1] == res.fun


def test_history_records_every_iteration(rng):
    _, _, fg = quadratic(6, 10.0, rng)
    res = minimize(fg, np.ones(6), "bfgs")
    h = res.history
    assert all(len(a) == res.nit + 1 for a in h)
    assert h.fun[-1] == res.fun and h.nfev[-1] == res.nfev
    assert h.grad_norm[-1] == np.max(np.abs(res.jac))
    assert np.all(np.diff(h.nfev) >= 1) and np.all(np.diff(h.time) >= 0)
    assert h.step[0] == 0 and np.all(h.step[1:] > 0)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_w0_is_not_modified(method, rng):
    w0 = np.array([-1.2, 1.0])
    minimize(rosenbrock, w0, method, max_iter=20, **options(method, lr=1e-3))
    assert np.array_equal(w0, [-1.2, 1.0])


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_callback_returning_true_stops_the_run(method):
    infos = []

    def stop_at_3(info):
        infos.append((info.nit, info.fun, info.x.copy()))
        return info.nit == 3

    res = minimize(rosenbrock, np.array([-1.2, 1.0]), method, callback=stop_at_3,
                   **options(method, lr=1e-3))
    assert res.status is Status.CALLBACK_STOP and not res.success
    assert res.nit == 3 and [i[0] for i in infos] == [1, 2, 3]
    assert res.fun == infos[-1][1] and np.array_equal(res.x, infos[-1][2])


def test_callback_raising_stopiteration_stops_the_run():
    def cb(info):
        if info.nit == 2:
            raise StopIteration

    res = minimize(rosenbrock, np.array([-1.2, 1.0]), "cg", callback=cb)
    assert res.status is Status.CALLBACK_STOP and res.nit == 2


def test_early_stopping_keeps_the_best_validation_weights():
    X, T = sinusoidal(12, rng=0)
    Xv, Tv = sinusoidal(50, rng=1)
    net = prmlnet.Network((1, 10, 1))
    obj = Objective(net, X, T)
    val = []
    es = EarlyStopping(lambda w: net.error(w, Xv, Tv), patience=15)

    def watch(info):                          # an independent record of every iterate
        val.append((net.error(info.x, Xv, Tv), info.x.copy(), info.nit))
        return es(info)

    res = minimize(obj, net.init_weights(0), "bfgs", callback=watch, max_iter=2000, gtol=0)
    assert res.status is Status.CALLBACK_STOP        # over-fitting 10 hidden units to 12 points
    errors = [v[0] for v in val]
    k = int(np.argmin(errors))
    assert es.best_iter == val[k][2] and es.best_error == errors[k]
    assert np.array_equal(es.best_w, val[k][1])
    assert es.stopped_iter == res.nit == es.best_iter + 15
    assert net.error(res.x, Xv, Tv) > es.best_error
    assert [h[1] for h in es.history] == errors


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown method 'newtonish'") as e:
        minimize(rosenbrock, np.zeros(2), "newtonish")
    assert all(name in str(e.value) for name in METHODS)


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "gd", "learning_rate": -0.1}, "learning_rate"),
    ({"method": "gd"}, "learning_rate"),
    ({"method": "gd", "learning_rate": 0.1, "momentum": 1.0}, "momentum"),
    ({"method": "cg", "memory": 3}, "no option memory"),
    ({"method": "lbfgs", "memory": 0}, "memory"),
    ({"method": "bfgs", "c1": 0.5, "c2": 0.1}, "c1 < c2"),
    ({"method": "scg", "max_iter": -1}, "max_iter"),
    ({"method": "scg", "gtol": float("nan")}, "gtol"),
    ({"method": "scg", "callback": 3}, "callback"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        minimize(rosenbrock, np.zeros(2), **kwargs)


@pytest.mark.parametrize("w0", [np.array([np.nan, 1.0]), np.array([np.inf, 0.0]), np.zeros((2, 2))])
def test_bad_starting_point_raises(w0):
    with pytest.raises(ValueError, match="w0"):
        minimize(rosenbrock, w0, "scg")


def test_gd_with_too_large_a_rate_stops_nonfinite_with_last_finite_weights():
    def fg(w):                                    # overflows when diverging
        with np.errstate(over="ignore"):
            e = np.exp(w @ w)
            return float(e), 2 * w * e
    res = minimize(fg, np.array([1.0, 1.0]), "gd", learning_rate=1.0, max_iter=100)
    assert res.status is Status.NONFINITE and not res.success
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    assert res.fun == fg(res.x)[0] and res.nfev == res.nit + 2


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_error_turning_nan_stops_with_the_last_finite_weights(method):
    calls = []

    def fg(w):
        calls.append(w.copy())
        if len(calls) > 12:
            return math.nan, np.full(2, math.nan)
        return rosenbrock(w)

    res = minimize(fg, np.array([-1.2, 1.0]), method, **options(method, lr=1e-3))
    assert res.status is Status.NONFINITE, res.message
    assert np.all(np.isfinite(res.x)) and res.fun == rosenbrock(res.x)[0]
    assert any(np.array_equal(res.x, c) for c in calls[:12])
    assert res.history.fun[-1] == res.fun


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_keyboard_interrupt_returns_the_best_weights_seen(method):
    seen = []

    def fg(w):
        if len(seen) == 25:
            raise KeyboardInterrupt
        f, g = rosenbrock(w)
        seen.append((f, w.copy()))
        return f, g

    res = minimize(fg, np.array([-1.2, 1.0]), method, **options(method, lr=1e-3))
    assert res.status is Status.INTERRUPTED
    f_best, w_best = min(seen, key=lambda s: s[0])
    assert res.fun == f_best and np.array_equal(res.x, w_best)
    assert np.array_equal(res.jac, rosenbrock(w_best)[1])


def test_registry_takes_a_new_method():
    def fixed_point(fun_and_grad, w0, *, max_iter, gtol, ftol, callback, hvp, shrink=0.5):
        from prmlnet.optim.result import Run

        def body(run, x, f, g):
            while True:
                x = x * shrink
                f, g = run.evaluate(x)
                run.accept(x, f, g, 0.0)

        return Run(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol,
                   callback=callback, method="shrink").drive(body)

    METHODS["shrink"] = fixed_point
    try:
        res = minimize(lambda w: (0.5 * w @ w, w), np.ones(3), "shrink", gtol=1e-3)
        assert res.success and res.nit == 10
        with pytest.raises(ValueError, match="no option"):
            minimize(lambda w: (0.5 * w @ w, w), np.ones(3), "shrink", grow=2)
    finally:
        del METHODS["shrink"]


def test_gd_momentum_steps_by_hand():                 # (5.41) plus μ Δw
    A = np.diag([1.0, 4.0])
    fg = lambda w: (0.5 * w @ A @ w, A @ w)
    w0 = np.array([1.0, 1.0])
    res = minimize(fg, w0, "gd", learning_rate=0.1, momentum=0.5, max_iter=2, gtol=0, ftol=0)
    dw1 = -0.1 * (A @ w0)
    w1 = w0 + dw1
    w2 = w1 - 0.1 * (A @ w1) + 0.5 * dw1
    assert np.allclose(res.x, w2, rtol=0, atol=1e-15) and res.nfev == 3


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_exact_zero_gradient_ends_the_run_converged(method):
    # One step of most methods lands exactly on the minimum of ½‖w‖²: ∇E = 0 there.
    res = minimize(lambda w: (0.5 * w @ w, w.copy()), np.array([3.0, -4.0]), method,
                   gtol=0.0, **options(method, lr=1.0))
    assert res.status is Status.CONVERGED and np.allclose(res.x, 0.0, atol=1e-12)


def test_scg_with_the_objectives_exact_hvp_reaches_the_same_minimum(rng):
    pytest.importorskip("prmlnet.hessian")
    net, obj = softmax_regression(rng)
    w0 = net.init_weights(rng)
    plain = minimize(obj, w0, "scg", gtol=1e-8, ftol=0.0, max_iter=2000)
    exact = minimize(obj, w0, "scg", hvp=obj.hvp, gtol=1e-8, ftol=0.0, max_iter=2000)
    assert plain.success and exact.success
    assert np.allclose(exact.x, plain.x, atol=1e-6)
    assert exact.nhev > 0 and exact.nfev < plain.nfev      # no finite-difference gradient


def test_scipy_hessp_becomes_hvp():
    A = np.diag([1.0, 10.0, 100.0])
    calls = []

    def hessp(w, v):
        calls.append(1)
        return A @ v

    res = scipy.optimize.minimize(lambda w: (0.5 * w @ A @ w, A @ w), np.ones(3), jac=True,
                                  hessp=hessp, method=scipy_method("scg"))
    assert res.success and res.nhev == len(calls) > 0


@pytest.mark.parametrize("W, m, n_pairs", [(7, 4, 2), (7, 4, 9), (12, 10, 10)])
def test_lbfgs_compact_direction_equals_the_two_loop_recursion(W, m, n_pairs, rng):
    from prmlnet.optim.quasi_newton import _Pairs

    A, _, _ = quadratic(W, 30.0, rng)
    pairs, S, Y = _Pairs(m, W), [], []
    for _ in range(n_pairs):
        s = rng.standard_normal(W)
        y = A @ s
        pairs.add(s, y, s @ y, y @ y)
        S, Y = (S + [s])[-m:], (Y + [y])[-m:]
    g = rng.standard_normal(W)
    q, alphas = g.copy(), []                   # N&W Algorithm 7.4, written out
    for s, y in zip(reversed(S), reversed(Y)):
        alphas.append((s @ q) / (s @ y))
        q -= alphas[-1] * y
    q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
    for s, y, a in zip(S, Y, reversed(alphas)):
        q += (a - (y @ q) / (s @ y)) * s
    assert relative_error(pairs.direction(g), -q) < 1e-13
