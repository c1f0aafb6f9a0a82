"""The Hessian (§5.4): exact, R-operator and approximations against independent oracles."""

import numpy as np
import pytest

import prmlnet
from prmlnet import hessian
from prmlnet.layers import Dense
from prmlnet.testing import relative_error

from conftest import make_targets, tiny_problem

OUTPUTS = ["linear", "logistic", "softmax"]
HIDDEN = ["tanh", "logistic", "identity", "relu", "softplus"]
DEPTHS = [(3, 4, 2), (3, 4, 5, 2), (2, 3, 4, 3, 3)]


def gradient_differences(net, w, X, T, v, h=1e-5):
    """(∇E(w + εv) − ∇E(w − εv)) / 2ε: H v by central differences of backprop."""
    eps = h * max(1.0, float(np.max(np.abs(w)))) / np.linalg.norm(v)
    return (net.gradient(w + eps * v, X, T) - net.gradient(w - eps * v, X, T)) / (2 * eps)


# -- H·v by the R-operator (§5.4.6) ------------------------------------------------------

@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
def test_hvp_matches_central_differences_of_the_gradient(output, hidden, sizes, rng):
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden=hidden, N=8)
    w = net.init_weights(rng)
    for _ in range(3):
        v = rng.standard_normal(net.n_weights)
        assert relative_error(hessian.hvp(net, w, X, T, v),
                              gradient_differences(net, w, X, T, v)) < 1e-7


@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_hvp_of_a_block_of_directions_equals_one_at_a_time(output, sizes, rng):
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden="softplus", N=8)
    w = net.init_weights(rng)
    V = rng.standard_normal((5, net.n_weights))
    HV = hessian.hvp(net, w, X, T, V)
    assert HV.shape == V.shape
    single = np.stack([hessian.hvp(net, w, X, T, v) for v in V])
    assert relative_error(HV, single) < 1e-13


@pytest.mark.parametrize("sizes", DEPTHS + [(3, 2)])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
def test_dense_r_pass_equals_the_layer_by_layer_one(output, hidden, sizes, rng):
    # hessian.hvp runs dense networks through prmlnet.hessian._rop_dense (stacked
    # products, chunks of patterns); the passes of prmlnet.hessian.rop are the reference
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden=hidden, N=150)
    w = net.init_weights(rng)
    v = rng.standard_normal(net.n_weights)
    ref = hessian.rop._r_passes(net, w, X, T, v, None, None)
    assert relative_error(hessian.hvp(net, w, X, T, v), ref) < 1e-13


@pytest.mark.parametrize("transpose", [0, 10 ** 9])
def test_dense_r_pass_with_and_without_transposed_weights(transpose, rng, monkeypatch):
    # small layers' weights are multiplied as contiguous transposes, large ones as views
    monkeypatch.setattr(hessian._rop_dense, "_TRANSPOSE", transpose)
    net, X, T = tiny_problem("softmax", rng, sizes=(4, 6, 5, 3), hidden="tanh", N=40)
    w = net.init_weights(rng)
    v = rng.standard_normal(net.n_weights)
    ref = hessian.rop._r_passes(net, w, X, T, v, None, None)
    assert relative_error(hessian.hvp(net, w, X, T, v), ref) < 1e-13


def test_dense_r_pass_over_chunks_sums_them(rng, monkeypatch):
    net, X, T = tiny_problem("softmax", rng, sizes=(3, 5, 4, 3), hidden="tanh", N=23)
    w = net.init_weights(rng)
    v = rng.standard_normal(net.n_weights)
    whole = hessian.hvp(net, w, X, T, v)
    monkeypatch.setattr(hessian._rop_dense, "rows_per_chunk", lambda net: 5)     # 5 chunks
    ws = net.workspace()
    chunked = hessian.hvp(net, w, X, T, v, workspace=ws)
    assert relative_error(chunked, whole) < 1e-13
    assert relative_error(chunked, hessian.exact(net, w, X, T) @ v) < 1e-12
    assert np.array_equal(hessian.hvp(net, w, X, T, v, workspace=ws), chunked)   # reused


@pytest.mark.parametrize("output", OUTPUTS)
def test_hvp_equals_exact_hessian_times_v_and_is_symmetric(output, rng):
    net, X, T = tiny_problem(output, rng, sizes=(4, 6, 5, 3), hidden="tanh", N=11)
    w = net.init_weights(rng)
    H = hessian.exact(net, w, X, T)
    u, v = rng.standard_normal((2, net.n_weights))
    Hu, Hv = hessian.hvp(net, w, X, T, u), hessian.hvp(net, w, X, T, v)
    assert relative_error(Hv, H @ v) < 1e-12
    assert abs(u @ Hv - v @ Hu) < 1e-12 * np.linalg.norm(Hu) * np.linalg.norm(v)   # uᵀHv = vᵀHu


