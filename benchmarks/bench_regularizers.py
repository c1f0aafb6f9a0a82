"""Held-out error of four ways to regularise the same network (PRML §5.5, §5.7).

On three small regression problems, each over 5 seeds (data split and initial weights):

* soft weight sharing (§5.5.7): ``MLPRegressor(weight_prior="mixture")``, 4 components,
  λ chosen by 5-fold cross-validation on the training set;
* weight decay, α by the evidence: ``BayesianMLPRegressor`` (default: the evidence loop
  from three starting α, the largest evidence kept), predictions from w_MAP;
* weight decay, α by 5-fold cross-validation over the same grid as λ;
* early stopping (§5.5.2): 20 % of the training set held out, the weights at the
  validation minimum kept (``early_stopping=True``).

Printed: the test mean squared error, mean ± standard deviation over the seeds, and the
seconds per fit. Every method gets the same training set; the test set is never seen.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_regularizers.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, KFold

from prmlnet import BayesianMLPRegressor, MLPRegressor, Network
from prmlnet.datasets import sinusoidal

GRID = [1e-3, 1e-2, 1e-1, 1.0, 10.0]


def sine(seed):
    X, t = sinusoidal(25, seed, noise=0.2)
    Xt, tt = sinusoidal(2000, seed + 1000, noise=0.2)
    return X, t.ravel(), Xt, tt.ravel(), (8,)


def diabetes(seed):
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    idx = np.random.default_rng(seed).permutation(len(y))
    tr, te = idx[:200], idx[200:]
    return X[tr], y[tr], X[te], y[te], (5,)


def teacher(seed):
    """A 6-4-1 tanh teacher whose weights take the values -1.5, 0 and 1.5: the case soft
    weight sharing is made for (§5.5.7); 60 noisy training targets."""
    rng = np.random.default_rng(seed)
    net = Network((6, 4, 1))
    w = rng.choice([-1.5, 0.0, 0.0, 1.5], net.n_weights)
    X, Xt = rng.uniform(-1, 1, (60, 6)), rng.uniform(-1, 1, (2000, 6))
    y = net.predict(w, X)[:, 0] + 0.1 * rng.standard_normal(60)
    return X, y, Xt, net.predict(w, Xt)[:, 0] + 0.1 * rng.standard_normal(2000), (4,)


PROBLEMS = {"sinusoid N=25, 1-8-1": sine, "diabetes N=200, 10-5-1": diabetes,
            "clustered teacher N=60, 6-4-1": teacher}


def methods(hidden, seed, quick):
    common = dict(hidden_layer_sizes=hidden, method="bfgs", max_iter=300 if quick else 2000,
                  tol=1e-6, random_state=seed)
    cv = KFold(5, shuffle=True, random_state=seed)
    grid = GRID[1:4] if quick else GRID
    return {
        "soft weight sharing (λ by CV)": GridSearchCV(
            MLPRegressor(weight_prior="mixture", n_prior_components=4, **common),
            {"alpha": grid}, cv=cv, scoring="neg_mean_squared_error"),
        "weight decay, α by evidence": BayesianMLPRegressor(
            hidden_layer_sizes=hidden, n_outer=8 if quick else 20, random_state=seed),
        "weight decay, α by CV": GridSearchCV(
            MLPRegressor(**common), {"alpha": grid}, cv=cv, scoring="neg_mean_squared_error"),
        "early stopping": MLPRegressor(
            hidden_layer_sizes=hidden, alpha=0.0, method="scg", max_iter=500 if quick else 3000,
            tol=1e-8, early_stopping=True, validation_fraction=0.2, n_iter_no_change=100,
            random_state=seed),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, fewer iterations")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    seeds = range(2 if args.quick else args.seeds)
    warnings.simplefilter("ignore")
    print(f"test mean squared error, mean ± sd over {len(seeds)} seeds (seconds per fit)")
    for name, make in PROBLEMS.items():
        errors, seconds, chosen = {}, {}, {}
        for seed in seeds:
            X, y, Xt, yt, hidden = make(seed)
            for label, est in methods(hidden, seed, args.quick).items():
                t0 = time.perf_counter()
                est.fit(X, y)
                seconds.setdefault(label, []).append(time.perf_counter() - t0)
                errors.setdefault(label, []).append(float(np.mean((est.predict(Xt) - yt) ** 2)))
                if isinstance(est, GridSearchCV):
                    chosen.setdefault(label, []).append(est.best_params_["alpha"])
                elif isinstance(est, BayesianMLPRegressor):
                    chosen.setdefault(label, []).append(round(est.alpha_, 3))
                else:
                    chosen.setdefault(label, []).append(int(est.result_.get("best_iter", -1)))
        print(f"\n{name}")
        for label in errors:
            e = np.array(errors[label])
            print(f"  {label:32s} {e.mean():.4f} ± {e.std(ddof=1) if e.size > 1 else 0:.4f}"
                  f"   ({np.mean(seconds[label]):.2f} s)   chosen: {chosen[label]}")


if __name__ == "__main__":
    main()
