"""Convolutional networks (§5.5.6): layers against finite differences, identities and the
book's recursions; every second-order tool on a small CNN."""

import numpy as np
import pytest

import prmlnet
from prmlnet import Network, bayes, equivalent_weights, hessian, symmetry_count
from prmlnet.convolution import conv2d
from prmlnet.convolution import (Conv2D, MaxPool, Subsampling, layers_from_spec,
                                 network_from_spec, parse_spec, spec_of)
from prmlnet.priors import gaussian_prior
from prmlnet.testing import central_differences, relative_error

from conftest import make_targets

# (spec, image shape): convolution with and without padding, subsampling, max pooling
NETS = [
    ("conv:3x3x3-sub-dense:4", (1, 6, 6)),
    ("conv:2x2x2:pad=1:logistic-max-conv:3x2x2:softplus-dense:4", (2, 5, 5)),
    ("conv:2x3x2-sub:identity-conv:2x2:tanh", (1, 6, 9)),
]


def problem(spec, shape, output, rng, N=5, K=3, dtype=np.float64):
    net = network_from_spec(spec, shape, K, output=output, dtype=dtype)
    X = rng.standard_normal((N, net.n_inputs))
    return net, net.init_weights(rng), X, make_targets(output, N, K, rng)


# -- first derivatives ---------------------------------------------------------------

@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
@pytest.mark.parametrize("spec,shape", NETS)
def test_backprop_matches_central_differences(spec, shape, output, rng):      # (5.69)
    net, w, X, T = problem(spec, shape, output, rng)
    numeric = central_differences(lambda v: net.error(v, X, T), w)
    assert relative_error(net.gradient(w, X, T), numeric) < 1e-7
    J = net.jacobian(w, X)                                                     # (5.73)
    Jn = np.stack([central_differences(lambda x: net.predict(w, x[None])[0], x) for x in X])
    assert relative_error(J, Jn) < 1e-7


@pytest.mark.parametrize("spec,shape", NETS)
def test_per_pattern_gradients_sum_to_the_gradient(spec, shape, rng):
    net, w, X, T = problem(spec, shape, "linear", rng)
    c = net.forward(w, X)
    B = net.output_gradients(w, X, wrt="a")                                   # (N, K, W)
    delta = net.output.delta(c.a[-1], c.y, T)
    assert relative_error(np.einsum("nk,nkw->w", delta, B), net.gradient(w, X, T)) < 1e-13


# -- second derivatives ----------------------------------------------------------------

@pytest.mark.parametrize("output", ["linear", "softmax"])
@pytest.mark.parametrize("spec,shape", NETS)
def test_every_hessian_route_agrees(spec, shape, output, rng):
    net, w, X, T = problem(spec, shape, output, rng)
    H = hessian.exact(net, w, X, T)              # dense tail by blocks, other rows by R{·}
    assert relative_error(H, hessian.finite_difference(net, w, X, T)) < 1e-7
    assert relative_error(H, hessian.exact(net, w, X, T, method="rop")) < 1e-12
    assert np.array_equal(H, H.T)
    V = rng.standard_normal((3, net.n_weights))
    assert relative_error(hessian.hvp(net, w, X, T, V), V @ H) < 1e-12          # §5.4.6
    assert relative_error(hessian.exact_diagonal(net, w, X, T), np.diag(H)) < 1e-12
    B = net.output_gradients(w, X, wrt="a")
    c = net.forward(w, X)
    G = np.einsum("nkv,nkl,nlu->vu", B, net.output.curvature(c.a[-1], c.y, T), B)
    assert relative_error(hessian.outer_product(net, w, X, T), G) < 1e-12       # (5.84)


def test_linear_operator_and_eigenvalues_see_the_same_hessian(rng):
    net, w, X, T = problem(*NETS[0], "softmax", rng)
    H = hessian.exact(net, w, X, T)
    ev = hessian.extreme_eigenvalues(net, w, X, T, k=1)
    lam = np.linalg.eigvalsh(H)
    assert ev.smallest[0] == pytest.approx(lam[0], abs=1e-9 * abs(lam).max())
    assert ev.largest[0] == pytest.approx(lam[-1], rel=1e-9)


