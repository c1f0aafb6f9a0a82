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
