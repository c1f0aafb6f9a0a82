"""§5.5: the number of hidden units M, and local minima (Figures 5.9 and 5.10)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.5 Number of hidden units and local minima (Figures 5.9 and 5.10)"


def run(page):
    page.text(
        "Figures 5.9 and 5.10 of the book: two-layer networks with M = 1, 3 and 10 tanh "
        "hidden units trained by scaled conjugate gradients (at most 2000 iterations) "
        "on 10 equally spaced points of the sinusoidal data set, t = sin(2πx) + "
        "noise (σ = 0.3). M controls the number of adaptive basis functions, like the order of the "
        "polynomial of Chapter 1. As in the book, each start draws the weights from an isotropic "
        "Gaussian of mean zero and variance 10 (far larger than Network.init_weights, so the "
        "tanh units start saturated and the runs land in very different minima). The test "
        "error is not a smooth function of M: every training run ends in a local minimum "
        "that depends on the random starting weights, so each M is trained from many starts."
    )
    X, T = sinusoidal(10, page.rng, equally_spaced=True)
    Xt, Tt = sinusoidal(200 if page.quick else 1000, page.rng)
    x_plot = np.linspace(0, 1, 200)[:, None]
    restarts = 5 if page.quick else 30
    Ms = [1, 2, 3, 5, 10] if page.quick else list(range(1, 11))
    max_iter = 300 if page.quick else 2000
    test_errors = {}
    best_w = {}
    for M in Ms:
        net = Network((1, M, 1))
        obj = Objective(net, X, T)
        errs, fits = [], []
        for _ in range(restarts):
            w0 = page.rng.normal(0.0, np.sqrt(10.0), net.n_weights)   # Figure 5.10's start
            res = minimize(obj, w0, "scg", max_iter=max_iter, gtol=1e-8)
            errs.append(net.error(res.x, Xt, Tt))
            fits.append(res)
        test_errors[M] = np.array(errs)
        k = int(np.argmin([r.fun for r in fits]))     # the best training fit for Figure 5.9
        best_w[M] = fits[k].x
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
    for ax, M in zip(axes, [1, 3, 10]):
        net = Network((1, M, 1))
        ax.plot(x_plot[:, 0], np.sin(2 * np.pi * x_plot[:, 0]), color="tab:green", lw=1)
        ax.plot(x_plot[:, 0], net.predict(best_w[M], x_plot)[:, 0], color="tab:red", lw=2)
        ax.plot(X[:, 0], T[:, 0], "o", mfc="none", color="tab:blue")
        ax.set_title(f"M = {M}")
        ax.set_ylim(-1.6, 1.6)
        ax.set_xlabel("x")
    axes[0].set_ylabel("t")
    page.figure(fig, "fits", "Figure 5.9: the network with the lowest training error out of "
                "the restarts (red), the data (blue) and sin(2πx) (green).")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for M in Ms:
        ax.plot(np.full(restarts, M), test_errors[M], "o", mfc="none", color="tab:blue", ms=5)
    ax.plot(Ms, [np.min(test_errors[M]) for M in Ms], "-", color="tab:red", lw=1,
            label="best of the restarts")
    ax.set_yscale("log")
    ax.set_xlabel("number of hidden units M")
    ax.set_ylabel("sum-of-squares test error")
    ax.legend(fontsize=8)
    page.figure(fig, "test-error", f"Figure 5.10: test error against M, {restarts} random "
                "starts for each M (one circle per start).")
    page.table(["M", "W", "min test E", "median test E", "max test E"],
               [[M, Network((1, M, 1)).n_weights, float(np.min(e)), float(np.median(e)),
                 float(np.max(e))] for M, e in test_errors.items()])
    for M, e in test_errors.items():
        page.record(f"min_test_error_M{M}", float(np.min(e)))
    best = {M: float(np.min(e)) for M, e in test_errors.items()}
    M_best = min(best, key=best.get)
    train = {M: float(Network((1, M, 1)).error(best_w[M], X, T)) for M in (1, 3, 10)}
    page.text(
        f"Training error of the plotted fits: {train[1]:.3g} (M = 1), {train[3]:.3g} (M = 3), "
        f"{train[10]:.3g} (M = 10) — more hidden units always fit the 10 points more closely. "
        f"The lowest test error over all starts is at M = {M_best} ({best[M_best]:.3g}); "
        f"M = 1 reaches {best[1]:.3g} and M = 10 {best[10]:.3g}."
    )
    page.text(
        "The spread at each M is the local-minimum problem of §5.2.1 made visible. In "
        "practice one chooses M (or, better, a regulariser — §5.5) by the error on "
        "validation data, keeping the best of several starts."
    )
