"""Second order for mixture density networks: H·v, the exact Hessian, PyTorch oracles."""

import numpy as np
import pytest

from prmlnet import Network, hessian
from prmlnet.mdn import MixtureDensity
from prmlnet.testing import relative_error


def mdn_net(rng, L, K, min_width=0.0, D=2, M=3, N=8):
    md = MixtureDensity(L, K, min_width=min_width)
    net = Network((D, M, md.n_outputs), output=md)
    X = rng.standard_normal((N, D))
    T = rng.standard_normal((N, K))
    return net, net.init_weights(rng), X, T


@pytest.mark.parametrize("min_width", [0.0, 0.2])
@pytest.mark.parametrize("L,K", [(1, 1), (3, 1), (2, 2)])
def test_hvp_matches_finite_differences_of_the_gradient(L, K, min_width, rng):   # §5.4.6
    net, w, X, T = mdn_net(rng, L, K, min_width)
    V = rng.standard_normal((3, net.n_weights))
    eps = 1e-6
    numeric = np.stack([(net.gradient(w + eps * v, X, T) - net.gradient(w - eps * v, X, T))
                        / (2 * eps) for v in V])
    assert relative_error(hessian.hvp(net, w, X, T, V), numeric) < 1e-7       # batched
    assert relative_error(hessian.hvp(net, w, X, T, V[0]), numeric[0]) < 1e-7  # single


@pytest.mark.parametrize("L,K", [(3, 1), (2, 2)])
def test_exact_hessian_matches_finite_differences(L, K, rng):
    net, w, X, T = mdn_net(rng, L, K, min_width=0.1)
    H = hessian.exact(net, w, X, T)
    Hfd = hessian.finite_difference(net, w, X, T)
    assert relative_error(H, Hfd) < 1e-7
    assert relative_error(hessian.exact(net, w, X, T, method="rop"), H) < 1e-12


def test_output_curvature_of_the_hessian_package_equals_mdn_curvature(rng):
    net, w, X, T = mdn_net(rng, 3, 2, min_width=0.1)
    a = net.forward(w, X).a[-1]
    y = net.output.output(a)
    C = hessian.output_curvature(net.output, a, y, T)
    assert relative_error(C, net.output.curvature(a, y, T, psd=False)) < 1e-14


# -- PyTorch float64 oracles ----------------------------------------------------------
def torch_mdn_error(torch, a, T, L, K, min_width):
    ap, s, mu = a[:, :L], a[:, L:2 * L], a[:, 2 * L:].reshape(-1, L, K)
    log_pi = torch.log_softmax(ap, dim=1)
    var = torch.exp(2 * s) + min_width ** 2
    d2 = ((T[:, None, :] - mu) ** 2).sum(-1)
    log_n = -0.5 * K * torch.log(2 * torch.pi * var) - 0.5 * d2 / var
    return -torch.logsumexp(log_pi + log_n, dim=1).sum()


@pytest.mark.reference
@pytest.mark.parametrize("min_width", [0.0, 0.2])
@pytest.mark.parametrize("L,K", [(1, 1), (3, 1), (5, 2)])
def test_error_deltas_and_curvature_match_torch_autodiff(L, K, min_width, rng):
    torch = pytest.importorskip("torch")
    md = MixtureDensity(L, K, min_width=min_width)
    N = 6
    a = rng.standard_normal((N, md.n_outputs))
    T = rng.standard_normal((N, K))
    at, Tt = torch.tensor(a, dtype=torch.float64), torch.tensor(T, dtype=torch.float64)
    f = lambda x: torch_mdn_error(torch, x, Tt, L, K, min_width)   # noqa: E731
    E_ref = float(f(at))
    g_ref = torch.func.grad(f)(at).numpy()
    assert abs(md.error(a, None, T) - E_ref) <= 1e-12 * abs(E_ref)
    assert relative_error(md.delta(a, None, T), g_ref) < 1e-12
    H = torch.func.hessian(f)(at).numpy()                      # (N, P, N, P), block diagonal in n
    C = np.stack([H[n, :, n, :] for n in range(N)])
    assert relative_error(md.curvature(a, md.output(a), T, psd=False), C) < 1e-10
    ra = rng.standard_normal((2, N, md.n_outputs))
    hv_ref = np.stack([torch.func.jvp(torch.func.grad(f), (at,),
                                      (torch.tensor(r, dtype=torch.float64),))[1].numpy()
                       for r in ra])
    assert relative_error(md.r_delta(a, None, T, ra), hv_ref) < 1e-10


@pytest.mark.reference
def test_network_hvp_matches_torch_autodiff(rng):
    torch = pytest.importorskip("torch")
    L, K, mw = 3, 2, 0.1
    net, w, X, T = mdn_net(rng, L, K, min_width=mw)
    Xt, Tt = torch.tensor(X), torch.tensor(T)
    (W1, b1), (W2, b2) = net.unpack(w)
    s1, s2 = net.layer_slices()

    def E(wt):
        W1t, b1t = wt[s1][:W1.size].reshape(W1.shape), wt[s1][W1.size:]
        W2t, b2t = wt[s2][:W2.size].reshape(W2.shape), wt[s2][W2.size:]
        a = torch.tanh(Xt @ W1t.T + b1t) @ W2t.T + b2t
        return torch_mdn_error(torch, a, Tt, L, K, mw)

    wt = torch.tensor(w)
    v = rng.standard_normal(net.n_weights)
    hv = torch.func.jvp(torch.func.grad(E), (wt,), (torch.tensor(v),))[1].numpy()
    assert relative_error(hessian.hvp(net, w, X, T, v), hv) < 1e-10
    assert relative_error(net.gradient(w, X, T), torch.func.grad(E)(wt).numpy()) < 1e-12


def test_outer_product_approximation_of_an_mdn_is_psd_and_assembled_from_c_n(rng):
    net, w, X, T = mdn_net(rng, 3, 1, min_width=0.1, N=12)
    G = hessian.outer_product(net, w, X, T)
    B = net.output_gradients(w, X, wrt="a")                       # (N, P, W)
    c = net.forward(w, X)
    C = net.output.curvature(c.a[-1], c.y, T)
    assert relative_error(G, np.einsum("npw,npq,nqv->wv", B, C, B)) < 1e-12
    assert np.linalg.eigvalsh(G).min() > -1e-10 * np.abs(G).max()
    # the exact blocks instead give the Gauss–Newton part of the exact Hessian, indefinite here
    C_exact = net.output.curvature(c.a[-1], c.y, T, psd=False)
    assert np.linalg.eigvalsh(np.einsum("npw,npq,nqv->wv", B, C_exact, B)).min() < 0


def test_other_hessian_approximations_accept_an_mdn(rng):
    net, w, X, T = mdn_net(rng, 3, 1, min_width=0.1, N=10)
    G = hessian.outer_product(net, w, X, T)
    A_inv = hessian.inverse_outer_product(net, w, X, T, alpha=0.5)      # §5.4.3
    assert relative_error(A_inv, np.linalg.inv(G + 0.5 * np.eye(net.n_weights))) < 1e-10
    # Becker–LeCun (5.79): exact on the output layer, where no off-diagonal term is dropped
    d = hessian.diagonal(net, w, X, T)
    out = net.layer_slices()[-1]
    assert relative_error(d[out], np.diag(hessian.exact(net, w, X, T))[out]) < 1e-12
