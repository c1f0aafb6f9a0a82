"""Tangent propagation against PyTorch autodiff in float64: a jvp in x inside a grad in w,
on dense networks and on convolutional ones (conv2d, subsampling, max_pool2d)."""

import numpy as np
import pytest

from prmlnet.convolution import network_from_spec
from prmlnet.invariance import tangent_outputs, tangent_penalty, tikhonov_penalty
from prmlnet.testing import relative_error

from conftest import tiny_problem

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reference

from torch_oracle import ACT, torch_conv_network, torch_network  # noqa: E402  (needs torch)


def torch_omega(predict, X, tau):
    """Ω(w) = ½ Σ_n Σ_s ‖J_n τ_ns‖², each J_n τ_ns a forward-mode jvp with respect to X
    (vmapped over the S tangents)."""
    def omega(w):
        jvp = lambda t: torch.func.jvp(lambda x: predict(w, x), (X,), (t,))[1]  # noqa: E731
        ty = torch.func.vmap(jvp)(tau.transpose(0, 1))                         # (S, N, K)
        return 0.5 * (ty ** 2).sum()
    return omega


CASES = ([("tanh", sizes, output) for output in ("linear", "logistic", "softmax")
          for sizes in [(4, 3), (4, 6, 3), (4, 6, 5, 3)]]
         + [(hidden, (4, 6, 5, 3), "softmax") for hidden in ACT if hidden != "tanh"])


@pytest.mark.parametrize("hidden, sizes, output", CASES)
def test_omega_and_its_gradient_match_torch_func(hidden, sizes, output, rng):
    net, X, _ = tiny_problem(output, rng, sizes=sizes, hidden=hidden, N=8)
    w = 1.5 * net.init_weights(rng)
    tau = rng.standard_normal((8, 3, sizes[0]))
    _, predict = torch_network(net, hidden)
    tw, tX, ttau = (torch.tensor(v, dtype=torch.float64) for v in (w, X, tau))
    omega = torch_omega(predict, tX, ttau)

    Omega, g = tangent_penalty(net, w, X, tau)
    assert Omega == pytest.approx(omega(tw).item(), rel=1e-12)
    assert relative_error(g, torch.func.grad(omega)(tw).numpy()) < 1e-10
    _, ty = torch.func.jvp(lambda x: predict(tw, x), (tX,), (ttau[:, 1],))
    assert relative_error(tangent_outputs(net, w, X, tau)[:, 1], ty.numpy()) < 1e-12

    unit = torch.eye(sizes[0], dtype=torch.float64).expand(8, sizes[0], sizes[0])
    tik = torch_omega(predict, tX, unit)
    tik_g = torch.func.grad(tik)(tw).numpy()
    for mode in ("forward", "reverse"):
        Omega, g = tikhonov_penalty(net, w, X, mode)
        assert Omega == pytest.approx(tik(tw).item(), rel=1e-12)
        assert relative_error(g, tik_g) < 1e-10


# every layer type, and max pooling both between layers and on the input itself
CONV_SPECS = [("conv:2x3x3-sub-dense:4", (1, 6, 6)),
              ("conv:2x2x2:pad=1:logistic-max-dense:3", (1, 5, 5)),
              ("max-conv:2x2x2:softplus-sub", (2, 6, 6))]


@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
@pytest.mark.parametrize("spec, shape", CONV_SPECS)
def test_omega_on_convolutional_networks_matches_torch_func(spec, shape, output, rng):
    net = network_from_spec(spec, shape, 3, output=output)
    w = 1.5 * net.init_weights(rng)
    X = rng.standard_normal((4, net.n_inputs))
    tau = rng.standard_normal((4, 2, net.n_inputs))
    _, predict = torch_conv_network(net)
    tw, tX, ttau = (torch.from_numpy(v) for v in (w, X, tau))
    omega = torch_omega(predict, tX, ttau)

    Omega, g = tangent_penalty(net, w, X, tau)
    assert Omega == pytest.approx(omega(tw).item(), rel=1e-12)
    assert relative_error(g, torch.func.grad(omega)(tw).numpy()) < 1e-10
    _, ty = torch.func.jvp(lambda x: predict(tw, x), (tX,), (ttau[:, 0],))
    assert relative_error(tangent_outputs(net, w, X, tau)[:, 0], ty.numpy()) < 1e-12

    D = net.n_inputs
    unit = torch.from_numpy(np.broadcast_to(np.eye(D), (4, D, D)).copy())
    tik = torch_omega(predict, tX, unit)
    tik_g = torch.func.grad(tik)(tw).numpy()
    for mode in ("forward", "reverse"):
        Omega, g = tikhonov_penalty(net, w, X, mode)
        assert Omega == pytest.approx(tik(tw).item(), rel=1e-12)
        assert relative_error(g, tik_g) < 1e-10
