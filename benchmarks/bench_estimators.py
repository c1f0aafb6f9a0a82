"""prmlnet's MLPClassifier / MLPRegressor beside scikit-learn's, with matched settings.

Same split, same architecture, same α, same iteration cap, same solver family;
mean over 5 seeds (the seed sets the initial weights), peers interleaved within
each seed; one thread. Run:

    taskset -c 0 python benchmarks/bench_estimators.py [--quick]

Matching α: scikit-learn minimises a mean loss + alpha / (2 N) ||W||²; times N,
that is prmlnet's summed error + (α/2) wᵀw with α = alpha (prmlnet also
penalises the biases).
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import prmlnet  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def digits():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xte), ytr, yte


def smooth_regression(n=1000):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (2 * n, 2))
    t = np.sin(np.pi * X[:, 0]) * np.cos(np.pi * X[:, 1]) + 0.1 * rng.standard_normal(2 * n)
    return X[:n], X[n:], t[:n], t[n:]


def timed(est, X, y):
    t0 = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - t0


def compare(title, data, pairs, score, seeds):
    Xtr, Xte, ytr, yte = data
    print(f"\n{title}: train {Xtr.shape}, test {Xte.shape}, mean of {len(seeds)} seeds")
    print(f"{'setting':<38} {'peer':<9} {'score':>8} {'±':>6} {'iters':>6} {'time s':>8}")
    for name, make_ours, make_sk in pairs:
        res = {"prmlnet": [], "sklearn": []}
        for seed in seeds:                     # interleaved: ours, theirs, ours, theirs, ...
            for peer, make in (("prmlnet", make_ours), ("sklearn", make_sk)):
                est = make(seed)
                t = timed(est, Xtr, ytr)
                res[peer].append((score(yte, est.predict(Xte)), est.n_iter_, t))
        ratio = np.mean([r[2] for r in res["sklearn"]]) / np.mean([r[2] for r in res["prmlnet"]])
        for peer, rows in res.items():
            a = np.array(rows)
            print(f"{name:<38} {peer:<9} {a[:, 0].mean():8.4f} {a[:, 0].std():6.4f} "
                  f"{a[:, 1].mean():6.0f} {a[:, 2].mean():8.3f}")
        paired = np.array([s[2] / o[2] for o, s in zip(res["prmlnet"], res["sklearn"])])
        print(f"{'':<38} time sklearn / prmlnet: {ratio:.2f} (paired per seed: "
              f"min {paired.min():.2f}, median {np.median(paired):.2f})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 seeds, fewer iterations")
    args = ap.parse_args()
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    it_cls = 60 if args.quick else 200
    H = (30,)

    def cls_pair(solver, ours_method, alpha, epochs=None, **kw):
        it = epochs or it_cls
        return (f"{H} tanh α={alpha} {solver} {it} it",
                lambda s: prmlnet.MLPClassifier(H, "tanh", alpha=alpha, method=ours_method,
                                                max_iter=it, tol=1e-6, random_state=s, **kw),
                lambda s: sk.MLPClassifier(hidden_layer_sizes=H, activation="tanh",
                                           solver=solver, alpha=alpha,
                                           max_iter=it, tol=1e-6, random_state=s,
                                           **({"batch_size": 32, "learning_rate_init": 1e-3,
                                               "n_iter_no_change": it}
                                              if solver == "adam" else {})))

    compare("load_digits classification (accuracy)", digits(), [
        cls_pair("lbfgs", "lbfgs", 1.0),
        (f"{H} tanh α=1.0 scg vs lbfgs {it_cls} it",
         lambda s: prmlnet.MLPClassifier(H, "tanh", alpha=1.0, method="scg", max_iter=it_cls,
                                         tol=1e-6, random_state=s),
         lambda s: sk.MLPClassifier(hidden_layer_sizes=H, activation="tanh", solver="lbfgs",
                                    alpha=1.0, max_iter=it_cls, tol=1e-6, random_state=s)),
        cls_pair("adam", "adam", 1.0, epochs=it_cls // 4, batch_size=32, learning_rate=1e-3),
    ], accuracy_score, seeds)

    H2 = (20,)
    it2 = 150 if args.quick else 500

    def r2(y, p):
        return r2_score(y, p)

    compare("smooth regression sin(πx1)cos(πx2) + noise 0.1 (test R²)", smooth_regression(), [
        (f"{H2} tanh α=1e-3 lbfgs {it2} it",
         lambda s: prmlnet.MLPRegressor(H2, "tanh", alpha=1e-3, method="lbfgs", max_iter=it2,
                                        tol=1e-7, random_state=s),
         lambda s: sk.MLPRegressor(hidden_layer_sizes=H2, activation="tanh", solver="lbfgs",
                                   alpha=1e-3, max_iter=it2, tol=1e-7, random_state=s)),
        (f"{H2} tanh α=1e-3 scg vs lbfgs {it2} it",
         lambda s: prmlnet.MLPRegressor(H2, "tanh", alpha=1e-3, method="scg", max_iter=it2,
                                        tol=1e-7, random_state=s),
         lambda s: sk.MLPRegressor(hidden_layer_sizes=H2, activation="tanh", solver="lbfgs",
                                   alpha=1e-3, max_iter=it2, tol=1e-7, random_state=s)),
    ], r2, seeds)
    _ = mean_squared_error


if __name__ == "__main__":
    main()
