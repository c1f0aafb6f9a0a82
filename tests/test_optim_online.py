"""Online methods (5.43): pure (init, update) pairs, schedules, the training loop."""

import math

import numpy as np
import pytest

import prmlnet
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import Status, minimize, online, train_online


def test_sgd_step_by_hand():                                  # (5.43)
    m = online.sgd(0.1)
    w, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.4, -1.0])
    w1, s1 = m.update(w, g, m.init(w))
    assert np.array_equal(w1, [1.0 - 0.03, -2.0 - 0.04, 0.5 + 0.1])
    assert s1.step == 1


def test_momentum_two_steps_by_hand():
    m = online.momentum(0.1, mu=0.5)
    w, g1, g2 = np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.array([2.0, 0.0])
    w1, s1 = m.update(w, g1, m.init(w))
    w2, s2 = m.update(w1, g2, s1)
    v1 = -0.1 * g1
    v2 = 0.5 * v1 - 0.1 * g2
    assert np.allclose(w1, w + v1, rtol=0, atol=1e-15)
    assert np.allclose(w2, w + v1 + v2, rtol=0, atol=1e-15)
    assert np.allclose(s2.velocity, v2, rtol=0, atol=1e-15)


def test_adam_first_step_by_hand():
    m = online.adam(0.01, b1=0.9, b2=0.999, eps=1e-8)
    w, g = np.array([1.0, -1.0]), np.array([0.2, -3.0])
    w1, s1 = m.update(w, g, m.init(w))
    # m̂ = g and v̂ = g² after one step, so the step is η g / (|g| + ε).
    assert np.allclose(w1, w - 0.01 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-15)
    assert np.allclose(s1.m, 0.1 * g) and np.allclose(s1.v, 0.001 * g * g)


@pytest.mark.parametrize("method", [online.sgd(0.1), online.momentum(0.1), online.adam(0.1)])
def test_updates_are_pure(method):
    w, g = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    state = method.init(w)
    w1, s1 = method.update(w, g, state)
    w2, s2 = method.update(w1, g, s1)
    before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in s1]
    again, _ = method.update(w1, g, s1)
    assert np.array_equal(again, w2) and np.array_equal(w, [1.0, 2.0])
    assert all(np.array_equal(a, b) for a, b in zip(s1, before))


def test_schedules():
    assert online.inverse_time(1.0, 10.0)(10) == 0.5
    assert online.exponential_decay(1.0, 0.5, every=2)(5) == 0.25
    assert online.constant(0.3)(1000) == 0.3
    m = online.sgd(online.inverse_time(1.0, 1.0))
    w, s = np.zeros(1), m.init(np.zeros(1))
    for _ in range(3):
        w, s = m.update(w, np.ones(1), s)
    assert w[0] == pytest.approx(-(1.0 + 1 / 2 + 1 / 3))


@pytest.mark.parametrize("bad", [-0.1, 0.0, float("nan"), "fast"])
def test_bad_learning_rate_raises(bad):
    with pytest.raises(ValueError, match="learning_rate"):
        online.sgd(bad)


def regression(n=24, seed=0, alpha=0.01):
    X, T = sinusoidal(n, rng=seed)
    net = prmlnet.Network((1, 3, 1))
    return net, X, T, Objective(net, X, T, alpha=alpha)


def test_full_batch_sgd_is_batch_gradient_descent():
    net, X, T, obj = regression()
    w0 = net.init_weights(1)
    res = train_online(obj.minibatch, w0, X, T, online.sgd(0.02), batch_size=len(X),
                       n_epochs=15, rng=0)
    ref = minimize(obj, w0, "gd", learning_rate=0.02, max_iter=15, gtol=0, ftol=0)
    assert np.allclose(res.x, ref.x, rtol=1e-12, atol=1e-14)
    assert np.allclose(res.history.fun, ref.history.fun, rtol=1e-12)
    assert res.nit == 15 and res.nfev == 15 and res.status is Status.MAX_ITER


