"""Why are the moderated probabilities of a Bayesian classifier worse than the MAP ones
(PRML §5.7.3)? Held-out log-loss of each predictive, and the true posterior's.

For each data set and seed (inputs standardised, a stratified 75/25 split), one
``BayesianMLPClassifier`` fit with its defaults (α from the evidence), then the
held-out log-loss of the probabilities

  map        — the MAP network's outputs y(x, w_MAP)
  old        — the softmax heuristic as it was: softmax(κ(σ²_ak) a_k), each class's
               variance including the common shift the softmax ignores
  probit     — the default now: the same heuristic on the centred activations
  pairwise   — the probit approximation of each pairwise difference a_k − a_j
  mc         — Monte Carlo over the Gaussian of the activations, N(a_MAP, B A⁻¹ Bᵀ)
               (exact in the limit: the reference of the three approximations)
  hmc        — (``--hmc``) the true posterior predictive at the same α: Hamiltonian
               Monte Carlo on p(w | D, α) ∝ exp(−E_D − E_W), preconditioned by A, the
               network itself (not linearised) averaged over the samples

and the mean absolute error of each approximation against ``mc`` in probability. The
binary data set has one logistic output: ``old``, ``probit`` and ``pairwise`` coincide.

    python benchmarks/bench_bayes_calibration.py [--seeds 5] [--hmc] [--data iris,wine,bc,digits]
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import warnings  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402
from scipy import linalg, special  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from prmlnet import BayesianMLPClassifier, bayes  # noqa: E402
from prmlnet.objective import Objective  # noqa: E402

DATA = {"iris": (load_iris, 10), "wine": (load_wine, 10), "bc": (load_breast_cancer, 10),
        "digits": (load_digits, 20)}


def log_loss(p, y):
    return float(-np.mean(np.log(np.clip(p[np.arange(y.size), y], 1e-300, 1.0))))


def two_columns(p):
    return np.hstack([1.0 - p, p]) if p.shape[1] == 1 else p


def hmc_predictive(post, obj, Xte, rng, n_iter, n_leapfrog=20):
    """The posterior predictive by HMC with mass matrix A (the Laplace precision), the
    step size tuned in the first fifth towards an acceptance of about 0.65."""
    L, w = post.chol, post.w.copy()
    E, g = obj(w)
    eps, burn, kept, accepted = 0.1, n_iter // 5, [], 0
    for it in range(n_iter):
        z = rng.standard_normal(w.size)
        p = L @ z - 0.5 * eps * g                      # momentum ~ N(0, A), half step
        v, e = w.copy(), eps * rng.uniform(0.8, 1.2)
        for step in range(n_leapfrog):
            v = v + e * linalg.cho_solve((L, True), p)
            E1, g1 = obj(v)
            if step < n_leapfrog - 1:
                p = p - e * g1
        p = p - 0.5 * e * g1
        u = linalg.solve_triangular(L, p, lower=True)
        if np.log(rng.uniform()) < E + 0.5 * z @ z - E1 - 0.5 * u @ u:
            w, E, g = v, E1, g1
            accepted += it >= burn
            eps *= 1.03 if it < burn else 1.0
        elif it < burn:
            eps /= 1.06
        if it >= burn and it % 5 == 0:
            kept.append(post.net.predict(w, Xte))
    return np.mean(kept, axis=0), accepted / (n_iter - burn)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hmc", action="store_true")
    parser.add_argument("--hmc-iter", type=int, default=3000)
    parser.add_argument("--data", default="iris,wine,bc,digits")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("held-out log-loss (mean over seeds; per seed in brackets)")
    for name in args.data.split(","):
        load, M = DATA[name]
        X, y = load(return_X_y=True)
        scores, errors = defaultdict(list), defaultdict(list)
        for seed in range(args.seeds):
            Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=seed, stratify=y)
            sc = StandardScaler().fit(Xtr)
            Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
            clf = BayesianMLPClassifier(hidden_layer_sizes=(M,), random_state=seed).fit(Xtr, ytr)
            post, yi = clf.posterior_, np.searchsorted(clf.classes_, yte)
            output = post.net.output.name
            a, s2 = post.activation_variance(Xte)
            p = {"map": two_columns(post.predict_proba(Xte, moderated=False))}
            p["old"] = two_columns(special.expit(bayes.kappa(s2) * a) if output == "logistic"
                                   else special.softmax(bayes.kappa(s2) * a, axis=1))
            for method in bayes.PREDICTIVES:
                p[method] = two_columns(post.predict_proba(Xte, method=method, n_samples=4000))
            if args.hmc:
                T = clf._encode_targets(ytr, first=False)
                obj = Objective(post.net, Xtr, T, prior=post.prior)
                ph, acc = hmc_predictive(post, obj, Xte, np.random.default_rng(seed),
                                         args.hmc_iter)
                p["hmc"] = two_columns(ph)
                scores["hmc acceptance"].append(acc)
            for k, v in p.items():
                scores[k].append(log_loss(v, yi))
                if k in ("old",) + bayes.PREDICTIVES[:2]:
                    errors[k].append(float(np.mean(np.abs(v - p["mc"]))))
        print(f"\n{name}: {'-'.join(map(str, post.net.sizes))}, {args.seeds} seeds")
        for k, v in scores.items():
            print(f"  {k:15s} {np.mean(v):.4f}  [" + " ".join(f"{x:.4f}" for x in v) + "]")
        print("  mean |p - p_mc|: " + "  ".join(f"{k} {np.mean(v):.4f}" for k, v in errors.items()))


if __name__ == "__main__":
    main()
