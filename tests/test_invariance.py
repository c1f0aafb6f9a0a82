"""Tangent propagation and the Tikhonov regularizer: values, exact gradients, the objective."""

import numpy as np
import pytest

import prmlnet
from prmlnet.invariance import (TangentPropagation, Tikhonov, tangent_outputs, tangent_penalty,
                                tikhonov_penalty)
from prmlnet.convolution import network_from_spec
from prmlnet.objective import Objective
from prmlnet.optim import online, train_online
from prmlnet.priors import Batch
from prmlnet.testing import central_differences, relative_error

from conftest import make_targets

OUTPUTS = ["linear", "logistic", "softmax"]
HIDDEN = ["tanh", "logistic", "identity", "relu", "softplus"]
DEPTHS = [(3, 2), (3, 4, 2), (3, 4, 5, 3)]


def problem(rng, sizes, hidden="tanh", output="linear", N=5, S=2):
    net = prmlnet.Network(sizes, hidden=hidden, output=output)
    w = 1.5 * net.init_weights(rng)               # larger weights: the nonlinearities matter
    X = rng.standard_normal((N, sizes[0]))
    tau = rng.standard_normal((N, S, sizes[0]))
    return net, w, X, tau


@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_forward_tangent_pass_is_the_jacobian_times_tau(output, sizes, rng):     # (5.73)
    net, w, X, tau = problem(rng, sizes, output=output)
    J = net.jacobian(w, X)                                           # by backpropagation
    assert relative_error(tangent_outputs(net, w, X, tau),
                          np.einsum("nki,nsi->nsk", J, tau)) < 1e-13
    assert relative_error(tangent_outputs(net, w, X, tau[:, 0]),
                          np.einsum("nki,ni->nk", J, tau[:, 0])[:, None]) < 1e-13


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_omega_gradient_matches_central_differences(output, sizes, hidden, rng):
    net, w, X, tau = problem(rng, sizes, hidden, output)
    Omega, g = tangent_penalty(net, w, X, tau)
    J = net.jacobian(w, X)
    assert Omega == pytest.approx(0.5 * np.sum(np.einsum("nki,nsi->nsk", J, tau) ** 2),
                                  rel=1e-13)
    numeric = central_differences(lambda u: tangent_penalty(net, u, X, tau)[0], w)
    assert relative_error(g, numeric) < 1e-7


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_tikhonov_is_half_the_squared_jacobian_norm(output, sizes, mode, rng):
    net, w, X, _ = problem(rng, sizes, "softplus", output)
    Omega, g = tikhonov_penalty(net, w, X, mode)
    assert Omega == pytest.approx(0.5 * np.sum(net.jacobian(w, X) ** 2), rel=1e-13)
    numeric = central_differences(lambda u: tikhonov_penalty(net, u, X, mode)[0], w)
    assert relative_error(g, numeric) < 1e-7
    # the same as tangent propagation with the D unit tangents
    unit = np.broadcast_to(np.eye(X.shape[1]), (X.shape[0],) + (X.shape[1],) * 2)
    O2, g2 = tangent_penalty(net, w, X, unit)
    assert O2 == pytest.approx(Omega, rel=1e-13) and relative_error(g2, g) < 1e-12


# convolutional networks: every layer type, max pooling between layers and on the input
CONV_NETS = [("conv:2x3x3-sub-dense:4", (1, 6, 6)),
             ("conv:2x2x2:pad=1:logistic-max-dense:3", (1, 5, 5)),
             ("max-conv:2x2x2:softplus-sub", (2, 6, 6))]


def conv_problem(rng, spec, shape, output, N=4, S=2):
    net = network_from_spec(spec, shape, 3, output=output)
    X = rng.standard_normal((N, net.n_inputs))
    return net, 1.5 * net.init_weights(rng), X, rng.standard_normal((N, S, net.n_inputs))


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("spec, shape", CONV_NETS)
def test_omega_of_a_convolutional_network_matches_central_differences(spec, shape, output,
                                                                      rng):
    net, w, X, tau = conv_problem(rng, spec, shape, output)
    J = net.jacobian(w, X)                                            # by backpropagation
    ty = np.einsum("nki,nsi->nsk", J, tau)
    assert relative_error(tangent_outputs(net, w, X, tau), ty) < 1e-13
    Omega, g = tangent_penalty(net, w, X, tau)
    assert Omega == pytest.approx(0.5 * np.sum(ty ** 2), rel=1e-13)
    numeric = central_differences(lambda u: tangent_penalty(net, u, X, tau)[0], w)
    assert relative_error(g, numeric) < 1e-7
    for mode in ("forward", "reverse"):
        Omega, g = tikhonov_penalty(net, w, X, mode)
        assert Omega == pytest.approx(0.5 * np.sum(J ** 2), rel=1e-13)
        numeric = central_differences(lambda u: tikhonov_penalty(net, u, X, mode)[0], w)
        assert relative_error(g, numeric) < 1e-7


@pytest.mark.parametrize("spec, shape", CONV_NETS)
def test_objective_of_a_convolutional_network_shares_its_passes(spec, shape, rng):
    net, w, X, tau = conv_problem(rng, spec, shape, "softmax", N=5)
    T = make_targets("softmax", 5, 3, rng)
    obj = Objective(net, X, T, alpha=0.1, beta=2.0, chunk_size=2,
                    terms=[TangentPropagation(net, tau, 0.7), Tikhonov(net, 0.3, "forward")])
    E, g = obj(w)
    expected = (2.0 * net.error(w, X, T) + 0.05 * w @ w + 0.7 * tangent_penalty(net, w, X, tau)[0]
                + 0.3 * tikhonov_penalty(net, w, X)[0])
    assert E == pytest.approx(expected, rel=1e-13)
    assert relative_error(g, central_differences(obj.error, w)) < 1e-7