def test_pattern_by_pattern_sgd_lowers_the_error_and_is_reproducible():
    net, X, T, obj = regression()
    w0 = net.init_weights(2)
    kw = dict(batch_size=1, n_epochs=40, rng=np.random.default_rng(5))
    res = train_online(obj.minibatch, w0, X, T, online.sgd(0.05), **kw)
    assert res.fun < 0.5 * obj.error(w0)
    assert res.nfev == 40 * len(X) and np.array_equal(res.history.nfev, np.arange(41))
    again = train_online(obj.minibatch, w0, X, T, online.sgd(0.05), batch_size=1, n_epochs=40,
                         rng=np.random.default_rng(5))
    other = train_online(obj.minibatch, w0, X, T, online.sgd(0.05), batch_size=1, n_epochs=40,
                         rng=np.random.default_rng(6))
    assert np.array_equal(again.x, res.x) and not np.array_equal(other.x, res.x)
    assert res.history.fun[-1] == res.fun == pytest.approx(obj.error(res.x), rel=1e-13)


def test_one_epoch_by_hand_with_minibatches():
    net, X, T, obj = regression(n=10)
    w0 = net.init_weights(3)
    res = train_online(obj.minibatch, w0, X, T, online.sgd(0.01), batch_size=4, n_epochs=1,
                       rng=np.random.default_rng(9))
    order = np.random.default_rng(9).permutation(10)
    w = w0.copy()
    for idx in (order[:4], order[4:8], order[8:]):
        w = w - 0.01 * obj.minibatch(w, X[idx], T[idx])[1]
    assert np.allclose(res.x, w, rtol=0, atol=1e-15) and res.nfev == 3


def test_callback_stops_online_training():
    net, X, T, obj = regression()
    res = train_online(obj.minibatch, net.init_weights(0), X, T, online.adam(0.01),
                       n_epochs=50, rng=0, callback=lambda info: info.nit == 4)
    assert res.status is Status.CALLBACK_STOP and res.nit == 4 and len(res.history.fun) == 5


def test_online_nan_keeps_last_finite_weights():
    net, X, T, obj = regression()
    with np.errstate(all="ignore"):                    # the divergence overflows on purpose
        res = train_online(obj.minibatch, net.init_weights(0), X, T, online.sgd(50.0),
                           batch_size=len(X), n_epochs=200, rng=0)
    assert res.status is Status.NONFINITE and 0 < res.nit < 200
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    assert res.fun == pytest.approx(obj.error(res.x), rel=1e-13)


def test_online_nonfinite_error_status():
    calls = []

    def fg(w, Xb, Tb):
        calls.append(1)
        bad = len(calls) > 7
        return (math.nan if bad else float(w @ w)), 2 * w

    res = train_online(fg, np.ones(2), np.zeros((3, 1)), np.zeros((3, 1)), online.sgd(0.1),
                       n_epochs=10, rng=0)
    assert res.status is Status.NONFINITE and np.all(np.isfinite(res.x))
    assert res.nit == 1 and res.fun == res.history.fun[-1]


def test_keyboard_interrupt_online_returns_best_epoch_weights():
    net, X, T, obj = regression()
    n = []

    def fg(w, Xb, Tb):
        n.append(1)
        if len(n) == 100:
            raise KeyboardInterrupt
        return obj.minibatch(w, Xb, Tb)

    res = train_online(fg, net.init_weights(0), X, T, online.sgd(0.05), n_epochs=50, rng=0)
    assert res.status is Status.INTERRUPTED
    assert res.fun == min(res.history.fun) and res.fun == pytest.approx(obj.error(res.x))


@pytest.mark.parametrize("kwargs, match", [
    ({"rng": None}, "rng"),
    ({"batch_size": 0}, "batch_size"),
    ({"n_epochs": -1}, "n_epochs"),
    ({"method": "sgd"}, "OnlineMethod"),
])
def test_bad_online_arguments(kwargs, match):
    net, X, T, obj = regression()
    args = dict(batch_size=1, n_epochs=1, rng=0, method=online.sgd(0.1))
    args.update(kwargs)
    method = args.pop("method")
    with pytest.raises(ValueError, match=match):
        train_online(obj.minibatch, net.init_weights(0), X, T, method, **args)
