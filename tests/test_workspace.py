"""Workspaces and the fast paths give the plain paths' results, bit for bit.

The plain path of every pass is the layer-by-layer one (``Network._passes`` through
``Layer.forward``/``backward``), allocating its arrays; a Dense subclass takes it,
since the loops of ``prmlnet._passes`` are for ``Dense`` itself.
"""

import copy
import pickle
import threading

import numpy as np
import pytest

import prmlnet
from prmlnet import ACTIVATIONS, OUTPUTS, Network, Objective, hessian
from prmlnet.layers import Dense
from prmlnet.mdn import MixtureDensity
from prmlnet.testing import relative_error
from prmlnet.workspace import Workspace

from conftest import make_targets


class Plain(Dense):
    """A layer type the dense loops do not know: the network runs its passes."""


def pair(sizes, hidden, output, dtype=np.float64):
    """The same network twice: of Dense layers (fast loops) and of Plain ones."""
    net = Network(sizes, hidden=hidden, output=output, dtype=dtype)
    plain = Network.from_layers([Plain(m.n_in, m.n_out, m.activation) for m in net.layers],
                                output=output, dtype=dtype)
    return net, plain


def data(net, N, rng):
    X = rng.standard_normal((N, net.n_inputs)).astype(net.dtype)
    if isinstance(net.output, MixtureDensity):
        T = rng.standard_normal((N, net.output.K))
    else:
        T = make_targets(net.output.name, N, net.n_outputs, rng)
    return X, T.astype(net.dtype)


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


CASES = [((1, 3, 1), "tanh", "linear", 50),             # unrolled one hidden layer, copied w
         ((4, 6, 5, 3), "logistic", "softmax", 40),
         ((3, 7, 2), "relu", "logistic", 33),
         ((2, 4, 4, 1), ["tanh", "identity"], "linear", 17),
         ((5, 8, 3), "softplus", "softmax", 900),        # activations kept in the workspace
         ((3, 700, 2), "tanh", "linear", 9),             # W > the copy limit
         ((3, 2), "tanh", "softmax", 12)]                # no hidden layer


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes, hidden, output, N", CASES)
def test_every_path_gives_the_same_bits(sizes, hidden, output, N, dtype, rng):
    net, plain = pair(sizes, hidden, output, dtype)
    X, T = data(net, N, rng)
    ws = net.workspace()
    for _ in range(3):                                   # buffers made, then reused
        w = net.init_weights(rng)
        E, g = plain.error_and_gradient(w, X, T)
        assert g.dtype == dtype
        for kw in ({}, {"workspace": ws}):
            E2, g2 = net.error_and_gradient(w, X, T, **kw)
            assert E2 == E and same(g2, g)
            out = np.empty_like(w)
            E3, g3 = net.error_and_gradient(w, X, T, out=out, check=False, **kw)
            assert g3 is out and E3 == E and same(g3, g)
            assert net.error(w, X, T, **kw) == plain.error(w, X, T) == E
            assert same(net.predict(w, X, **kw), plain.predict(w, X))
        assert same(plain.error_and_gradient(w, X, T, workspace=plain.workspace())[1], g)


def test_mixture_density_outputs_take_the_generic_output_path(rng):
    md = MixtureDensity(3, 2)
    net, plain = pair((2, 6, md.n_outputs), "tanh", md)
    X, T = data(net, 30, rng)
    w = prmlnet.mdn.init_weights(net, T, rng)
    E, g = plain.error_and_gradient(w, X, T)
    E2, g2 = net.error_and_gradient(w, X, T, workspace=net.workspace())
    assert E2 == E and same(g2, g)


def test_returned_arrays_are_never_the_workspaces(rng):
    net = Network((5, 8, 3), output="softmax")
    X, T = data(net, 900, rng)
    ws = net.workspace()
    w1, w2 = net.init_weights(1), net.init_weights(2)
    E1, g1 = net.error_and_gradient(w1, X, T, workspace=ws)
    y1 = net.predict(w1, X, workspace=ws)
    keep = g1.copy(), y1.copy()
    net.error_and_gradient(w2, X, T, workspace=ws)
    net.predict(w2, X, workspace=ws)
    assert same(g1, keep[0]) and same(y1, keep[1])
    lin = Network((5, 8, 3))                              # linear outputs: y is a itself
    y = lin.predict(w1, X, workspace=lin.workspace())
    assert same(y, lin.predict(w1, X))
    assert ws.nbytes > 0