def test_generic_layers_use_the_looping_batched_r_operator(rng):
    class Plain(Dense):                       # a layer type without batched primitives
        linear_many = prmlnet.Layer.linear_many
        weight_grad_many = prmlnet.Layer.weight_grad_many
        input_grad_many = prmlnet.Layer.input_grad_many

    layers = [Plain(3, 4, "tanh"), Plain(4, 2, "identity")]
    net = prmlnet.Network.from_layers(layers, output="softmax")
    ref = prmlnet.Network((3, 4, 2), output="softmax")
    X = rng.standard_normal((6, 3))
    T = make_targets("softmax", 6, 2, rng)
    w = ref.init_weights(rng)
    V = rng.standard_normal((3, net.n_weights))
    assert relative_error(hessian.hvp(net, w, X, T, V), hessian.hvp(ref, w, X, T, V)) < 1e-13
    # exact() falls back to the R-operator on identity columns for unknown layer types
    assert relative_error(hessian.exact(net, w, X, T), hessian.exact(ref, w, X, T)) < 1e-12
    assert relative_error(hessian.exact_diagonal(net, w, X, T),
                          hessian.exact_diagonal(ref, w, X, T)) < 1e-12
    assert relative_error(hessian.outer_product(net, w, X, T),
                          hessian.outer_product(ref, w, X, T)) < 1e-12
    assert relative_error(hessian.outer_product_diagonal(net, w, X, T),
                          np.diag(hessian.outer_product(ref, w, X, T))) < 1e-12


# -- the exact Hessian -------------------------------------------------------------------

@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
def test_exact_matches_finite_differences_of_the_gradient(output, hidden, sizes, rng):
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden=hidden, N=8)
    w = net.init_weights(rng)
    H = hessian.exact(net, w, X, T, chunk_size=3)             # several chunks
    assert relative_error(H, hessian.finite_difference(net, w, X, T)) < 1e-7
    assert np.array_equal(H, H.T)


@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_block_assembly_equals_r_operator_on_identity_columns(output, sizes, rng):
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden="logistic", N=9)
    w = net.init_weights(rng)
    Hb = hessian.exact(net, w, X, T, method="blocks")
    Hr = hessian.exact(net, w, X, T, method="rop")
    assert relative_error(Hb, Hr) < 1e-12
    assert relative_error(hessian.exact_diagonal(net, w, X, T, chunk_size=4), np.diag(Hr)) < 1e-12


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
def test_two_layer_formulas_equal_the_general_assembly(output, hidden, rng):   # (5.93)–(5.95)
    net, X, T = tiny_problem(output, rng, sizes=(3, 5, 4), hidden=hidden, N=10)
    w = net.init_weights(rng)
    H2 = hessian.exact_two_layer(net, w, X, T)
    assert relative_error(H2, hessian.exact(net, w, X, T)) < 1e-12
    assert relative_error(H2, hessian.finite_difference(net, w, X, T)) < 1e-7


def test_two_layer_formulas_refuse_deeper_networks(rng):
    net, X, T = tiny_problem("linear", rng, sizes=(3, 4, 4, 2))
    with pytest.raises(ValueError, match="one hidden layer"):
        hessian.exact_two_layer(net, net.init_weights(rng), X, T)


def test_finite_difference_is_nearly_symmetric_and_scales_its_step(rng):
    net, X, T = tiny_problem("logistic", rng, sizes=(3, 4, 2), N=10)
    w = 30.0 * net.init_weights(rng)                          # large weights, saturated units
    H = hessian.exact(net, w, X, T)
    Hfd = hessian.finite_difference(net, w, X, T)
    assert relative_error(Hfd, H) < 1e-6
    assert relative_error(Hfd, Hfd.T) < 1e-6


# -- approximations (§5.4.1–5.4.3) --------------------------------------------------------

def _outer_product_by_hand(net, w, X, T):
    """Σ_n B_nᵀ C_n B_n with B_n = ∂a_n/∂w from the network's own per-pattern Jacobians."""
    B = net.output_gradients(w, X, wrt="a")
    c = net.forward(w, X)
    C = net.output.curvature(c.a[-1], c.y, T)
    return np.einsum("nkv,nkl,nlu->vu", B, C, B)


