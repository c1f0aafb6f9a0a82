"""Time to reach a given training error: prmlnet's batch methods vs scikit-learn and scipy.

Problems: 1-3-1 and 1-10-1 tanh networks on 50 points of the sinusoidal data
(t = sin 2πx + noise), weight decay α = 1e-3 on the weights (not the biases) —
exactly scikit-learn's ``MLPRegressor(alpha=1e-3)`` loss times N, so every
contender minimises the same function from the same starting weights.

Contenders (interleaved per starting point, best of ``--repeat`` timings each):

- prmlnet ``minimize`` with cg, scg, bfgs, lbfgs (and gd + momentum, at most 3000
  iterations), stopped by a callback as soon as E <= target (or at ‖∇E‖∞ <= 1e-7);
- ``scipy.optimize.minimize(method="L-BFGS-B")`` fed prmlnet's Objective (E and
  gradient from one pass), stopped the same way;
- ``sklearn.neural_network.MLPRegressor(solver="lbfgs", tol=1e-10)`` warm-started
  from the same weights; its run defines the target: target = its final error
  × (1 + 1e-5). Its time is the whole ``fit`` (what a user waits for).

Every timing covers building the objective and the run. Runs that end in
another local minimum and never reach the target are counted as "missed".

Usage (1 thread, one core; ~35 s)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_training.py

Measured 2026-11-28 on the shared 2-core development machine (noisy; paired ratios
are the figures to trust), 12 starting points, best of 3:

========== =================== =================== =================
problem    prmlnet bfgs         prmlnet lbfgs       scipy L-BFGS-B
========== =================== =================== =================
1-3-1      2.57× (4 missed)     1.73× (1 missed)    1.75×
1-10-1     2.29× (1 missed)     1.72× (1 missed)    1.71×
========== =================== =================== =================

(median speed-up over sklearn, paired per starting point; "missed": runs that
converged to another local minimum.)
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402

import prmlnet  # noqa: E402
from prmlnet.datasets import sinusoidal  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402
from prmlnet.optim import minimize  # noqa: E402

ALPHA = 1e-3
OURS = [("cg", {}), ("scg", {}), ("bfgs", {}), ("lbfgs", {}),
        ("gd", {"learning_rate": 0.003, "momentum": 0.9})]
GD_MAX_ITER = 3000          # gradient descent rarely gets there; do not wait for it
GTOL = 1e-7                 # a run that converges elsewhere (another local minimum) ends


def sklearn_model(net, w0, X, T):
    """An MLPRegressor whose next fit starts from w0 (warm start)."""
    M = net.sizes[1]
    m = MLPRegressor(hidden_layer_sizes=(M,), activation="tanh", solver="lbfgs", alpha=ALPHA,
                     tol=1e-10, max_iter=15000, max_fun=30000, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.set_params(max_iter=1)
        m.fit(X, T[:, 0])
        m.set_params(max_iter=15000)
    set_weights(m, net, w0)
    return m


def set_weights(m, net, w):
    (W1, b1), (W2, b2) = net.unpack(w)
    m.coefs_ = [W1.T.copy(), W2.T.copy()]
    m.intercepts_ = [b1.copy(), b2.copy()]


def sklearn_weights(m):
    return np.concatenate([m.coefs_[0].T.ravel(), m.intercepts_[0],
                           m.coefs_[1].T.ravel(), m.intercepts_[1]])


def time_ours(net, X, T, w0, method, opts, target, max_iter):
    t0 = time.perf_counter()
    obj = Objective(net, X, T, alpha={"W1": ALPHA, "W2": ALPHA})
    res = minimize(obj, w0, method, max_iter=GD_MAX_ITER if method == "gd" else max_iter,
                   gtol=GTOL, ftol=0.0,
                   callback=lambda info: info.fun <= target, **opts)
    return time.perf_counter() - t0, res.fun, res.nfev


def time_scipy(net, X, T, w0, target, max_iter):
    t0 = time.perf_counter()
    obj = Objective(net, X, T, alpha={"W1": ALPHA, "W2": ALPHA})

    def stop(intermediate_result):
        if intermediate_result.fun <= target:
            raise StopIteration

    res = scipy.optimize.minimize(obj, w0, jac=True, method="L-BFGS-B", callback=stop,
                                  options={"maxiter": max_iter, "maxfun": 4 * max_iter,
                                           "gtol": GTOL, "ftol": 0.0})
    return time.perf_counter() - t0, float(res.fun), res.nfev


def time_sklearn(net, X, T, w0):
    m = sklearn_model(net, w0, X, T)
    t0 = time.perf_counter()
    m.fit(X, T[:, 0])
    seconds = time.perf_counter() - t0
    return seconds, m


def bench(M, seeds, repeat, max_iter):
    X, T = sinusoidal(50, rng=2006)
    net = prmlnet.Network((1, M, 1))
    names = ["sklearn lbfgs", "scipy L-BFGS-B"] + [f"prmlnet {n}" for n, _ in OURS]
    times = {n: [] for n in names}
    evals = {n: [] for n in names}
    missed = {n: 0 for n in names}
    ratios = {n: [] for n in names}
    for seed in range(seeds):
        w0 = net.init_weights(seed)
        best = {n: np.inf for n in names}
        fun = {}
        nfev = {}
        target = None
        for _ in range(repeat):                      # interleaved: one of each per round
            s, m = time_sklearn(net, X, T, w0)
            w_sk = sklearn_weights(m)
            E_sk = float(Objective(net, X, T, alpha={"W1": ALPHA, "W2": ALPHA})(w_sk)[0])
            assert abs(E_sk - len(X) * m.loss_) <= 1e-6 * E_sk, "loss scales differ"
            target = E_sk * (1 + 1e-5)
            best["sklearn lbfgs"] = min(best["sklearn lbfgs"], s)
            fun["sklearn lbfgs"], nfev["sklearn lbfgs"] = E_sk, m.n_iter_
            s, f, n = time_scipy(net, X, T, w0, target, max_iter)
            best["scipy L-BFGS-B"] = min(best["scipy L-BFGS-B"], s)
            fun["scipy L-BFGS-B"], nfev["scipy L-BFGS-B"] = f, n
            for method, opts in OURS:
                key = f"prmlnet {method}"
                s, f, n = time_ours(net, X, T, w0, method, opts, target, max_iter)
                best[key] = min(best[key], s)
                fun[key], nfev[key] = f, n
        for n in names:
            if fun[n] <= target * (1 + 1e-12):
                times[n].append(best[n])
                evals[n].append(nfev[n])
                ratios[n].append(best["sklearn lbfgs"] / best[n])
            else:
                missed[n] += 1
    return names, times, evals, missed, ratios


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=12, help="starting points per problem")
    p.add_argument("--repeat", type=int, default=3, help="timings per contender, best kept")
    p.add_argument("--max-iter", type=int, default=20000)
    args = p.parse_args()
    print(f"threads: OMP={os.environ['OMP_NUM_THREADS']} OPENBLAS={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"numpy {np.__version__}, scipy {scipy.__version__}")
    for M in (3, 10):
        names, times, evals, missed, ratios = bench(M, args.seeds, args.repeat, args.max_iter)
        print(f"\n1-{M}-1 network, N = 50, {args.seeds} starting points; target = sklearn's "
              f"final error × (1 + 1e-5)")
        print(f"{'contender':<18} {'median ms':>10} {'median evals':>13} "
              f"{'speed-up vs sklearn (median, paired)':>38} {'missed':>7}")
        for n in names:
            t = np.median(times[n]) * 1e3 if times[n] else float("nan")
            e = np.median(evals[n]) if evals[n] else float("nan")
            r = np.median(ratios[n]) if ratios[n] else float("nan")
            print(f"{n:<18} {t:>10.2f} {e:>13.0f} {r:>38.2f} {missed[n]:>7}")
    print("\n(sklearn 'evals' column: its L-BFGS iterations n_iter_)")


if __name__ == "__main__":
    main()
