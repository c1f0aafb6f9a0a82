"""PyTorch autodiff in float64 (torch.func) as an independent oracle."""

import numpy as np
import pytest

from prmlnet import Network
from prmlnet.testing import relative_error

from conftest import tiny_problem

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reference

from torch_oracle import ACT, torch_network  # noqa: E402  (needs torch)

@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
@pytest.mark.parametrize("hidden", list(ACT))
def test_error_gradient_and_jacobian_match_torch_func(hidden, output, rng):
    net, X, T = tiny_problem(output, rng, sizes=(4, 6, 5, 3), hidden=hidden, N=9)
    w = net.init_weights(rng)
    error, predict = torch_network(net, hidden)
    tw, tX, tT = (torch.tensor(v, dtype=torch.float64) for v in (w, X, T))

    E, g = net.error_and_gradient(w, X, T)
    assert E == pytest.approx(error(tw, tX, tT).item(), rel=1e-12)
    tg = torch.func.grad(error)(tw, tX, tT).numpy()
    assert relative_error(g, tg) < 1e-10

    # input Jacobian dy/dx per pattern: (N, K, D)
    tJ = torch.func.vmap(torch.func.jacrev(lambda x: predict(tw, x[None])[0]))(tX).numpy()
    assert relative_error(net.jacobian(w, X), tJ) < 1e-10

    # per-pattern output gradients dy/dw: (N, K, W)
    tB = torch.func.jacrev(lambda v: predict(v, tX))(tw).numpy()
    assert relative_error(net.output_gradients(w, X), tB) < 1e-10


def test_weight_layout_equals_torch_linear(rng):
    net = Network((3, 4, 2))
    w = net.init_weights(rng)
    lin1, lin2 = torch.nn.Linear(3, 4).double(), torch.nn.Linear(4, 2).double()
    (W1, b1), (W2, b2) = net.unpack(w)
    with torch.no_grad():
        for lin, W, b in [(lin1, W1, b1), (lin2, W2, b2)]:
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
    X = rng.standard_normal((6, 3))
    y = lin2(torch.tanh(lin1(torch.from_numpy(X)))).detach().numpy()
    np.testing.assert_allclose(net.predict(w, X), y, rtol=1e-13)