@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("output", OUTPUTS)
def test_outer_product_is_sum_of_b_c_b_over_patterns(output, sizes, rng):   # (5.84, 5.85)
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden="tanh", N=9)
    w = net.init_weights(rng)
    G = hessian.outer_product(net, w, X, T, chunk_size=4)
    assert relative_error(G, _outer_product_by_hand(net, w, X, T)) < 1e-12
    assert np.linalg.eigvalsh(G).min() > -1e-12 * np.abs(G).max()          # PSD


@pytest.mark.parametrize("sizes", DEPTHS)
@pytest.mark.parametrize("hidden", ["tanh", "identity", "relu"])
@pytest.mark.parametrize("output", OUTPUTS)
def test_outer_product_diagonal_is_that_of_the_sum_without_forming_it(output, hidden, sizes,
                                                                      rng):
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden=hidden, N=9)
    w = net.init_weights(rng)
    by_hand = np.diag(_outer_product_by_hand(net, w, X, T))
    assert relative_error(hessian.outer_product_diagonal(net, w, X, T), by_hand) < 1e-12
    assert relative_error(hessian.outer_product_diagonal(net, w, X, T, chunk_size=4),
                          by_hand) < 1e-12


def test_outer_product_diagonal_of_a_prior_objective_adds_the_prior(rng):
    net, X, T = tiny_problem("softmax", rng, sizes=(3, 4, 3), N=10)
    w = net.init_weights(rng)
    obj = prmlnet.Objective(net, X, T, alpha={"W1": 0.3, "b2": 2.0}, beta=1.7, chunk_size=4)
    assert relative_error(obj.outer_product_diagonal(w), np.diag(obj.outer_product(w))) < 1e-12


@pytest.mark.parametrize("output", OUTPUTS)
def test_outer_product_is_exact_for_a_network_linear_in_the_weights(output, rng):
    net, X, T = tiny_problem(output, rng, sizes=(4, 3), N=12)     # a = W x + b: no hidden layer
    w = net.init_weights(rng)
    assert relative_error(hessian.outer_product(net, w, X, T), hessian.exact(net, w, X, T)) < 1e-12
    H = hessian.exact(net, w, X, T)
    assert relative_error(H, hessian.finite_difference(net, w, X, T)) < 1e-7


@pytest.mark.parametrize("hidden", HIDDEN)
def test_outer_product_is_exact_at_zero_residuals(hidden, rng):   # y_n = t_n: δ = 0
    net = prmlnet.Network((3, 5, 4, 2), hidden=hidden, output="linear")
    w = net.init_weights(rng)
    X = rng.standard_normal((10, 3))
    T = net.predict(w, X)
    G = hessian.outer_product(net, w, X, T)
    assert relative_error(G, hessian.exact(net, w, X, T)) < 1e-12
    # ... and not elsewhere
    T2 = T + rng.standard_normal(T.shape)
    assert relative_error(hessian.outer_product(net, w, X, T2), hessian.exact(net, w, X, T2)) > 1e-3


@pytest.mark.parametrize("output", OUTPUTS)
def test_inverse_outer_product_equals_the_direct_inverse(output, rng):   # §5.4.3
    net, X, T = tiny_problem(output, rng, sizes=(3, 4, 3), hidden="tanh", N=20)
    w = net.init_weights(rng)
    alpha = 0.1
    G = hessian.outer_product(net, w, X, T)
    direct = np.linalg.inv(G + alpha * np.eye(net.n_weights))
    assert relative_error(hessian.inverse_outer_product(net, w, X, T, alpha), direct) < 1e-10


def test_inverse_outer_product_of_one_pattern_is_sherman_morrison(rng):   # (5.89)
    net, X, T = tiny_problem("linear", rng, sizes=(2, 3, 1), N=1)
    w = net.init_weights(rng)
    b = net.output_gradients(w, X, wrt="a")[0, 0]
    alpha = 0.5
    H0inv = np.eye(net.n_weights) / alpha
    expected = H0inv - np.outer(H0inv @ b, b @ H0inv) / (1 + b @ H0inv @ b)
    assert relative_error(hessian.inverse_outer_product(net, w, X, T, alpha), expected) < 1e-13