@pytest.mark.parametrize("chunk_size", [2, 100])
@pytest.mark.parametrize("output", OUTPUTS)
def test_objective_with_tangent_propagation(output, chunk_size, rng):
    net, w, X, tau = problem(rng, (3, 4, 2), "tanh", output, N=7, S=3)
    T = make_targets(output, 7, 2, rng)
    tp = TangentPropagation(net, tau, lam=0.7)
    obj = Objective(net, X, T, alpha=0.1, beta=2.0, terms=[tp, Tikhonov(net, 0.3, "reverse")],
                    chunk_size=chunk_size)
    E, g = obj(w)
    expected = (2.0 * net.error(w, X, T) + 0.05 * w @ w + 0.7 * tangent_penalty(net, w, X, tau)[0]
                + 0.3 * tikhonov_penalty(net, w, X)[0])
    assert E == pytest.approx(expected, rel=1e-13)
    assert relative_error(g, central_differences(obj.error, w)) < 1e-7
    # the shared data pass gives what the separate passes give
    batch = Batch(X, T, slice(0, 7))
    Ef, gf = tp.value_and_gradient_with_data(w, batch, beta=2.0)
    Et, gt = tp.value_and_gradient(w, batch)
    Ed, gd = net.error_and_gradient(w, X, T)
    assert Ef == pytest.approx(2.0 * Ed + Et, rel=1e-13)
    assert relative_error(gf, 2.0 * gd + gt) < 1e-13
    for mode in ("forward", "reverse"):
        tik = Tikhonov(net, 0.3, mode)
        Ef, gf = tik.value_and_gradient_with_data(w, batch, beta=2.0)
        Et, gt = tik.value_and_gradient(w, batch)
        assert Ef == pytest.approx(2.0 * Ed + Et, rel=1e-13)
        assert relative_error(gf, 2.0 * gd + gt) < 1e-13


def test_minibatches_pick_their_own_tangents(rng):
    net, w, X, tau = problem(rng, (3, 4, 2), N=10)
    T = rng.standard_normal((10, 2))
    obj = Objective(net, X, T, alpha=0.1, terms=[TangentPropagation(net, tau, 2.0)])
    parts = [obj.minibatch(w, X[b], T[b], rows=b) for b in np.array_split(rng.permutation(10), 3)]
    E, g = obj(w)
    assert sum(p[0] for p in parts) == pytest.approx(E, rel=1e-13)
    assert relative_error(sum(p[1] for p in parts), g) < 1e-13
    res = train_online(obj.minibatch, w, X, T, online.sgd(1e-3), batch_size=3, n_epochs=3, rng=0)
    assert res.history.fun[-1] < res.history.fun[0]


def test_tangents_from_a_callable_follow_the_batch_inputs(rng):
    net, w, X, tau = problem(rng, (3, 4, 2), N=6, S=1)
    T = rng.standard_normal((6, 2))
    flip = np.array([1.0, -2.0, 0.5])
    fixed = TangentPropagation(net, X * flip, 1.5)
    computed = TangentPropagation(net, lambda Xb: Xb * flip, 1.5)
    batch = Batch(X[2:5], T[2:5], np.arange(2, 5))
    a, b = fixed.value_and_gradient(w, batch), computed.value_and_gradient(w, batch)
    assert a[0] == pytest.approx(b[0], rel=1e-15) and relative_error(a[1], b[1]) < 1e-15
    with pytest.raises(ValueError, match="which rows"):
        fixed.value_and_gradient(w, Batch(X, T, None))


def test_hvp_by_differencing_the_exact_gradient(rng):
    net, w, X, tau = problem(rng, (3, 4, 2), "tanh", "softmax", N=6)
    T = make_targets("softmax", 6, 2, rng)
    obj = Objective(net, X, T, terms=[TangentPropagation(net, tau, 0.5)])
    v = rng.standard_normal(net.n_weights)
    numeric = central_differences(lambda u: obj.gradient(u) @ v, w)
    assert relative_error(obj.hvp(w, v), numeric) < 1e-6


def test_training_with_tangent_propagation_lowers_omega(rng):
    from prmlnet.optim import minimize
    net, _, X, tau = problem(rng, (3, 6, 2), N=20, S=1)
    T = np.tanh(X[:, :2] @ rng.standard_normal((2, 2)))
    w0 = net.init_weights(rng)
    plain = minimize(Objective(net, X, T, alpha=0.01), w0, "bfgs", max_iter=300).x
    reg = minimize(Objective(net, X, T, alpha=0.01, terms=[TangentPropagation(net, tau, 10.0)]),
                   w0, "bfgs", max_iter=300).x
    assert tangent_penalty(net, reg, X, tau)[0] < 0.5 * tangent_penalty(net, plain, X, tau)[0]


def test_bad_tangent_input_is_refused(rng):
    net, w, X, tau = problem(rng, (3, 4, 2))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        tangent_outputs(net, w, X, tau[:, :, :2])
    with pytest.raises(ValueError, match="NaN"):
        tangent_penalty(net, w, X, np.full_like(tau, np.nan))
    with pytest.raises(ValueError, match="lam"):
        TangentPropagation(net, tau, lam=-1.0)
    with pytest.raises(ValueError, match="mode must be"):
        Tikhonov(net, 1.0, mode="sideways")
    from prmlnet.mdn import MixtureDensity
    mdn = prmlnet.Network((3, 4, 9), output=MixtureDensity(3, 1))
    with pytest.raises(ValueError, match="tangent_backward"):
        Tikhonov(mdn, 1.0)
