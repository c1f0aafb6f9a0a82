"""The network function, backpropagation and the Jacobians against independent oracles."""

import math

import numpy as np
import pytest

import prmlnet
from prmlnet import Network
from prmlnet.testing import central_differences, check_directional, relative_error

from conftest import make_targets, tiny_problem

HIDDEN = ["tanh", "logistic", "identity", "relu", "softplus"]
OUTPUTS = ["linear", "logistic", "softmax"]
DEPTHS = [(3, 2), (3, 4, 2), (3, 4, 5, 2)]


@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_backprop_matches_central_differences(hidden, output, sizes, rng):  # (5.56) vs (5.69)
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden=hidden)
    w = net.init_weights(rng)
    numeric = central_differences(lambda v: net.error(v, X, T), w)
    assert relative_error(net.gradient(w, X, T), numeric) < 1e-7


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_input_jacobian_matches_central_differences(hidden, output, rng):  # (5.73)-(5.74)
    net, X, _ = tiny_problem(output, rng, sizes=(3, 4, 5, 2), hidden=hidden)
    w = net.init_weights(rng)
    J = net.jacobian(w, X)
    assert J.shape == (X.shape[0], 2, 3)
    for n in range(X.shape[0]):
        f = lambda x: net.predict(w, x[None, :])[0]           # noqa: E731
        assert relative_error(J[n], central_differences(f, X[n])) < 1e-7


