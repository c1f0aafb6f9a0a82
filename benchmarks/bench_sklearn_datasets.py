"""prmlnet's estimators beside scikit-learn's MLPs on six standard data sets.

Held-out accuracy and log-loss (classification) or R² (regression), and fit time,
on iris, wine, breast cancer, digits, diabetes and make_friedman1. Every data set
has one split (70/30, stratified for classes, ``random_state=0``) and standardised
inputs (a StandardScaler fitted on the training part) for both peers; regression
targets are standardised too, for both (prmlnet by ``standardize=True``,
scikit-learn by ``TransformedTargetRegressor``). Each setting runs for several
seeds of the initial weights, the peers interleaved within each seed; one thread.

Settings:

* ``defaults``: each library as a user gets it — prmlnet ``standardize=True``
  (10 tanh units, scaled conjugate gradients, α = 0.01, 200 iterations) against
  scikit-learn's defaults (100 relu units, Adam, alpha = 1e-4, 200 epochs);
* ``lbfgs``, ``adam``: the same 20 tanh units, α, iteration cap and solver on both
  sides (scikit-learn's mean loss + alpha / (2N) ||W||² times N is prmlnet's
  summed error + (α/2) wᵀw with α = alpha; prmlnet also penalises the biases);
  Adam with η = 1e-3, mini-batches of 32 and the loss-plateau stop (tol = 1e-4 per
  pattern, 10 epochs) on both sides;
* prmlnet's other non-Bayesian estimators where they apply: ``ConvNetClassifier``
  on the digits' 8×8 images (raw pixels, no scikit-learn peer), ``MDNRegressor``
  (R² of its conditional mean).

Run (the numbers in the report came from a machine shared with other jobs)::

    python benchmarks/bench_sklearn_datasets.py [--quick] [--only NAME ...]
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn import datasets as skd  # noqa: E402
from sklearn import neural_network as sk  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.metrics import accuracy_score, log_loss, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import prmlnet  # noqa: E402

warnings.simplefilter("ignore")

H = (20,)


def load(name):
    """``(Xtr, Xte, ytr, yte, kind)`` with standardised inputs."""
    if name == "friedman1":
        X, y = skd.make_friedman1(n_samples=1000, noise=1.0, random_state=0)
        kind = "regression"
    else:
        X, y = getattr(skd, f"load_{name}")(return_X_y=True)
        kind = "regression" if name == "diabetes" else "classification"
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0,
                                          stratify=y if kind == "classification" else None)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xte), ytr, yte, kind, (Xtr, Xte)


def sk_reg(**kw):
    return TransformedTargetRegressor(sk.MLPRegressor(**kw), transformer=StandardScaler())


def settings(kind, name, quick):
    """``[(setting, peer, make(seed), raw_inputs)]`` for one data set."""
    it = 100 if quick else 200
    ours = prmlnet.MLPClassifier if kind == "classification" else prmlnet.MLPRegressor
    theirs = sk.MLPClassifier if kind == "classification" else sk_reg
    adam = dict(learning_rate=1e-3, batch_size=32, tol=1e-4, n_iter_no_change=10)
    out = [
        ("defaults", "prmlnet", lambda s: ours(standardize=True, random_state=s), False),
        ("defaults", "sklearn", lambda s: theirs(random_state=s), False),
        ("lbfgs", "prmlnet", lambda s: ours(H, alpha=1.0, method="lbfgs", max_iter=it,
                                            tol=1e-6, standardize=True, random_state=s), False),
        ("lbfgs", "sklearn", lambda s: theirs(hidden_layer_sizes=H, activation="tanh",
                                              solver="lbfgs", alpha=1.0, max_iter=it,
                                              tol=1e-6, random_state=s), False),
        ("adam", "prmlnet", lambda s: ours(H, alpha=1.0, method="adam", max_iter=it,
                                           standardize=True, random_state=s, **adam), False),
        ("adam", "sklearn", lambda s: theirs(
            hidden_layer_sizes=H, activation="tanh", solver="adam", alpha=1.0, max_iter=it,
            learning_rate_init=1e-3, batch_size=32, tol=1e-4, n_iter_no_change=10,
            random_state=s), False),
    ]
    if name == "digits":
        out.append(("conv", "prmlnet", lambda s: prmlnet.ConvNetClassifier(
            "conv:6x3x3-sub-dense:30", max_iter=it, alpha=1.0, random_state=s), True))
    if kind == "regression":
        out.append(("mdn", "prmlnet", lambda s: prmlnet.MDNRegressor(
            n_components=2, hidden_layer_sizes=(10,), alpha=1.0, max_iter=it,
            standardize=True, random_state=s), False))
    return out


def scores(est, kind, X, y):
    if kind == "classification":
        P = est.predict_proba(X)
        return accuracy_score(y, est.classes_[P.argmax(1)]), log_loss(y, P, labels=est.classes_)
    pred = est.predict_mean(X) if hasattr(est, "predict_mean") else est.predict(X)
    return r2_score(y, pred), np.nan


def iterations(est):
    inner = getattr(est, "regressor_", est)
    return getattr(inner, "n_iter_", np.nan)


def run(name, seeds, quick):
    Xtr, Xte, ytr, yte, kind, (Rtr, Rte) = load(name)
    rows = {}
    for seed in seeds:                        # interleaved: every setting and peer per seed
        for setting, peer, make, raw in settings(kind, name, quick):
            est = make(seed)
            A, B = (Rtr, Rte) if raw else (Xtr, Xte)
            t0 = time.perf_counter()
            est.fit(A, ytr)
            t = time.perf_counter() - t0
            rows.setdefault((setting, peer), []).append((*scores(est, kind, B, yte),
                                                         iterations(est), t))
    metric = "accuracy  log-loss" if kind == "classification" else "R²       "
    print(f"\n{name}: train {Xtr.shape}, test {Xte.shape}, {len(seeds)} seeds "
          f"(mean ± sd; time: median)")
    print(f"{'setting':<10} {'peer':<8} {metric:>18} {'iters':>6} {'time s':>8} "
          f"{'sklearn/prmlnet time (paired median)':>38}")
    for (setting, peer), vals in rows.items():
        a = np.array(vals)
        m = f"{a[:, 0].mean():.4f}±{a[:, 0].std():.3f}"
        if kind == "classification":
            m += f" {a[:, 1].mean():.3f}"
        ratio = ""
        if peer == "prmlnet" and (setting, "sklearn") in rows:
            b = np.array(rows[(setting, "sklearn")])
            ratio = f"{np.median(b[:, 3] / a[:, 3]):.2f}"
        print(f"{setting:<10} {peer:<8} {m:>18} {np.nanmean(a[:, 2]):6.0f} "
              f"{np.median(a[:, 3]):8.3f} {ratio:>38}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 seeds, 100 iterations")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    names = args.only or ["iris", "wine", "breast_cancer", "digits", "diabetes", "friedman1"]
    for name in names:
        run(name, seeds, args.quick)


if __name__ == "__main__":
    main()
