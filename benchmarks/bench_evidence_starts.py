"""Where the evidence loop ends on standardised diabetes data, by starting α (PRML §5.7.2).

The re-estimation of α and β is a fixed-point iteration on a non-convex problem. This
script runs ``BayesianMLPRegressor`` on scikit-learn's diabetes data (inputs and target
standardised, 300 rows to train, 142 held out) from each single start and with the
default (``alpha=None``: the three starts of ``prmlnet.bayes.DEFAULT_STARTS``, the largest
evidence kept), and prints the final log evidence, γ, α, β and the held-out R².

    OMP_NUM_THREADS=1 python benchmarks/bench_evidence_starts.py [--hidden 10] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes

from prmlnet import BayesianMLPRegressor


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    print(f"10-{args.hidden}-1 tanh network, 300 training rows, 142 held out")
    print(f"{'seed':>4} {'start':>8} {'ln evidence':>12} {'gamma':>7} {'alpha':>8} "
          f"{'beta':>6} {'R2 held out':>11} {'seconds':>8}")
    for seed in range(args.seeds):
        idx = np.random.default_rng(seed).permutation(len(y))
        tr, te = idx[:300], idx[300:]
        for alpha in (0.01, 1.0, 100.0, None):
            t0 = time.perf_counter()
            reg = BayesianMLPRegressor(hidden_layer_sizes=(args.hidden,), alpha=alpha,
                                       random_state=seed).fit(X[tr], y[tr])
            r2 = reg.score(X[te], y[te])
            print(f"{seed:>4} {'default' if alpha is None else alpha:>8} "
                  f"{reg.log_evidence_:>12.2f} {reg.gamma_:>7.1f} {reg.alpha_:>8.3g} "
                  f"{reg.beta_:>6.3g} {r2:>11.3f} {time.perf_counter() - t0:>8.1f}")


if __name__ == "__main__":
    main()