def _becker_lecun_by_loops(net, w, X, T):
    """(5.79)–(5.81) pattern by pattern, unit by unit, for a two-layer network."""
    (W1, b1), (W2, b2) = net.unpack(w)
    act = net.layers[0].activation
    d1, d2 = np.zeros_like(W1), np.zeros_like(W2)
    e1, e2 = np.zeros_like(b1), np.zeros_like(b2)
    for x, t in zip(X, T):
        a1 = W1 @ x + b1
        z = act.h(a1)
        a2 = W2 @ z + b2
        y = net.output.output(a2[None])
        delta = net.output.delta(a2[None], y, t[None])[0]
        C = net.output.curvature(a2[None], y, t[None])[0]
        for k in range(len(b2)):
            d2[k] += C[k, k] * z ** 2
            e2[k] += C[k, k]
        for j in range(len(b1)):
            s = act.dh(a1[j], z[j]) ** 2 * sum(W2[k, j] ** 2 * C[k, k] for k in range(len(b2)))
            s += act.d2h(a1[j], z[j]) * sum(W2[k, j] * delta[k] for k in range(len(b2)))
            d1[j] += s * x ** 2
            e1[j] += s
    return np.concatenate([d1.ravel(), e1, d2.ravel(), e2])


@pytest.mark.parametrize("output", OUTPUTS)
def test_becker_lecun_diagonal_follows_its_recursion(output, rng):   # (5.79)–(5.81)
    net, X, T = tiny_problem(output, rng, sizes=(3, 4, 3), hidden="tanh", N=6)
    w = net.init_weights(rng)
    loops = _becker_lecun_by_loops(net, w, X, T)
    assert relative_error(hessian.diagonal(net, w, X, T), loops) < 1e-12


def test_becker_lecun_is_exact_only_where_no_off_diagonal_term_is_dropped(rng):
    # two layers and a diagonal output curvature: nothing is neglected on the diagonal
    net, X, T = tiny_problem("logistic", rng, sizes=(3, 4, 2), N=9)
    w = net.init_weights(rng)
    exact = hessian.exact_diagonal(net, w, X, T)
    assert relative_error(hessian.diagonal(net, w, X, T), exact) < 1e-12
    # softmax couples the outputs, a second hidden layer couples the hidden units
    for output, sizes in (("softmax", (3, 4, 3)), ("linear", (3, 4, 4, 2))):
        net, X, T = tiny_problem(output, rng, sizes=sizes, N=9)
        w = net.init_weights(rng)
        exact = hessian.exact_diagonal(net, w, X, T)
        assert relative_error(hessian.diagonal(net, w, X, T), exact) > 1e-4


# -- the memory guard ---------------------------------------------------------------------

@pytest.mark.parametrize("fn", [hessian.exact, hessian.outer_product, hessian.finite_difference])
def test_memory_guard_names_the_bytes_and_the_alternative(fn, rng):
    net, X, T = tiny_problem("linear", rng)
    w = net.init_weights(rng)
    with pytest.raises(hessian.HessianMemoryError, match=r"needs .*B.*hvp.*linear_operator"):
        fn(net, w, X, T, max_bytes=100)
    with pytest.raises(MemoryError):
        fn(net, w, X, T, max_bytes=100)


def test_memory_guard_uses_the_available_memory(rng, monkeypatch):
    from prmlnet.hessian import _memory

    monkeypatch.setattr(_memory, "available_memory", lambda: 10_000)
    net, X, T = tiny_problem("linear", rng, sizes=(3, 30, 2))
    w = net.init_weights(rng)
    with pytest.raises(hessian.HessianMemoryError, match=f"W = {net.n_weights}"):
        hessian.exact(net, w, X, T)
    with pytest.raises(hessian.HessianMemoryError):
        hessian.inverse_outer_product(net, w, X, T, 1.0)
    hessian.hvp(net, w, X, T, w)                          # O(W): still fine


# -- bad input ----------------------------------------------------------------------------

def test_bad_input_is_refused_with_a_clear_message(rng):
    net, X, T = tiny_problem("linear", rng)
    w = net.init_weights(rng)
    with pytest.raises(ValueError, match="direction of shape"):
        hessian.hvp(net, w, X, T, np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        hessian.hvp(net, w, X, T, np.full(net.n_weights, np.nan))
    with pytest.raises(ValueError, match="method must be"):
        hessian.exact(net, w, X, T, method="fast")
    with pytest.raises(ValueError, match="alpha must be > 0"):
        hessian.inverse_outer_product(net, w, X, T, 0.0)
    with pytest.raises(ValueError, match="step h must be positive"):
        hessian.finite_difference(net, w, X, T, h=0.0)
    with pytest.raises(ValueError, match="T has"):
        hessian.exact(net, w, X, T[:, :1])
