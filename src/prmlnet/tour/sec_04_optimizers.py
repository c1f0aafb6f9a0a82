"""§5.2.4: the optimizers side by side — batch versus online."""

import time

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize, online, train_online

TITLE = "5.2.4 Gradient descent optimization: the methods side by side"

_STYLE = {"gd": ("tab:gray", "gradient descent + momentum"), "cg": ("tab:blue", "conjugate gradients"),
          "scg": ("tab:red", "scaled conjugate gradients"), "bfgs": ("tab:green", "BFGS"),
          "lbfgs": ("tab:olive", "L-BFGS"), "sgd": ("tab:purple", "online SGD (5.43)")}


def run(page):
    page.text(
        "One problem, every method: a 1-10-1 tanh network on 50 points of the sinusoidal "
        "data, from the same random weights. Batch methods spend one evaluation of (E, ∇E) "
        "on all N patterns; online gradient descent (5.43) updates after every pattern, so "
        "N of its updates cost about one batch evaluation (counted that way below). The "
        "plots show the error above the lowest value any method reached, against "
        "evaluations and against wall-clock time."
    )
    page.equation("batch:  w ← w − η ∇E(w)        online:  w ← w − η ∇E_n(w)", "5.41, 5.43")
    X, T = sinusoidal(50, page.rng)
    net = Network((1, 10, 1))
    obj = Objective(net, X, T, alpha=1e-3)
    w0 = net.init_weights(page.rng)
    budget = 150 if page.quick else 2000
    runs = {}
    for name, opts in [("gd", {"learning_rate": 0.003, "momentum": 0.9}), ("cg", {}),
                       ("scg", {}), ("bfgs", {}), ("lbfgs", {})]:
        t0 = time.perf_counter()
        res = minimize(obj, w0, name, max_iter=budget, gtol=1e-9, ftol=0.0, **opts)
        runs[name] = (res, time.perf_counter() - t0)
    t0 = time.perf_counter()
    res = train_online(obj.minibatch, w0, X, T, online.sgd(online.inverse_time(0.02, 2000.0)),
                       batch_size=1, n_epochs=budget // 2, rng=page.rng)
    runs["sgd"] = (res, time.perf_counter() - t0)
    E_min = min(float(np.min(r.history.fun)) for r, _ in runs.values())
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    for name, (res, _) in runs.items():
        color, label = _STYLE[name]
        gap = np.maximum(res.history.fun - E_min, 1e-12)
        ax1.plot(res.history.nfev, gap, color=color, label=label)
        ax2.plot(res.history.time * 1e3, gap, color=color, label=label)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_ylabel("E(w) − E_min")
    ax1.set_xlabel("evaluations of (E, ∇E) (online: N updates = 1)")
    ax2.set_xlabel("milliseconds")
    ax1.set_xscale("log")
    ax2.set_xscale("log")
    ax1.legend(fontsize=8)
    page.figure(fig, "race", "Error above the best value reached, against evaluations (left) "
                "and time (right), all from the same starting weights.")
    rows = []
    for name, (res, seconds) in runs.items():
        rows.append([_STYLE[name][1], res.fun, res.nit, res.nfev if name != "sgd" else
                     int(res.history.nfev[-1]), 1e3 * seconds, res.status.name])
        page.record(f"E_{name}", res.fun)
    page.table(["method", "final E", "iterations (epochs)", "evaluations", "ms", "status"], rows)
    page.text(
        "Conjugate-gradient and quasi-Newton methods use curvature information and reach "
        "errors that gradient descent with a fixed rate needs orders of magnitude more "
        "evaluations for; online updates make fast early progress — each pattern "
        "moves w — and shine when the data set is large and redundant, but with a decaying "
        "rate they approach the minimum slowly. Different methods may end in different local "
        "minima from the same start."
    )
