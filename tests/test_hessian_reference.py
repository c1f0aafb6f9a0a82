"""The Hessian against PyTorch autodiff in float64 (torch.func.hessian, jvp of grad)."""

import numpy as np
import pytest

from prmlnet import hessian
from prmlnet.testing import relative_error

from conftest import tiny_problem

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reference

from torch_oracle import ACT, torch_network  # noqa: E402  (needs torch)


def torch_error(net, hidden):
    """E(w) written with torch.nn.functional over the same flat weight vector."""
    return torch_network(net, hidden)[0]


@pytest.mark.parametrize("sizes", [(4, 6, 3), (4, 6, 5, 3)])
@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
@pytest.mark.parametrize("hidden", list(ACT))
def test_exact_hessian_and_hvp_match_torch_func(hidden, output, sizes, rng):
    net, X, T = tiny_problem(output, rng, sizes=sizes, hidden=hidden, N=9)
    w = net.init_weights(rng)
    v = rng.standard_normal(net.n_weights)
    E = torch_error(net, hidden)
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    wt, vt = torch.from_numpy(w), torch.from_numpy(v)
    H_ref = torch.func.hessian(lambda w: E(w, Xt, Tt))(wt).numpy()
    Hv_ref = torch.func.jvp(torch.func.grad(lambda w: E(w, Xt, Tt)), (wt,), (vt,))[1].numpy()
    assert relative_error(hessian.exact(net, w, X, T), H_ref) < 1e-10
    assert relative_error(hessian.hvp(net, w, X, T, v), Hv_ref) < 1e-10
    assert relative_error(hessian.exact_diagonal(net, w, X, T), np.diag(H_ref)) < 1e-10
    if len(sizes) == 3:
        assert relative_error(hessian.exact_two_layer(net, w, X, T), H_ref) < 1e-10


@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
def test_outer_product_diagonal_matches_diag_ggn_by_torch_func(output, rng):
    # DiagGGN the torch.func way: per-pattern Jacobians of the output pre-activations
    # (vmap of jacrev) weighted by ∂²E_n/∂a_n² from torch.func.hessian of the error
    net, X, T = tiny_problem(output, rng, sizes=(4, 6, 5, 3), hidden="tanh", N=9)
    w = net.init_weights(rng)
    Xt, Tt, wt = torch.from_numpy(X), torch.from_numpy(T), torch.from_numpy(w)
    shapes = [(layer.n_out, layer.n_in) for layer in net.layers]

    def a_of(w, x):
        z, i = x, 0
        for l, (o, n) in enumerate(shapes):
            a = torch.nn.functional.linear(z, w[i:i + o * n].reshape(o, n), w[i + o * n:i + o * n + o])
            i += o * n + o
            z = torch.tanh(a) if l < len(shapes) - 1 else a
        return a

    J = torch.func.vmap(torch.func.jacrev(a_of), in_dims=(None, 0))(wt, Xt)      # (N, K, W)
    A = a_of(wt, Xt).detach()

    def E_n(a, t):                               # the error of one pattern from its a
        return _error_of_a(net, a, t)

    C = torch.func.vmap(torch.func.hessian(E_n))(A, Tt)                         # (N, K, K)
    ref = torch.einsum("nkw,nkl,nlw->w", J, C, J).numpy()
    assert relative_error(hessian.outer_product_diagonal(net, w, X, T), ref) < 1e-10


def _error_of_a(net, a, t):
    if net.output.name == "linear":
        return 0.5 * ((a - t) ** 2).sum()
    if net.output.name == "logistic":
        return torch.nn.functional.binary_cross_entropy_with_logits(a, t, reduction="sum")
    return -(t * torch.log_softmax(a, dim=-1)).sum()