def test_objective_gives_the_networks_bits_with_its_private_workspace(rng):
    net = Network((3, 20, 2))
    X, T = data(net, 300, rng)
    w = net.init_weights(rng)
    obj = Objective(net, X, T, chunk_size=300)
    E, g = net.error_and_gradient(w, X, T)
    for _ in range(2):
        E2, g2 = obj(w)
        assert E2 == E and same(g2, g)
    chunked = Objective(net, X, T, chunk_size=64)
    Eb, gb = 0.0, np.zeros_like(w)                       # the chunk sums done by hand
    for s in range(0, 300, 64):
        Ec, gc = net.error_and_gradient(w, X[s:s + 64], T[s:s + 64])
        Eb += Ec
        gb += gc
    E3, g3 = chunked(w)
    assert E3 == Eb and same(g3, gb)
    assert copy.deepcopy(obj)(w)[0] == E                 # copies and pickles start afresh
    assert pickle.loads(pickle.dumps(obj))(w)[0] == E


def test_a_busy_workspace_falls_back_to_fresh_arrays(rng):
    net = Network((5, 8, 3), output="softmax")
    X, T = data(net, 900, rng)
    w = net.init_weights(rng)
    ws = net.workspace()
    ref = net.error_and_gradient(w, X, T, workspace=ws)[1]
    assert ws.acquire()                                  # as if another call held it
    try:
        assert same(net.error_and_gradient(w, X, T, workspace=ws)[1], ref)
    finally:
        ws.release()


def test_threads_sharing_a_workspace_get_their_own_results(rng):
    net = Network((4, 30, 2))
    ws = net.workspace()
    problems = [(net.init_weights(k), *data(net, 200, rng)) for k in range(4)]
    expected = [net.error_and_gradient(w, X, T)[1] for w, X, T in problems]
    bad = []

    def work(k):
        w, X, T = problems[k]
        for _ in range(40):
            if not same(net.error_and_gradient(w, X, T, workspace=ws)[1], expected[k]):
                bad.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


def test_workspaces_keep_a_bounded_number_of_buffer_sets(rng):
    net = Network((3, 50, 2))
    ws = Workspace(net, max_sets=2)
    w = net.init_weights(rng)
    for N in (100, 120, 140, 100):
        X, T = data(net, N, rng)
        assert same(net.gradient(w, X, T, workspace=ws), net.gradient(w, X, T))
    assert len(ws._sets) == 2
    ws.clear()
    assert ws.nbytes == 0
    assert pickle.loads(pickle.dumps(ws)).nbytes == 0


def test_a_workspace_belongs_to_one_network(rng):
    net = Network((3, 4, 2))
    X, T = data(net, 5, rng)
    w = net.init_weights(rng)
    other = Network((3, 4, 2)).workspace()               # an equal network's: accepted
    assert same(net.gradient(w, X, T, workspace=other), net.gradient(w, X, T))
    with pytest.raises(ValueError, match="belongs to"):
        net.gradient(w, X, T, workspace=Network((3, 5, 2)).workspace())
    with pytest.raises(ValueError, match="Workspace"):
        net.gradient(w, X, T, workspace={})
    with pytest.raises(ValueError, match="max_sets"):
        Workspace(net, max_sets=0)
    with pytest.raises(ValueError, match="Network"):
        Workspace("net")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hvp_with_a_workspace_gives_the_same_bits(dtype, rng):
    for sizes, output, N in [((4, 6, 5, 3), "softmax", 40), ((5, 30, 2), "linear", 400)]:
        net, plain = pair(sizes, "tanh", output, dtype)
        X, T = data(net, N, rng)
        ws = net.workspace()
        for _ in range(2):
            w = net.init_weights(rng)
            v = rng.standard_normal(net.n_weights).astype(dtype)
            Hv = hessian.hvp(net, w, X, T, v)
            assert Hv.dtype == dtype
            assert same(hessian.hvp(net, w, X, T, v, workspace=ws), Hv)
            V = rng.standard_normal((3, net.n_weights)).astype(dtype)
            HV = hessian.hvp(plain, w, X, T, V)
            assert same(hessian.hvp(plain, w, X, T, V, workspace=plain.workspace()), HV)
            tol = 1e-12 if dtype == np.float64 else 1e-4
            assert relative_error(hessian.hvp(plain, w, X, T, v), Hv) < tol


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes, hidden, output", [((5, 7, 3), "tanh", "softmax"),
                                                   ((4, 6, 5, 2), "relu", "linear"),
                                                   ((3, 2), "tanh", "logistic")])
