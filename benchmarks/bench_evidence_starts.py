"""Where the evidence loop ends, by starting α, and what each choice of default costs
(PRML §5.7.2).

The re-estimation of α (and β) is a fixed-point iteration on a non-convex problem, so
where it ends depends on the start. For each data set (inputs standardised, regression
targets too; a 75/25 split, stratified for classes) and seed, the Bayesian estimator
is fitted from each single start of ``prmlnet.bayes.DEFAULT_STARTS`` (0.01, 1, 100);
a set of starts keeps the run with the largest log evidence, so its result is read off
the single runs. Printed per data set and set of starts: the fit time, the evidence
regret (how far below the best of the three the kept run ends, in nats; mean and
worst), how often it is within 0.5 nats of the best, and the held-out scores of the
kept run (accuracy and the log-loss of the moderated and the MAP probabilities; R²
and the mean predictive log-likelihood for regression).

    python benchmarks/bench_evidence_starts.py [--seeds 6] [--data iris,wine,bc,digits,diabetes,friedman]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits,  # noqa: E402
                              load_iris, load_wine, make_friedman1)
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from prmlnet import BayesianMLPClassifier, BayesianMLPRegressor, bayes  # noqa: E402

DATA = {"iris": (load_iris, 10), "wine": (load_wine, 10), "bc": (load_breast_cancer, 10),
        "digits": (load_digits, 20), "diabetes": (load_diabetes, 10),
        "friedman": (lambda return_X_y: make_friedman1(400, noise=1.0, random_state=0), 10)}
REGRESSION = ("diabetes", "friedman")
SETS = {"0.01": (0.01,), "1": (1.0,), "100": (100.0,), "all three": bayes.DEFAULT_STARTS,
        "1 and 100": (1.0, 100.0)}


def runs(name, seed):
    """{start: (seconds, compared log evidence, held-out scores)} of one split."""
    load, M = DATA[name]
    X, y = load(return_X_y=True)
    reg = name in REGRESSION
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=seed, stratify=None if reg else y)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    if reg:
        m, s = ytr.mean(), ytr.std()
        ytr, yte = (ytr - m) / s, (yte - m) / s
    out = {}
    for a0 in bayes.DEFAULT_STARTS:
        make = BayesianMLPRegressor if reg else BayesianMLPClassifier
        t0 = time.perf_counter()
        est = make(hidden_layer_sizes=(M,), alpha=a0, random_state=seed).fit(Xtr, ytr)
        seconds = time.perf_counter() - t0
        if reg:
            mu, sd = est.predict(Xte, return_std=True)
            z = (yte - mu) / sd
            scores = {"R2": est.score(Xte, yte),
                      "loglik": float(np.mean(-0.5 * z ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)))}
        else:
            scores = {"accuracy": est.score(Xte, yte),
                      "logloss": log_loss(yte, est.predict_proba(Xte), labels=est.classes_),
                      "logloss MAP": log_loss(yte, est.predict_proba(Xte, moderated=False),
                                              labels=est.classes_)}
        compared = float(est.history_["log_evidence_compared"].max())
        out[a0] = (seconds, compared, scores)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--data", default="iris,wine,bc,digits,diabetes,friedman")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("1 thread; the machine may be shared (times are indicative)")
    for name in args.data.split(","):
        results = [runs(name, seed) for seed in range(args.seeds)]
        print(f"\n{name} ({args.seeds} seeds)")
        for label, starts in SETS.items():
            seconds, regret, scores = [], [], {}
            for r in results:
                kept = max(starts, key=lambda a: r[a][1])
                seconds.append(sum(r[a][0] for a in starts))
                regret.append(max(v[1] for v in r.values()) - r[kept][1])
                for k, v in r[kept][2].items():
                    scores.setdefault(k, []).append(v)
            regret = np.array(regret)
            print(f"  {label:10s} {np.mean(seconds):6.2f} s  regret {regret.mean():6.2f} "
                  f"(worst {regret.max():6.2f})  within 0.5: {int(np.sum(regret < 0.5))}/"
                  f"{regret.size}  " + "  ".join(f"{k} {np.mean(v):.4f}" for k, v in scores.items()))


if __name__ == "__main__":
    main()
