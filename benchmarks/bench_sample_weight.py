"""What weighted patterns cost: an Objective with ``sample_weight`` against one without.

The weights ride as one more target column through the same passes (the output
model scales each pattern's deltas and curvatures), so the extra work is one
multiplication per output delta plus the per-pattern errors. Peers interleaved,
median of repeats, one thread::

    python benchmarks/bench_sample_weight.py
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

import prmlnet  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402


def median_time(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main():
    rng = np.random.default_rng(0)
    cases = [("10-50-3 softmax, N=5000", (10, 50, 3), "softmax", 5000),
             ("1-10-1 linear, N=200", (1, 10, 1), "linear", 200)]
    print(f"{'problem':<26} {'what':<22} {'plain ms':>9} {'weighted ms':>12} {'ratio':>6}")
    for title, sizes, output, N in cases:
        net = prmlnet.Network(sizes, output=output)
        X = rng.standard_normal((N, sizes[0]))
        K = sizes[-1]
        T = (np.eye(K)[rng.integers(0, K, N)] if output == "softmax"
             else rng.standard_normal((N, K)))
        s = rng.integers(1, 4, N).astype(float)
        plain, weighted = Objective(net, X, T, alpha=0.1), Objective(net, X, T, alpha=0.1,
                                                                     sample_weight=s)
        w = net.init_weights(0)
        v = rng.standard_normal(net.n_weights)
        rows = np.arange(32)
        jobs = [("error and gradient", lambda o: o(w), 30),
                ("H·v", lambda o: o.hvp(w, v), 30),
                ("mini-batch of 32", lambda o: o.minibatch(w, X[rows], T[rows], rows=rows), 300)]
        if net.n_weights < 400:
            jobs.append(("exact Hessian", lambda o: o.hessian(w), 5))
        for what, job, n in jobs:
            a = b = 0.0
            for _ in range(3):                          # interleaved
                a += median_time(lambda: job(plain), n)
                b += median_time(lambda: job(weighted), n)
            print(f"{title:<26} {what:<22} {1e3 * a / 3:9.3f} {1e3 * b / 3:12.3f} "
                  f"{b / a:6.2f}")


if __name__ == "__main__":
    main()