def test_gradient_step_is_w_minus_eta_gradient(sizes, hidden, output, dtype, rng):
    net, plain = pair(sizes, hidden, output, dtype)
    X, T = data(net, 40, rng)
    w = net.init_weights(rng)
    w0 = w.copy()
    E, g = net.error_and_gradient(w, X, T)
    ref = w - 0.03 * g
    tol = 1e-15 if dtype == np.float64 else 1e-6
    E2, new = net.gradient_step(w, X, T, 0.03)
    assert E2 == E and new.dtype == dtype and same(w, w0)           # w untouched
    assert relative_error(new, ref) < tol
    E3, same_w = net.gradient_step(w, X, T, 0.03, out=w, workspace=net.workspace())
    assert same_w is w and E3 == E and relative_error(w, ref) < tol  # in place
    assert relative_error(plain.gradient_step(w0, X, T, 0.03)[1], ref) < tol
    with pytest.raises(ValueError, match="learning_rate"):
        net.gradient_step(w0, X, T, 0.0)
    with pytest.raises(ValueError, match="out"):
        net.gradient_step(w0, X, T, 0.1, out=np.empty(3))


def test_gradient_step_keeps_activations_in_the_workspace_for_large_batches(rng):
    net = Network((8, 40, 3), output="softmax")
    X, T = data(net, 500, rng)
    w = net.init_weights(rng)
    ref = w - 0.01 * net.gradient(w, X, T)
    ws = net.workspace()
    for _ in range(2):
        E, new = net.gradient_step(w, X, T, 0.01, workspace=ws)
        assert relative_error(new, ref) < 1e-15


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_write_the_same_bits_into_buffers(name, rng):
    act = ACTIVATIONS[name]
    a = rng.standard_normal((7, 5)) * 3
    z = act.h(a)
    dh = act.dh(a, z)
    assert same(act.apply(a, np.empty_like(a)), z)
    assert same(act.derivative(a, z, np.empty_like(a)), dh)
    assert same(act.second_derivative(a, z, dh, np.empty_like(a)), act.d2h(a, z, dh))
    g = rng.standard_normal((7, 5))
    expected = g * dh
    assert same(act.backprop(g.copy(), a, z, np.empty_like(a)), expected)
    assert same(act.backprop(g, a, z), expected)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_output_models_evaluate_with_the_same_bits(name, rng):
    model = OUTPUTS[name]
    a = rng.standard_normal((9, 4)) * 4
    T = make_targets(name, 9, 4, rng)
    y = model.output(a)
    E, d = model.error_and_delta(a, y, T)
    for out in (None, [np.empty_like(a) for _ in range(3)]):
        y2, E2, d2 = model.evaluate(a, T, out)
        assert same(y2, y) and E2 == E == model.error(a, y, T) and same(d2, d)
        assert model.evaluate(a, T, out, delta=False)[2] is None
    a[0, 0] = np.inf                                      # log_softmax's own treatment
    with np.errstate(invalid="ignore"):
        y, E = model.output(a), model.error(a, model.output(a), T)
        y2, E2, _ = model.evaluate(a, T)
    assert np.array_equal(y2, y, equal_nan=True) and (E2 == E or np.isnan(E) and np.isnan(E2))


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_curvature_factors_reproduce_the_curvature(name, rng):
    model = OUTPUTS[name]
    a = rng.standard_normal((6, 4))
    y = model.output(a)
    S, lam = model.curvature_factor(a, y)
    lam = np.ones(S.shape[::2]) if lam is None else lam
    C = np.einsum("nkc,nc,nlc->nkl", S, lam, S)
    assert relative_error(C, model.curvature(a, y)) < 1e-14


def test_the_fast_checks_refuse_what_the_slow_ones_do(rng):
    net = Network((2, 3, 1))
    X, T = data(net, 6, rng)
    w = net.init_weights(rng)
    for bad_w, bad_X, bad_T, what in ((np.r_[w[:-1], np.nan], X, T, "weight"),
                                      (w, np.where(X > 0, np.inf, X), T, "X holds"),
                                      (w, X, np.full_like(T, np.nan), "T holds")):
        with pytest.raises(ValueError, match=what):
            net.error_and_gradient(bad_w, bad_X, bad_T)
    huge = X * 1e200                                      # finite, though x·x overflows
    assert np.isfinite(net.check_inputs(huge)).all()
    assert net.check_data(w * 1e160, huge, T)[0] is not None


def test_linear_operator_takes_a_network_or_an_objective_only(rng):
    net = Network((3, 4, 2))
    X, T = data(net, 5, rng)
    w = net.init_weights(rng)

    class LooksLikeAnObjective:
        net = Network((3, 4, 2))

        def hvp(self, w, v):
            return v

    for fn in (hessian.linear_operator, hessian.extreme_eigenvalues):
        with pytest.raises(ValueError, match="Network .* or an Objective"):
            fn(LooksLikeAnObjective(), w)
    obj = Objective(net, X, T)
    v = rng.standard_normal(net.n_weights)
    assert relative_error(hessian.linear_operator(obj, w) @ v, hessian.hvp(net, w, X, T, v)) < 1e-13
