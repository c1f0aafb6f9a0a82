"""§5.1–5.2: a 1-3-1 network fitted to four functions (Figure 5.3)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import FIGURE_5_3_FUNCTIONS, figure_5_3
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.1–5.2 Universal approximation: one network, four functions (Figure 5.3)"

_LABELS = {"square": "f(x) = x²", "sin": "f(x) = sin(x)", "abs": "f(x) = |x|",
           "step": "f(x) = H(x), the Heaviside step"}


def run(page):
    page.text(
        "Figure 5.3 of the book: a two-layer network with three tanh hidden units and a "
        "linear output, trained on N = 50 points of four functions sampled on (−1, 1). "
        "Training minimises the sum-of-squares error E(w) = ½ Σ_n (y(x_n, w) − t_n)² "
        "(5.11) with BFGS (§5.2.4); the best of a few random starts is kept. The dashed "
        "curves are the three hidden-unit outputs z_j = tanh(a_j): the network builds each "
        "function from three adaptive sigmoid steps."
    )
    page.equation("E(w) = ½ Σ_n (y(x_n, w) − t_n)²", "5.11")
    net = Network((1, 3, 1), hidden="tanh", output="linear")
    starts = 2 if page.quick else 6
    max_iter = 300 if page.quick else 3000
    x_plot = np.linspace(-1, 1, 201)[:, None]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    rows = []
    for ax, kind in zip(axes, FIGURE_5_3_FUNCTIONS):
        X, T = figure_5_3(kind, n=50)
        obj = Objective(net, X, T)
        best = None
        for _ in range(starts):
            res = minimize(obj, net.init_weights(page.rng), "bfgs", max_iter=max_iter, gtol=1e-8)
            if best is None or res.fun < best.fun:
                best = res
        cache = net.forward(best.x, x_plot)
        z = cache.inputs[1]
        ax.plot(X[:, 0], T[:, 0], "o", ms=3, color="tab:blue", label="data")
        ax.plot(x_plot[:, 0], cache.y[:, 0], color="tab:red", lw=2, label="network")
        for j in range(3):
            ax.plot(x_plot[:, 0], z[:, j], "--", lw=1, color="grey")
        ax.set_title(_LABELS[kind], fontsize=10)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("x")
        rmse = float(np.sqrt(2 * best.fun / len(X)))
        rows.append([kind, best.fun, rmse, best.nit, best.nfev])
        page.record(f"E_{kind}", best.fun)
    axes[0].legend(fontsize=8, loc="upper center")
    page.figure(fig, "four-functions",
                "Data (blue), network output (red) and the three hidden-unit outputs (dashed).")
    page.table(["function", "final E", "RMS error", "iterations", "evaluations"], rows)
    page.text(
        "The smooth functions are fitted almost exactly. |x| is the hardest: two hidden "
        "units must combine into its corner, and the fit rounds it off. The step needs a "
        "single steep unit; since no sample lies at x = 0, a large first-layer weight fits "
        "all 50 points to within rounding error, and between the two samples next to 0 "
        "the network draws a steep sigmoid instead of a jump."
    )
