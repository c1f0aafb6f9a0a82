"""Bayesian networks (PRML §5.7): how good are the Laplace error bars, and what does
the evidence loop cost?

1. Calibration. A 1-8-1 tanh network on the sine t = sin(2πx) + N(0, 0.1²) with
   training inputs in [0, 0.7]; held-out targets (a) from the same inputs and
   (b) from [0, 1] (the last 30 % is extrapolation). Peers, on the same w_MAP:
     laplace  — the Laplace predictive N(y, 1/β + gᵀA⁻¹g) (5.172, 5.173)
     constant — the MAP network with a constant noise level 1/β
   Reported: mean predictive log-likelihood per held-out point and the fraction
   of held-out targets inside the ±1σ and ±2σ bands (Gaussian: 0.683, 0.954).
   Mean over seeds.
2. Cost. The full evidence loop for a network with W ≈ 1,000 weights
   (8-100-1, W = 1,001) on N = 500 patterns, 1 thread, and the cost of its
   parts: one MAP training, one exact Hessian, one Laplace build (Cholesky),
   γ by the trace formula (L⁻¹) and by the eigenvalues (5.179), the count of
   negative eigenvalues (LDLᵀ); the builds are included in the last three.

Run:  python benchmarks/bench_bayes.py [--quick]
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from prmlnet import Network, bayes, hessian  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402
from prmlnet.optim import minimize  # noqa: E402
from prmlnet.priors import gaussian_prior  # noqa: E402

QUICK = "--quick" in sys.argv


def gauss_scores(t, mean, sd):
    z = (t - mean) / sd
    loglik = float(np.mean(-0.5 * z ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)))
    return loglik, float(np.mean(np.abs(z) <= 1)), float(np.mean(np.abs(z) <= 2))


def calibration(seeds):
    rows = {k: [] for k in ("in/laplace", "in/constant", "wide/laplace", "wide/constant",
                            "far/laplace", "far/constant")}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 0.7, 60)
        X, T = x[:, None], (np.sin(2 * np.pi * x) + 0.1 * rng.standard_normal(60))[:, None]
        net = Network((1, 8, 1))
        res = bayes.evidence_loop(net, X, T, alpha=0.01, n_outer=30, max_iter=2000, rng=rng)
        tests = {"in": rng.uniform(0, 0.7, 2000), "wide": rng.uniform(0, 1.0, 2000),
                 "far": rng.uniform(0.7, 1.0, 2000)}
        for name, xt in tests.items():
            tt = np.sin(2 * np.pi * xt) + 0.1 * rng.standard_normal(xt.size)
            mean, sd = res.predict(xt[:, None], return_std=True)
            rows[f"{name}/laplace"].append(gauss_scores(tt, mean[:, 0], sd[:, 0]))
            rows[f"{name}/constant"].append(gauss_scores(tt, mean[:, 0], res.beta ** -0.5))
    print(f"\n1. Calibration, 1-8-1 tanh, 60 training points in [0, 0.7], noise sd 0.1, "
          f"{len(seeds)} seeds (mean)")
    print(f"{'test inputs / predictive':28s} {'mean log-lik':>12s} {'in ±1σ':>8s} {'in ±2σ':>8s}")
    for k, v in rows.items():
        ll, c1, c2 = np.mean(v, axis=0)
        print(f"{k:28s} {ll:12.3f} {c1:8.3f} {c2:8.3f}")
    print("(a Gaussian predictive that is right puts 0.683 inside ±1σ and 0.954 inside ±2σ; "
          "'in' = [0, 0.7] like the training inputs, 'wide' = [0, 1], 'far' = [0.7, 1])")


def timing(n_outer, repeats):
    rng = np.random.default_rng(0)
    N, D, M = 500, 8, 100
    X = rng.standard_normal((N, D))
    T = np.tanh(X @ rng.standard_normal((D, 1)) / 3) + 0.1 * rng.standard_normal((N, 1))
    net = Network((D, M, 1))
    print(f"\n2. Cost, network {net.sizes}, W = {net.n_weights}, N = {N}, 1 thread "
          f"(parts: best of {repeats})")
    t0 = time.perf_counter()
    res = bayes.evidence_loop(net, X, T, alpha=0.1, n_outer=n_outer, tol=1e-3,
                              max_iter=300, rng=1)
    seconds = time.perf_counter() - t0
    h = res.history
    print(f"full evidence loop: {seconds:.2f} s for {len(h['beta'])} outer iterations "
          f"({int(h['nit'].sum())} L-BFGS iterations in all; {res.status.name}), "
          f"gamma = {res.gamma_total:.1f}, alpha = {res.alpha['w']:.3g}, beta = {res.beta:.3g}, "
          f"negative eigenvalues of H: {h['n_negative'].astype(int).tolist()}, "
          f"clipped in {int(h['clipped'].sum())} of the posteriors")
    w, prior = res.w, res.prior
    parts = {}

    def clock(name, fn):
        t = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            t = min(t, time.perf_counter() - t0)
        parts[name] = t
        return out

    w_cold = net.init_weights(2)
    clock("MAP training from scratch, 300 L-BFGS iterations",
          lambda: minimize(Objective(net, X, T, prior=prior, beta=res.beta), w_cold, "lbfgs",
                           max_iter=300, gtol=0.0))
    H = clock("exact Hessian H (W x W)", lambda: hessian.exact(net, w, X, T))
    post = clock("Laplace build: Cholesky",
                 lambda: bayes.laplace(net, w, X, T, prior, res.beta, H=H))
    clock("gamma, one alpha: trace formula (L^-1)",
          lambda: bayes.effective_parameters(bayes.laplace(net, w, X, T, prior, res.beta, H=H)))
    clock("gamma, one alpha: eigenvalues (5.179)",
          lambda: bayes.gamma_from_eigenvalues(
              res.beta * bayes.laplace(net, w, X, T, prior, res.beta, H=H).eigenvalues,
              prior.alpha["w"]))
    clock("count of negative eigenvalues of H (LDL^T)",
          lambda: bayes.laplace(net, w, X, T, prior, res.beta, H=H).n_negative)
    layers = gaussian_prior(net, "layers", res.alpha["w"])
    clock("gamma per layer group: trace formula (L^-1)",
          lambda: bayes.effective_parameters(
              bayes.laplace(net, w, X, T, layers, res.beta, H=H)))
    clock("predictive sd at 1,000 inputs",
          lambda: post.predict(rng.standard_normal((1000, D)), return_std=True))
    for k, v in parts.items():
        print(f"  {k:45s} {v * 1e3:9.1f} ms")


if __name__ == "__main__":
    calibration(range(2) if QUICK else range(5))
    timing(n_outer=3 if QUICK else 10, repeats=1 if QUICK else 3)
