"""What a Bayesian classifier's fit costs, where the time goes, and how it compares with
scikit-learn's lbfgs MLP (PRML §5.7.3).

For each data set (inputs standardised, a stratified 75/25 split): the fit of
``BayesianMLPClassifier`` with its default settings (the evidence loop from one
start, α = 0.01, for a classifier) and with the three starts of
``prmlnet.bayes.DEFAULT_STARTS`` (``--starts``, what the default was before), beside
``sklearn.neural_network.MLPClassifier(solver="lbfgs")`` with the same hidden layer,
interleaved, median of ``--repeats`` fits each, one thread. Printed: seconds, the ratio
to scikit-learn, the evidence loop's answer (α, γ, ln evidence, held-out accuracy) and
the profile split of one default fit — MAP trainings, data Hessians, Cholesky factors
of A, their inverses (γ), the LDLᵀ factorizations that count H's negative
eigenvalues, and the rest.

    python benchmarks/bench_bayes_speed.py [--repeats 3] [--starts] [--data digits,iris,bc]
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402
from scipy import linalg  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from prmlnet import BayesianMLPClassifier, bayes  # noqa: E402

_laplace = importlib.import_module("prmlnet.bayes.laplace")   # the module (bayes.laplace is
_loop = importlib.import_module("prmlnet.bayes.loop")         # also the function's name)

DATA = {"digits": (load_digits, 20), "iris": (load_iris, 10), "bc": (load_breast_cancer, 10),
        "wine": (load_wine, 10)}


def split(name):
    load, hidden = DATA[name]
    X, y = load(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xte), ytr, yte, hidden


class Profile:
    """Seconds spent in the evidence loop's parts, by wrapping the functions it calls
    (parts a version of prmlnet does not have are left out)."""

    PARTS = {"MAP trainings": [(_loop, "minimize")],
             "data Hessians": [(_loop, "_hessian_of"), (_loop, "data_hessian")],
             "eigendecompositions of H": [(linalg, "eigvalsh"), (linalg, "eigh")],
             "Cholesky of A": [(_laplace, "_cholesky")],
             "L^-1 for gamma": [(_laplace.LaplacePosterior, "_inv_chol")],
             "LDL^T: negative eigenvalues of H": [(_laplace, "_count_negative")]}

    def __init__(self):
        self.seconds = defaultdict(float)
        self.saved = []

    def __enter__(self):
        for name, places in self.PARTS.items():
            for owner, attr in places:
                fn = getattr(owner, attr, None)
                if fn is not None:
                    self.saved.append((owner, attr, fn))
                    setattr(owner, attr, self._timed(name, fn))
        return self

    def _timed(self, name, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
        return timed

    def __exit__(self, *exc):
        for owner, attr, fn in self.saved:
            setattr(owner, attr, fn)


def fit_seconds(make, Xtr, ytr):
    t0 = time.perf_counter()
    est = make().fit(Xtr, ytr)
    return time.perf_counter() - t0, est


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--starts", action="store_true",
                        help="also time the three starts of DEFAULT_STARTS (the old default)")
    parser.add_argument("--data", default="digits,iris,bc")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"1 thread; median of {args.repeats} fits, interleaved; the machine may be shared")
    for name in args.data.split(","):
        Xtr, Xte, ytr, yte, M = split(name)
        peers = {"bayes default": lambda: BayesianMLPClassifier(hidden_layer_sizes=(M,),
                                                                random_state=0),
                 "sklearn lbfgs": lambda: MLPClassifier(hidden_layer_sizes=(M,), solver="lbfgs",
                                                        max_iter=500, random_state=0)}
        if args.starts:
            peers["bayes 3 starts"] = lambda: BayesianMLPClassifier(
                hidden_layer_sizes=(M,), alpha=list(bayes.DEFAULT_STARTS), random_state=0)
        times, fitted = defaultdict(list), {}
        for _ in range(args.repeats):
            for peer, make in peers.items():
                t, fitted[peer] = fit_seconds(make, Xtr, ytr)
                times[peer].append(t)
        est = fitted["bayes default"]
        print(f"\n{name}: {'-'.join(map(str, est.net_.sizes))}, W = {est.net_.n_weights:,}, "
              f"N = {Xtr.shape[0]:,} training images/rows")
        sk = float(np.median(times["sklearn lbfgs"]))
        for peer, ts in times.items():
            med = float(np.median(ts))
            e = fitted[peer]
            answer = (f"  accuracy {e.score(Xte, yte):.4f}" if peer == "sklearn lbfgs" else
                      f"  alpha {e.alpha_:.5g}  gamma {e.gamma_:.2f}  ln evidence "
                      f"{e.log_evidence_:.3f}  accuracy {e.score(Xte, yte):.4f}")
            print(f"  {peer:15s} {med:7.2f} s  ({med / sk:5.1f}x sklearn){answer}")
        with Profile() as prof:
            t, _ = fit_seconds(peers["bayes default"], Xtr, ytr)
        print(f"  profile of one default fit ({t:.2f} s):")
        for part in Profile.PARTS:
            if part in prof.seconds:
                s = prof.seconds[part]
                print(f"    {part:34s} {s:6.2f} s  {100 * s / t:5.1f} %")
        rest = t - sum(prof.seconds.values())
        print(f"    {'the rest (E_D, checks, bookkeeping)':34s} {rest:6.2f} s  {100 * rest / t:5.1f} %")


if __name__ == "__main__":
    main()
