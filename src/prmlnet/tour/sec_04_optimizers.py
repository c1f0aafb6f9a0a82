"""§5.2.4: the optimizers side by side — batch versus online."""

import time

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize, online, train_online

TITLE = "5.2.4 Gradient descent optimization: the methods side by side"
SECTION = "5.2.4"

_STYLE = {"gd": ("tab:gray", "gradient descent + momentum"), "cg": ("tab:blue", "conjugate gradients"),
          "scg": ("tab:red", "scaled conjugate gradients"), "bfgs": ("tab:green", "BFGS"),
          "lbfgs": ("tab:olive", "L-BFGS"), "sgd": ("tab:purple", "online SGD (5.43)")}


def run(page):
    page.text(
        "One problem, every method: a 1-10-1 tanh network on 50 points of the sinusoidal "
        "data, from the same random weights. Batch methods spend one evaluation of "
        "$(E, \\nabla E)$ on all $N$ patterns; online gradient descent updates after every "
        "pattern, so $N$ of its updates cost about one batch evaluation (counted that way "
        "below). The "
        "plots show the error above the lowest value any method reached, against "
        "evaluations and against wall-clock time."
    )
    page.equation(r"\mathbf{w}^{(\tau+1)} = \mathbf{w}^{(\tau)} - \eta \nabla E(\mathbf{w}^{(\tau)})", "5.41")
    page.equation(r"\mathbf{w}^{(\tau+1)} = \mathbf{w}^{(\tau)} - \eta \nabla E_n(\mathbf{w}^{(\tau)})", "5.43")
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
        ax.set_ylabel("$E(\\mathbf{w}) - E_{\\min}$")
    ax1.set_xlabel("evaluations of $(E, \\nabla E)$ (online: $N$ updates = 1)")
    ax2.set_xlabel("milliseconds")
    ax1.set_xscale("log")
    ax2.set_xscale("log")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    page.figure(fig, "race", "Not a figure of the book (§5.2.4 compares the methods in words): "
                "the error above the best value any method reached, against evaluations (left) "
                "and time on this machine (right), all from the same starting weights.",
                "Two log-log plots of the error gap against evaluations and against "
                "milliseconds, one curve per optimizer.")
    rows = []
    for name, (res, seconds) in runs.items():
        rows.append([_STYLE[name][1], res.fun, res.nit, res.nfev if name != "sgd" else
                     int(res.history.nfev[-1]), 1e3 * seconds, res.status.name])
        page.record(f"E_{name}", res.fun)
    page.table(["method", "final E", "iterations (epochs)", "evaluations", "ms", "status"], rows)
    page.text(race_summary(runs, E_min))
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize

X, T = sinusoidal(50, np.random.default_rng(0))
obj = Objective(Network((1, 10, 1)), X, T, alpha=1e-3)
w0 = obj.net.init_weights(0)
for method in ("gd", "cg", "scg", "bfgs", "lbfgs"):        # the knob: the method
    opts = {"learning_rate": 0.003, "momentum": 0.9} if method == "gd" else {}
    res = minimize(obj, w0, method, max_iter=500, **opts)
    plt.loglog(res.history.nfev, res.history.fun, label=method)
plt.xlabel("evaluations"); plt.ylabel("E(w)"); plt.legend()
plt.show()
""")


def evaluations_to_reach(res, target):
    """Evaluations a run needed to bring E down to ``target`` (None if it never did)."""
    hit = np.flatnonzero(np.asarray(res.history.fun) <= target)
    return int(np.asarray(res.history.nfev)[hit[0]]) if hit.size else None


def race_summary(runs, E_min, gap=0.01):
    """The sentences about the race, from the runs' histories (``gap``: relative)."""
    target = E_min + gap * abs(E_min)
    budget = {name: int(np.asarray(res.history.nfev)[-1]) for name, (res, _) in runs.items()}
    need = {name: evaluations_to_reach(res, target) for name, (res, _) in runs.items()}
    reached = sorted((n for n in need if need[n] is not None), key=need.get)
    missed = [n for n in need if need[n] is None]
    parts = []
    if reached:
        parts.append(f"To come within {100 * gap:g}% of the lowest error reached ({E_min:.4g}), "
                     + ", ".join(f"{_STYLE[n][1]} needed {need[n]} evaluations" for n in reached))
    if missed:
        parts.append(", ".join(f"{_STYLE[n][1]} did not get there in {budget[n]}" for n in missed))
    finals = sorted(float(res.fun) for res, _ in runs.values())
    distinct = 1 + sum(b - a > 1e-3 * abs(a) for a, b in zip(finals, finals[1:]))
    ends = (f"The {len(finals)} runs ended at {distinct} error values more than 0.1% apart"
            + (": different local minima, or runs not yet converged, from the same start."
               if distinct > 1 else "."))
    return "; ".join(parts) + ". " + ends
