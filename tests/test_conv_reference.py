"""Convolutional networks against PyTorch autodiff in float64: conv2d, a subsampling
written out as block means, max_pool2d (torch.func.grad, hessian, jvp of grad, jacrev)."""

import numpy as np
import pytest

from prmlnet import hessian
from prmlnet.convolution import network_from_spec
from prmlnet.testing import relative_error

from conftest import make_targets

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reference

from torch_oracle import torch_conv_network  # noqa: E402  (needs torch)


@pytest.mark.parametrize("spec,shape,output", [
    ("conv:3x3x3-sub-dense:4", (1, 6, 6), "linear"),
    ("conv:3x3x3-sub-dense:4", (1, 6, 6), "logistic"),
    ("conv:3x3x3-sub-dense:4", (1, 6, 6), "softmax"),
    ("conv:2x2x3:pad=1:logistic-sub:relu-conv:3x2x2:softplus-max", (2, 5, 6), "softmax"),
])
def test_error_gradient_hvp_hessian_and_jacobian_match_torch(spec, shape, output, rng):
    net = network_from_spec(spec, shape, 3, output=output)
    X = rng.standard_normal((6, net.n_inputs))
    T = make_targets(output, 6, 3, rng)
    w = net.init_weights(rng)
    v = rng.standard_normal(net.n_weights)
    error, predict = torch_conv_network(net)
    Xt, Tt, wt, vt = (torch.from_numpy(a) for a in (X, T, w, v))
    E = lambda w: error(w, Xt, Tt)                                     # noqa: E731
    assert net.error(w, X, T) == pytest.approx(E(wt).item(), rel=1e-13)
    assert relative_error(net.gradient(w, X, T), torch.func.grad(E)(wt).numpy()) < 1e-12
    Hv = torch.func.jvp(torch.func.grad(E), (wt,), (vt,))[1].numpy()
    assert relative_error(hessian.hvp(net, w, X, T, v), Hv) < 1e-10
    H = torch.func.hessian(E)(wt).numpy()
    assert relative_error(hessian.exact(net, w, X, T), H) < 1e-10
    assert relative_error(hessian.exact_diagonal(net, w, X, T), np.diag(H)) < 1e-10
    # the input Jacobian ∂y_k/∂x_i of every pattern (§5.3.4)
    J = torch.func.vmap(torch.func.jacrev(lambda x: predict(wt, x[None])[0]))(Xt).numpy()
    assert relative_error(net.jacobian(w, X), J) < 1e-10


def test_weight_count_matches_torch_modules():
    net = network_from_spec("conv:6x5x5-sub-conv:16x5x5-sub-dense:120-dense:84", (1, 28, 28), 10)
    modules = [torch.nn.Conv2d(1, 6, 5), torch.nn.Conv2d(6, 16, 5), torch.nn.Linear(256, 120),
               torch.nn.Linear(120, 84), torch.nn.Linear(84, 10)]
    torch_count = sum(p.numel() for m in modules for p in m.parameters())
    assert net.n_weights == torch_count + 2 * 6 + 2 * 16                # + the subsamplings