@pytest.mark.parametrize("wrt", ["y", "a"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_output_gradients_match_central_differences(output, wrt, rng):
    net, X, _ = tiny_problem(output, rng, sizes=(3, 4, 5, 2), hidden="softplus")
    w = net.init_weights(rng)

    def outputs(v):
        c = net.forward(v, X)
        return c.y if wrt == "y" else c.a[-1]

    B = net.output_gradients(w, X, wrt=wrt)
    assert B.shape == (X.shape[0], 2, net.n_weights)
    assert relative_error(B, central_differences(outputs, w)) < 1e-7


def test_gradient_is_sum_of_per_pattern_gradients(rng):  # (5.57): sums, not means
    net, X, T = tiny_problem("softmax", rng)
    w = net.init_weights(rng)
    per_pattern = sum(net.gradient(w, X[n:n + 1], T[n:n + 1]) for n in range(len(X)))
    np.testing.assert_allclose(net.gradient(w, X, T), per_pattern, rtol=1e-12, atol=1e-14)
    assert net.error(w, X, T) == pytest.approx(sum(net.error(w, X[n:n + 1], T[n:n + 1])
                                                   for n in range(len(X))), rel=1e-13)


def test_directional_check_scales_to_large_networks(rng):
    net = Network((50, 100, 10), output="softmax")
    X = rng.standard_normal((40, 50))
    T = make_targets("softmax", 40, 10, rng)
    w = net.init_weights(rng)
    res = check_directional(lambda v: net.error(v, X, T), lambda v: net.gradient(w, X, T)
                            if v is w else net.gradient(v, X, T), w, rng, n_directions=5)
    assert net.n_weights > 5000 and res.ok, res.error
    # and it catches a wrong gradient
    bad = check_directional(lambda v: net.error(v, X, T),
                            lambda v: net.gradient(v, X, T) * 1.001, w, rng, n_directions=5)
    assert not bad.ok


@pytest.mark.parametrize("output", OUTPUTS)
def test_errors_agree_with_the_books_formulas(output, rng):  # (5.14), (5.21)/(5.23), (5.24)
    net, X, T = tiny_problem(output, rng, sizes=(3, 4, 3))
    w = net.init_weights(rng)
    y = net.predict(w, X)
    if output == "linear":
        expected = 0.5 * np.sum((y - T) ** 2)
    elif output == "logistic":
        expected = -np.sum(T * np.log(y) + (1 - T) * np.log(1 - y))
    else:
        expected = -np.sum(T * np.log(y))
    assert net.error(w, X, T) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_exact_where_probabilities_round_to_0_or_1():
    # One logistic unit with a = ±800: y rounds to exactly 1 or 0, so ln(1 - y) = -inf,
    # yet E = softplus(a) - t a is exact: 800 for the wrong label, 0 for the right one.
    net = Network((1, 1), output="logistic")
    w = np.array([800.0, 0.0])
    X = np.array([[1.0], [-1.0]])
    assert net.error(w, X, np.array([[0.0], [1.0]])) == pytest.approx(1600.0, rel=1e-15)
    assert net.error(w, X, np.array([[1.0], [0.0]])) == pytest.approx(0.0, abs=1e-300)
    soft = Network((1, 2), output="softmax")
    w2 = np.array([1000.0, -1000.0, 0.0, 0.0])
    assert soft.error(w2, np.array([[1.0]]), np.array([[0.0, 1.0]])) == pytest.approx(2000.0)
    assert np.isfinite(soft.gradient(w2, np.array([[1.0]]), np.array([[0.0, 1.0]]))).all()


@pytest.mark.parametrize("output", OUTPUTS)
def test_output_deltas_are_y_minus_t(output, rng):  # canonical link (5.18)
    net, X, T = tiny_problem(output, rng, sizes=(3, 2))
    w = net.init_weights(rng)
    c = net.forward(w, X)
    a = c.a[-1]
    numeric = np.stack([central_differences(lambda v: net.output.error(v[None], net.output.output(v[None]), T[n:n + 1]), a[n])
                        for n in range(len(X))])
    assert relative_error(c.y - T, numeric) < 1e-8


def test_worked_example_2_2_1():
    r"""A 2-2-1 tanh network with linear output, every value computed by hand.

    w = [W1 (2x2) | b1 | W2 (1x2) | b2] = [0.1, -0.2, 0.3, 0.4 | 0.05, -0.05 | 0.7, -0.6 | 0.2]
    x = (1.0, 2.0), t = 0.5
    """
    net = Network((2, 2, 1), hidden="tanh", output="linear")
    w = np.array([0.1, -0.2, 0.3, 0.4, 0.05, -0.05, 0.7, -0.6, 0.2])
    X = np.array([[1.0, 2.0]])
    T = np.array([[0.5]])
    # forward (5.48): a1 = 0.1*1 - 0.2*2 + 0.05 = -0.25 ; a2 = 0.3*1 + 0.4*2 - 0.05 = 1.05
    a1, a2 = 0.1 - 0.4 + 0.05, 0.3 + 0.8 - 0.05
    # (5.49): z1 = tanh(-0.25) = -0.244919 ; z2 = tanh(1.05) = 0.781806
    z1, z2 = math.tanh(a1), math.tanh(a2)
    # output: y = 0.7*z1 - 0.6*z2 + 0.2 = -0.171443 - 0.469084 + 0.2 = -0.440527
    y = 0.7 * z1 - 0.6 * z2 + 0.2
    # error (5.14): E = 0.5 (y - t)^2 = 0.5 * (-0.940527)^2 = 0.442295
    # output delta (5.18): delta_k = y - t = -0.940527
    dk = y - 0.5
    # hidden deltas (5.56) with h' = 1 - z^2 (5.60):
    #   delta_1 = (1 - 0.059985) * 0.7 * dk = -0.618876 ; delta_2 = (1 - 0.611221) * -0.6 * dk = 0.219394
    d1 = (1 - z1 ** 2) * 0.7 * dk
    d2 = (1 - z2 ** 2) * -0.6 * dk
    # gradient (5.53): dE/dw_ji = delta_j z_i, with z_i = x_i for the first layer
    expected = [d1 * 1, d1 * 2, d2 * 1, d2 * 2, d1, d2, dk * z1, dk * z2, dk]
    c = net.forward(w, X)
    assert c.a[0][0] == pytest.approx([a1, a2], rel=1e-15)
    assert c.y[0, 0] == pytest.approx(-0.440527, abs=1e-6)
    assert net.error(w, X, T) == pytest.approx(0.442295, abs=1e-6)
    assert net.gradient(w, X, T) == pytest.approx(expected, rel=1e-13)
    assert net.gradient(w, X, T)[:2] == pytest.approx([-0.618876, -1.237753], abs=1e-6)


def test_unpack_gives_views_in_row_major_layer_order(rng):
    net = Network((3, 4, 2))
    w = np.arange(net.n_weights, dtype=float)
    (W1, b1), (W2, b2) = net.unpack(w)
    assert W1.shape == (4, 3) and b1.shape == (4,) and W2.shape == (2, 4) and b2.shape == (2,)
    assert W1[1, 2] == 5 and b1[0] == 12 and W2[0, 0] == 16 and b2[-1] == net.n_weights - 1
    W1[0, 0] = -1.0
    assert w[0] == -1.0                              # a view, not a copy
    assert net.n_weights == 4 * 3 + 4 + 2 * 4 + 2


def test_init_weights_is_reproducible_and_scaled():
    net = Network((100, 400, 3))
    w = net.init_weights(7)
    np.testing.assert_array_equal(w, net.init_weights(np.random.default_rng(7)))
    (W1, _), (W2, _) = net.unpack(w)
    assert np.var(W1) == pytest.approx(1 / 101, rel=0.02)
    assert np.var(W2) == pytest.approx(1 / 401, rel=0.1)


def test_network_is_immutable_and_hashable():
    net = Network((2, 3, 1))
    with pytest.raises(AttributeError):
        net.sizes = (1, 1)
    assert net == Network((2, 3, 1)) and hash(net) == hash(Network((2, 3, 1)))
    assert net != Network((2, 3, 1), hidden="relu")


def test_per_layer_activations_and_repr():
    net = Network((2, 3, 3, 1), hidden=["tanh", "relu"], output="logistic")
    assert [layer.activation.name for layer in net.layers] == ["tanh", "relu", "identity"]
    assert "logistic" in repr(net)


def test_float32_network_computes_in_float32(rng):
    net64 = Network((5, 8, 3), output="softmax")
    net32 = Network((5, 8, 3), output="softmax", dtype=np.float32)
    X = rng.standard_normal((10, 5))
    T = make_targets("softmax", 10, 3, rng)
    w = net64.init_weights(rng)
    E32, g32 = net32.error_and_gradient(w.astype(np.float32), X, T)
    E64, g64 = net64.error_and_gradient(w, X, T)
    assert g32.dtype == np.float32 and net32.predict(w, X).dtype == np.float32
    assert relative_error(g32, g64) < 1e-5 and E32 == pytest.approx(E64, rel=1e-5)


def test_from_layers_builds_the_same_network():
    net = Network((2, 3, 1), hidden="softplus")
    again = Network.from_layers([prmlnet.Dense(2, 3, "softplus"), prmlnet.Dense(3, 1, "identity")])
    assert again == net
    with pytest.raises(ValueError, match="takes 4 inputs"):
        Network.from_layers([prmlnet.Dense(2, 3), prmlnet.Dense(4, 1, "identity")])


def test_networks_pickle_and_copy_by_description():
    import copy
    import pickle

    net = Network((2, 3, 3, 1), hidden=["identity", "softplus"], output="logistic", dtype=np.float32)
    again = pickle.loads(pickle.dumps(net))
    assert again == net and again.n_weights == net.n_weights and again.dtype == np.float32
    assert copy.deepcopy(net) == net
