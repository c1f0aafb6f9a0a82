"""The Laplace posterior, its predictive and the grouped log evidence against PyTorch
autodiff in float64 (torch.func): an independent Hessian, Jacobian and log-determinant."""

import numpy as np
import pytest

import prmlnet
from prmlnet import bayes
from prmlnet.priors import gaussian_prior

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reference


def torch_two_layer(net):
    """The (D, M, K) tanh network with the flat layout of prmlnet (W1, b1, W2, b2)."""
    D, M, K = net.sizes

    def a_out(w, X):
        W1 = w[:M * D].reshape(M, D)
        b1 = w[M * D:M * D + M]
        W2 = w[M * D + M:M * D + M + K * M].reshape(K, M)
        b2 = w[M * D + M + K * M:]
        return torch.tanh(X @ W1.T + b1) @ W2.T + b2
    return a_out


@pytest.mark.parametrize("output", ["linear", "logistic"])
def test_laplace_against_torch_func(output, rng):
    net = prmlnet.Network((2, 3, 2), output=output)
    N = 10
    X = rng.standard_normal((N, 2))
    T = rng.standard_normal((N, 2)) if output == "linear" else (rng.random((N, 2)) < .5) * 1.0
    w = 0.4 * net.init_weights(rng)
    prior = gaussian_prior(net, "layers", dict(zip(["W1", "b1", "W2", "b2"],
                                                   [20.0, 40.0, 30.0, 60.0])))
    avec = prior.alpha_vector
    beta = 3.0 if output == "linear" else 1.0
    if output == "linear":
        T = net.predict(w, X) + 0.3 * T
    post = bayes.laplace(net, w, X, T, prior, beta, negative="keep")

    a_out = torch_two_layer(net)
    tX, tT, tw = (torch.tensor(v, dtype=torch.float64) for v in (X, T, w))
    ta = torch.tensor(avec, dtype=torch.float64)

    def E_D(v):
        a = a_out(v, tX)
        if output == "linear":
            return 0.5 * ((a - tT) ** 2).sum()
        return (torch.nn.functional.softplus(a) - tT * a).sum()

    def E(v):
        return beta * E_D(v) + 0.5 * (ta * v * v).sum()

    A = torch.func.hessian(E)(tw)
    assert np.max(np.abs(post.precision - A.numpy())) < 1e-10 * np.max(np.abs(A.numpy()))
    ev = (-E(tw) - 0.5 * torch.logdet(A) + 0.5 * torch.log(ta).sum()).item()
    if output == "linear":
        ev += 0.5 * N * 2 * (np.log(beta) - np.log(2 * np.pi))
    assert bayes.log_evidence(post, X, T) == pytest.approx(ev, rel=1e-10)
    Xs = rng.standard_normal((4, 2)) * 2
    tXs = torch.tensor(Xs, dtype=torch.float64)
    B = torch.func.jacrev(lambda v: a_out(v, tXs))(tw)                       # (4, K, W)
    s2 = torch.einsum("nkw,nkw->nk", B, torch.linalg.solve(A, B.reshape(-1, w.size).T)
                      .T.reshape(B.shape)).numpy()
    a_map, s2_ours = post.activation_variance(Xs)
    assert np.allclose(s2_ours, s2, rtol=1e-10, atol=0)
    if output == "linear":
        _, std = post.predict(Xs, return_std=True)
        assert np.allclose(std ** 2, 1 / beta + s2, rtol=1e-10, atol=0)