def test_becker_lecun_is_exact_for_a_single_convolution(rng):       # (5.79), C = I
    net = Network.from_layers([Conv2D((2, 5, 5), 3, 2, "identity")], output="linear")
    X = rng.standard_normal((6, net.n_inputs))
    T = rng.standard_normal((6, net.n_outputs))
    w = net.init_weights(rng)
    assert relative_error(hessian.diagonal(net, w, X, T), hessian.exact_diagonal(net, w, X, T)) < 1e-12


def test_becker_lecun_sums_over_the_connections_of_a_shared_weight(rng):     # (5.79)–(5.81)
    conv = Conv2D((1, 5, 5), 2, 2, "identity")
    sub = Subsampling(conv.out_shape, activation="identity")
    net = Network.from_layers([conv, sub], output="linear")
    X = rng.standard_normal((4, 25))
    T = rng.standard_normal((4, net.n_outputs))
    w = net.init_weights(rng)
    d = hessian.diagonal(net, w, X, T)
    (_, _), (ws, _) = net.unpack(w)
    # by hand: ∂²E/∂a² = 1 at the outputs; (w_m/4)² at every unit of map m below them
    win = np.lib.stride_tricks.sliding_window_view(X.reshape(4, 5, 5), (2, 2), axis=(1, 2))
    x2 = (win ** 2).sum(axis=(0, 1, 2))                               # Σ_n Σ_yx z², (2, 2)
    kernel = (ws[:, None, None] / 4) ** 2 * x2[None]
    bias = (ws / 4) ** 2 * 4 * 16                                     # N = 4, 16 positions
    expect = np.concatenate([kernel.ravel(), bias])
    assert relative_error(d[:conv.n_weights], expect) < 1e-12
    # the subsampling layer is the top: nothing is dropped there
    assert relative_error(d[conv.n_weights:], hessian.exact_diagonal(net, w, X, T)[conv.n_weights:]) < 1e-12


# -- the structure of a convolution --------------------------------------------------------

def test_a_convolution_is_a_dense_layer_with_shared_weights(rng):
    conv = Conv2D((2, 6, 5), 3, (3, 2), "tanh", padding=1)
    p = rng.standard_normal(conv.n_weights)
    T = conv.linear(p, np.eye(conv.n_in), bias=False).T                # (n_out, n_in) Toeplitz
    dense = prmlnet.Dense(conv.n_in, conv.n_out, "tanh")
    q = np.concatenate([T.ravel(), np.repeat(conv.unpack(p)[1], conv.n_out // 3)])
    x = rng.standard_normal((4, conv.n_in))
    assert relative_error(conv.linear(p, x), dense.linear(q, x)) < 1e-13
    delta = rng.standard_normal((4, conv.n_out))
    assert relative_error(conv.input_grad(p, delta), dense.input_grad(q, delta)) < 1e-13
    # W = M (C kh kw + 1) weights, shared by M H'W' units of C kh kw + 1 connections each
    assert conv.n_weights == 3 * (2 * 3 * 2 + 1)
    rows = sum(0 <= y + i - 1 < 6 for y in range(6) for i in range(3))   # taps inside the
    cols = sum(0 <= x + j - 1 < 5 for x in range(6) for j in range(2))   # unpadded image
    assert np.count_nonzero(T) == 3 * 2 * rows * cols
    K = conv.unpack(p)[0]
    for m in range(3):                                 # every unit of map m uses kernel m
        assert set(T[m * 36:(m + 1) * 36].ravel()) <= set(K[m].ravel()) | {0.0}


def test_weight_count_follows_the_architecture_not_the_image():
    small = network_from_spec("conv:6x5x5-sub-conv:16x5x5-sub", (1, 28, 28), 10)
    big = network_from_spec("conv:6x5x5-sub-conv:16x5x5-sub", (1, 44, 44), 10)
    conv_sub = (6 * 25 + 6) + 2 * 6 + (16 * 6 * 25 + 16) + 2 * 16
    assert small.n_weights == conv_sub + 16 * 4 * 4 * 10 + 10
    assert big.n_weights == conv_sub + 16 * 8 * 8 * 10 + 10
    groups = small.weight_groups()
    assert [groups[f"b{l}"].size for l in (1, 2, 3, 4, 5)] == [6, 6, 16, 16, 10]
    assert groups["W2"].size == 6 and groups["W1"].size == 150


def test_shifting_the_image_shifts_the_feature_maps(rng):      # translation equivariance
    conv = Conv2D((2, 7, 9), 3, 3, "tanh")
    p = rng.standard_normal(conv.n_weights)
    img = np.zeros((2, 2, 7, 9))
    img[:, :, :, :-1] = rng.standard_normal((2, 2, 7, 8))
    shifted = np.roll(img, 1, axis=3)                                # one pixel right
    a, _ = conv.forward(p, img.reshape(2, -1))
    b, _ = conv.forward(p, shifted.reshape(2, -1))
    a, b = a.reshape(2, 3, 5, 7), b.reshape(2, 3, 5, 7)
    assert np.allclose(b[..., 1:], a[..., :-1], rtol=1e-14, atol=1e-14)
    assert not np.allclose(b, a)
    sub = Subsampling((3, 4, 6))
    q = rng.standard_normal(sub.n_weights)
    m = rng.standard_normal((2, 3, 4, 6))
    m[..., -2:] = 0
    s0 = sub.linear(q, m.reshape(2, -1)).reshape(2, 3, 2, 3)
    s1 = sub.linear(q, np.roll(m, 2, axis=3).reshape(2, -1)).reshape(2, 3, 2, 3)
    assert np.allclose(s1[..., 1:], s0[..., :-1], rtol=1e-14)       # a shift by a block


def test_max_pooling_takes_and_routes_the_block_maxima(rng):
    pool = MaxPool((2, 4, 6))
    x = rng.standard_normal((3, 48))
    blocks = x.reshape(3, 2, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 2, 2, 3, 4)
    assert np.array_equal(pool.linear(np.zeros(0), x), blocks.max(axis=-1).reshape(3, -1))
    d = rng.standard_normal((3, 12))
    g = pool.input_grad_at(np.zeros(0), x, d)
    assert np.count_nonzero(g) == 36 and np.isclose(g.sum(), d.sum())
    assert np.array_equal(g[x == np.repeat(np.repeat(
        pool.linear(np.zeros(0), x).reshape(3, 2, 2, 3), 2, 2), 2, 3).reshape(3, -1)],
        g[g != 0])


@pytest.mark.parametrize("layer", [Conv2D((2, 5, 4), 3, (2, 3), padding=1),
                                   Subsampling((2, 4, 6)), MaxPool((2, 4, 6)),
                                   prmlnet.Dense(48, 5)], ids=repr)
def test_linear_at_is_the_directional_derivative_and_the_adjoint_of_input_grad_at(layer, rng):
    p = rng.standard_normal(layer.n_weights)
    x = rng.standard_normal((3, layer.n_in))
    dx = rng.standard_normal((3, 2, layer.n_in))                     # two directions each
    jv = layer.linear_at(p, x, dx)
    h = 1e-6                 # small: max pooling keeps its maxima; exact for the linear layers
    for s in range(2):
        numeric = (layer.linear(p, x + h * dx[:, s]) - layer.linear(p, x - h * dx[:, s])) / (2 * h)
        assert relative_error(jv[:, s], numeric) < 1e-8
        assert relative_error(layer.linear_at(p, x, dx[:, s]), jv[:, s]) < 1e-14
    d = rng.standard_normal((3, 2, layer.n_out))
    assert np.vdot(jv, d) == pytest.approx(np.vdot(dx, layer.input_grad_at(p, x, d)), rel=1e-12)


def test_max_pooling_refuses_to_be_taken_for_a_linear_map(rng):
    pool = MaxPool((1, 4, 4))
    with pytest.raises(ValueError, match="not linear in its input"):
        pool.linear(np.zeros(0), rng.standard_normal((2, 16)), bias=False)
    with pytest.raises(ValueError, match="input_grad_at"):
        pool.input_grad(np.zeros(0), rng.standard_normal((2, 4)))


def test_chunked_convolution_equals_one_chunk(rng, monkeypatch):
    conv = Conv2D((2, 6, 6), 3, 3, padding=1)
    p = rng.standard_normal(conv.n_weights)
    x, d = rng.standard_normal((7, conv.n_in)), rng.standard_normal((7, conv.n_out))
    g1 = np.empty(conv.n_weights)
    ref = conv.linear(p, x), conv.input_grad(p, d)
    conv.weight_grad(x, d, g1)
    monkeypatch.setattr(conv2d, "_COL_BYTES", 8 * 2 * 18 * 36)      # chunks of 2 patterns
    monkeypatch.setattr(conv2d, "_ADJ_BYTES", 8 * 2 * 5 * 64)       # the adjoint's too
    g2 = np.empty(conv.n_weights)
    got = conv.linear(p, x), conv.input_grad(p, d)
    conv.weight_grad(x, d, g2)
    assert all(relative_error(a, b) < 1e-14 for a, b in zip(ref, got))
    assert relative_error(g1, g2) < 1e-14


def test_columns_are_reused_only_for_the_same_unchanged_pass(rng):
    conv = Conv2D((1, 5, 5), 2, 2)
    p = rng.standard_normal(conv.n_weights)
    x = rng.standard_normal((3, 25))
    a = conv.linear(p, x)
    x *= 2.0                              # a buffer refilled in place: forward recomputes
    assert relative_error(conv.linear(p, x), conv.linear(p, x.copy())) < 1e-15
    assert not np.allclose(conv.linear(p, x), a)


@pytest.mark.parametrize("col_bytes, keep_bytes", [(None, None), (8 * 2 * 18 * 36, None),
                                                   (8 * 2 * 18 * 36, 0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("spec,shape", NETS + [("conv:1x3x3-conv:2x2x2-sub-dense:3", (1, 7, 7))])
def test_a_workspace_gives_the_same_bits_pass_after_pass(spec, shape, dtype, col_bytes,
                                                         keep_bytes, rng, monkeypatch):
    # the image layers take their column matrices and adjoint arrays from the
    # workspace's scratch: the same bits as fresh arrays, however the columns are
    # chunked and kept, on the first pass and on every pass after it
    if col_bytes is not None:
        monkeypatch.setattr(conv2d, "_COL_BYTES", col_bytes)
    if keep_bytes is not None:
        monkeypatch.setattr(conv2d, "_KEEP_BYTES", keep_bytes)
    net, w, X, T = problem(spec, shape, "softmax", rng, N=300, dtype=dtype)
    X, T, w = X.astype(dtype), T.astype(dtype), w.astype(dtype)
    ws = net.workspace()
    for X_now in (X, X[::-1].copy(), X):
        E, g = net.error_and_gradient(w, X_now, T, workspace=ws)
        E0, g0 = net.error_and_gradient(w, X_now, T)
        assert E == E0 and np.array_equal(g, g0)
        y = net.predict(w, X_now, workspace=ws)
        assert np.array_equal(y, net.predict(w, X_now))
        assert not any(np.shares_memory(r, b) for r in (g, y)
                       for b in prmlnet.workspace._arrays(ws._sets))
    assert ws.nbytes > X.nbytes                         # the columns are kept in it


def test_float32_stays_float32(rng):
    net, w, X, T = problem(*NETS[1], "softmax", rng, dtype=np.float32)
    X, T = X.astype(np.float32), T.astype(np.float32)
    c = net.forward(w, X)
    assert all(a.dtype == np.float32 for a in c.a) and c.y.dtype == np.float32
    assert net.gradient(w, X, T).dtype == np.float32
    assert hessian.hvp(net, w, X, T, np.ones(net.n_weights)).dtype == np.float32


# -- the spec --------------------------------------------------------------------------

def test_spec_builds_the_layers_it_names():
    layers = layers_from_spec("conv:6x5x5-sub-conv:16x3x3:pad=1:relu-max:2-dense:84", (1, 28, 28), 10)
    assert [type(l).__name__ for l in layers] == ["Conv2D", "Subsampling", "Conv2D", "MaxPool",
                                                  "Dense", "Dense"]
    assert layers[0].out_shape == (6, 24, 24) and layers[1].out_shape == (6, 12, 12)
    assert layers[2].out_shape == (16, 12, 12) and layers[2].activation.name == "relu"
    assert layers[3].out_shape == (16, 6, 6) and layers[3].activation.name == "identity"
    assert (layers[4].n_in, layers[4].n_out, layers[5].n_out) == (576, 84, 10)
    net = Network.from_spec("conv:6x5x5-sub-dense:84", (1, 28, 28), 10, output="softmax")
    again = network_from_spec(spec_of(net), (1, 28, 28), 10, output="softmax")
    assert again == net and hash(again) == hash(net)


@pytest.mark.parametrize("spec,match", [
    ("conv:6", "conv takes M x K"), ("conv:6x5x5-dense", "dense takes a positive"),
    ("pool:2", "cannot read 'pool:2'"), ("dense:4-conv:2x2", "follows a dense one"),
    ("conv:2x9", "does not fit"), ("conv:2x2-sub:3", "divides the 7x7 maps"),
    ("conv:2x2:sigmoid", "unknown activation 'sigmoid'"), ("sub:pad=1", "belongs to conv"),
    ("", "a layer spec is a string"),
])
def test_bad_specs_say_what_is_wrong(spec, match):
    with pytest.raises(ValueError, match=match):
        layers_from_spec(spec, (1, 8, 8), 3)


def test_bad_layer_arguments_are_refused():
    with pytest.raises(ValueError, match="three positive integers"):
        Conv2D((8, 8), 2, 3)
    with pytest.raises(ValueError, match="n_maps and the kernel size"):
        Conv2D((1, 8, 8), 0, 3)
    with pytest.raises(ValueError, match="divides the 5x6 maps"):
        Subsampling((1, 5, 6))
    assert parse_spec("max") == [("max", [], {})]


# -- weight-space symmetries over feature maps -----------------------------------------------

def test_permuting_and_flipping_maps_leaves_the_outputs_unchanged(rng):
    net = network_from_spec("conv:3x2x2:logistic-sub-conv:2x2x2-dense:3", (1, 7, 7), 2,
                            output="softmax")
    w = net.init_weights(rng)
    X = rng.standard_normal((6, net.n_inputs))
    for layer in (0, 1, 2, 3):
        M = net.layers[layer].n_units
        perm = None if layer == 1 else rng.permutation(M)
        v = equivalent_weights(net, w, layer, perm=perm, signs=-np.ones(M))
        assert not np.allclose(v, w)
        assert relative_error(net.predict(v, X), net.predict(w, X)) < 1e-13
    # conv 3!·2³, its subsampling 2³ (same maps: no 3!), conv 2!·2², dense 3!·2³
    assert symmetry_count(net) == 6 * 8 * 8 * 2 * 4 * 6 * 8


def test_flips_that_are_no_symmetry_are_refused(rng):
    pooled = network_from_spec("conv:3x2-max-dense:3", (1, 5, 5), 2)
    w = pooled.init_weights(rng)
    with pytest.raises(ValueError, match="MaxPool.*not linear in its input"):
        equivalent_weights(pooled, w, 0, signs=[-1, 1, 1])
    with pytest.raises(ValueError, match="are those of layer 0"):
        equivalent_weights(pooled, w, 1, perm=[1, 0, 2])
    assert symmetry_count(pooled) == 6 * 1 * 6 * 8                   # no flips below max
    padded = network_from_spec("conv:2x2:logistic-conv:2x2:pad=1", (1, 4, 4), 2)
    with pytest.raises(ValueError, match="cannot take the constant"):
        equivalent_weights(padded, padded.init_weights(rng), 0, signs=[-1, 1])


# -- Bayesian tools on a CNN ----------------------------------------------------------------

def small_cnn_regression(rng, N=100):
    net = network_from_spec("conv:2x3x3-sub-dense:3", (1, 6, 6), 1)
    X = rng.standard_normal((N, 36))
    T = 0.5 * np.tanh(X[:, :9].sum(axis=1, keepdims=True)) + 0.1 * rng.standard_normal((N, 1))
    return net, X, T


def test_laplace_predictive_of_a_cnn_classifier(rng):           # §5.7.3
    net = network_from_spec("conv:2x3x3-sub-dense:3", (1, 6, 6), 1, output="logistic")
    X = rng.standard_normal((40, 36))
    T = (X[:, :6].sum(axis=1, keepdims=True) > 0).astype(float)
    obj = prmlnet.Objective(net, X, T, alpha=1.0)
    w = prmlnet.optim.minimize(obj, net.init_weights(rng), method="bfgs", gtol=1e-9,
                               max_iter=2000).x
    post = bayes.laplace(net, w, X, T, 1.0, negative="keep")
    H = hessian.exact(net, w, X, T)
    assert relative_error(post.precision, H + np.eye(net.n_weights)) < 1e-12   # A = αI + H
    Xn = rng.standard_normal((5, 36))
    _, s2 = post.activation_variance(Xn)                                   # bᵀA⁻¹b (§5.7.3)
    b = net.output_gradients(w, Xn, wrt="a")[:, 0, :]
    assert relative_error(s2.ravel(), np.einsum("nw,wv,nv->n", b, np.linalg.inv(post.precision), b)) < 1e-8
    p_mod, p_map = post.predict_proba(Xn), post.predict_proba(Xn, moderated=False)
    assert np.all(np.abs(p_mod - 0.5) <= np.abs(p_map - 0.5) + 1e-15)     # moderated towards ½


def test_one_evidence_step_on_a_cnn(rng):                        # (5.178), (5.180)
    net, X, T = small_cnn_regression(rng)
    obj = prmlnet.Objective(net, X, T, alpha=0.1, beta=10.0)
    w = prmlnet.optim.minimize(obj, net.init_weights(rng), method="bfgs", gtol=1e-9,
                               max_iter=3000).x
    post = bayes.laplace(net, w, X, T, 0.1, beta=10.0)
    step = bayes.reestimate(post, X, T)
    assert 0 < step.gamma["w"] < net.n_weights
    E_D = 0.5 * np.sum((net.predict(w, X) - T) ** 2)
    assert step.prior.alpha["w"] * 0.5 * w @ w + step.beta * E_D == pytest.approx(
        X.shape[0] / 2, rel=1e-10)
    layered = gaussian_prior(net, "layers").groups
    assert sorted(layered) == ["W1", "W2", "W3", "W4", "b1", "b2", "b3", "b4"]
    res = bayes.evidence_loop(net, X, T, prior="layers", alpha=0.1, n_outer=2, max_iter=200,
                              rng=0)
    assert all(0 <= res.gamma[g] <= idx.size + 1e-9 for g, idx in res.groups.items())


def test_the_dense_only_formulas_refuse_other_layers(rng):
    net = network_from_spec("conv:2x3x3", (1, 5, 5), 2)
    X, T = rng.standard_normal((3, 25)), rng.standard_normal((3, 2))
    w = net.init_weights(rng)
    with pytest.raises(ValueError, match="two dense layers"):
        hessian.exact_two_layer(net, w, X, T)
    with pytest.raises(ValueError, match="dense layers only"):
        hessian.exact(net, w, X, T, method="blocks")


def test_ard_needs_weights_per_input(rng):
    net = network_from_spec("conv:16x4x4-dense:3", (1, 8, 8), 1)     # 256 kernel weights, D = 64
    with pytest.raises(ValueError, match="dense first layer"):
        gaussian_prior(net, "ard")
