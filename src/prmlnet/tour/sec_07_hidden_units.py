"""§5.5: the number of hidden units M, and local minima (Figures 5.9 and 5.10)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.5 Number of hidden units and local minima (Figures 5.9 and 5.10)"
SECTION = "5.5"

SHOWN = 5          # restarts drawn per panel of Figure 5.9 (the lowest training errors)
DATA_SEED = 6      # the draw of the ten training points (see the caption of Figure 5.9)


def describe_sweep(train, dev, spread, best, M_best):
    """Sentences about Figures 5.9 and 5.10, from the numbers.

    ``train``, ``dev``, ``spread``: dicts over M = 1, 3, 10 (training error of the best fit,
    its RMS deviation from sin(2πx), the RMS spread of the shown fits); ``best``: the lowest
    test error per M; ``M_best``: the M where it is lowest.
    """
    Ms = sorted(train)
    falls = all(train[a] > train[b] for a, b in zip(Ms, Ms[1:]))
    s1 = (f"Training error of the best fits: {train[1]:.3g} (M = 1), {train[3]:.3g} (M = 3), "
          f"{train[10]:.3g} (M = 10) — "
          + ("it falls as M grows." if falls else "it does not fall steadily with M."))
    far, wide = dev[10] > 1.25 * dev[3], spread[10] > 1.5 * spread[3]
    how = []
    if far:
        how.append(f"its best curve strays {dev[10] / dev[3]:.1f} times as far from the true "
                   "curve as that of M = 3")
    if wide:
        how.append(f"its restarts spread {spread[10] / max(spread[3], 1e-12):.1f} times as widely")
    s2 = (f" Away from the data the best fits deviate from sin(2πx) by an RMS of {dev[1]:.3g}, "
          f"{dev[3]:.3g} and {dev[10]:.3g}, and the {SHOWN} best restarts disagree among "
          f"themselves by an RMS of {spread[1]:.3g}, {spread[3]:.3g} and {spread[10]:.3g}: "
          + ("M = 10 follows the noise of these ten points — " + " and ".join(how)
             + ": over-fitting." if how else
             "on these points M = 10 is not visibly worse than M = 3 between the data; its "
             "excess freedom shows in the test error."))
    s3 = (f" The lowest test error over all starts is at M = {M_best} ({best[M_best]:.3g}); "
          f"M = 1 reaches {best[1]:.3g} and M = 10 {best[10]:.3g}.")
    return s1 + s2 + s3


def run(page):
    page.text(
        "Figures 5.9 and 5.10 of the book: two-layer networks with M tanh hidden units "
        "trained by scaled conjugate gradients on 10 equally spaced points of the sinusoidal "
        "data, $t = \\sin(2\\pi x) + \\epsilon$ with noise of standard deviation 0.3. M "
        "controls the number of adaptive basis functions, like the order of the polynomial of "
        "Chapter 1. For Figure 5.10, as in the book, each start draws the weights from an "
        "isotropic Gaussian of mean zero and variance 10 (far larger than "
        "Network.init_weights, so the tanh units start saturated and the runs land in very "
        "different minima); Figure 5.9 starts from Network.init_weights. Every training run ends "
        "in a local minimum that depends on its starting weights, so each M is trained from "
        "many starts.")
    page.equation(r"E(\mathbf{w}) = \frac{1}{2}\sum_{n=1}^{10} \big(y(x_n, \mathbf{w}) - t_n\big)^2, "
                  r"\qquad \mathbf{w}^{(0)} \sim \mathcal{N}(\mathbf{0}, 10\,\mathbf{I})", "5.11")
    X, T = sinusoidal(10, np.random.default_rng(DATA_SEED), equally_spaced=True)
    Xt, Tt = sinusoidal(200 if page.quick else 1000, page.rng)
    x_plot = np.linspace(0, 1, 200)[:, None]
    truth = np.sin(2 * np.pi * x_plot[:, 0])
    restarts = 6 if page.quick else 20
    Ms = [1, 3, 10] if page.quick else list(range(1, 11))
    max_iter = 300 if page.quick else 1000
    test_errors, fits = {}, {}
    for M in Ms:                                     # Figure 5.10: starts of variance 10
        net = Network((1, M, 1))
        obj = Objective(net, X, T)
        runs = []
        for _ in range(restarts):
            w0 = page.rng.normal(0.0, np.sqrt(10.0), net.n_weights)
            runs.append(minimize(obj, w0, "scg", max_iter=max_iter, gtol=1e-8, ftol=1e-9))
        test_errors[M] = np.array([net.error(r.x, Xt, Tt) for r in runs])
    for M in (1, 3, 10):                             # Figure 5.9: Network.init_weights starts
        net = Network((1, M, 1))
        obj = Objective(net, X, T)
        fits[M] = sorted((minimize(obj, net.init_weights(page.rng), "scg", max_iter=max_iter,
                                   gtol=1e-8, ftol=1e-9) for _ in range(3 if page.quick else 8)),
                         key=lambda r: r.fun)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    dev, spread, train = {}, {}, {}
    for ax, M in zip(axes, [1, 3, 10]):
        net = Network((1, M, 1))
        curves = np.array([net.predict(r.x, x_plot)[:, 0] for r in fits[M][:SHOWN]])
        for c in curves[1:]:
            ax.plot(x_plot[:, 0], c, color="tab:red", lw=0.8, alpha=0.45)
        ax.plot(x_plot[:, 0], truth, color="tab:green", lw=1.2, label="$\\sin(2\\pi x)$")
        ax.plot(x_plot[:, 0], curves[0], color="tab:red", lw=2, label="lowest training error")
        ax.plot(X[:, 0], T[:, 0], ".", ms=9, color="black", label="data")
        ax.set_title(f"M = {M}")
        ax.set_ylim(-1.8, 1.8)
        ax.set_xlabel("$x$")
        train[M] = float(fits[M][0].fun)
        dev[M] = float(np.sqrt(np.mean((curves[0] - truth) ** 2)))
        spread[M] = float(np.sqrt(np.mean(np.var(curves, axis=0))))
    axes[0].set_ylabel("$t$")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    page.figure(fig, "fits",
                "Figure 5.9: for M = 1, 3 and 10, the fit with the lowest training error out of "
                f"{len(fits[1])} starts from Network.init_weights (thick red) and the next "
                f"{SHOWN - 1} (thin), the data (black) and $\\sin(2\\pi x)$ "
                "(green). The book shows one fit per M; the extra curves show how much the "
                "minima found from different starts disagree. The ten points are one draw of "
                f"the data (seed {DATA_SEED}) whose noise is plain to see; on many draws the "
                "interpolating fits of M = 3 and M = 10 lie closer together than here.",
                "Three panels of ten data points with fitted curves: one hidden unit gives a "
                "single smooth step, three and ten hidden units pass close to every point.")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for M in Ms:
        ax.plot(np.full(restarts, M), test_errors[M], "o", mfc="none", color="tab:blue", ms=5)
    ax.plot(Ms, [np.min(test_errors[M]) for M in Ms], "-", color="tab:red", lw=1,
            label="best of the restarts")
    ax.set_xticks(Ms)
    top = float(np.quantile(np.concatenate(list(test_errors.values())), 0.9))
    low = float(min(np.min(e) for e in test_errors.values()))
    ax.set_ylim(0.95 * low, 1.05 * top)
    ax.set_xlabel("number of hidden units $M$")
    ax.set_ylabel(f"sum-of-squares test error ({len(Xt)} points)")
    ax.legend(fontsize=8)
    clipped = int(sum(np.sum(e > 1.05 * top) for e in test_errors.values()))
    page.figure(fig, "test-error",
                f"Figure 5.10: test error against M, {restarts} random starts for each M (one "
                f"circle per start; the book has 30), on a linear scale cut at the 90th "
                f"percentile ({clipped} starts above it are not shown).",
                "Scatter of test errors against the number of hidden units, one circle per "
                "random start, with a red line through the best error for each M.")
    page.table(["M", "W", "min test E", "median test E", "max test E"],
               [[M, Network((1, M, 1)).n_weights, float(np.min(e)), float(np.median(e)),
                 float(np.max(e))] for M, e in test_errors.items()])
    for M, e in test_errors.items():
        page.record(f"min_test_error_M{M}", float(np.min(e)))
    for M in (1, 3, 10):
        page.record(f"train_error_M{M}", train[M])
        page.record(f"deviation_M{M}", dev[M])
    best = {M: float(np.min(e)) for M, e in test_errors.items()}
    M_best = min(best, key=best.get)
    page.text(describe_sweep(train, dev, spread, best, M_best))
    page.text(
        "The spread at each M is the local-minimum problem of §5.2.1 made visible. In "
        "practice one chooses M (or, better, a regulariser — §5.5) by the error on "
        "validation data, keeping the best of several starts.")
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize

rng = np.random.default_rng(0)
X, T = sinusoidal(10, rng, equally_spaced=True)     # N = 10 points
M = 10                                              # hidden units: try 1, 3, 10
net = Network((1, M, 1))
w0 = rng.normal(0.0, np.sqrt(10.0), net.n_weights)  # initial variance 10, as in Figure 5.10
res = minimize(Objective(net, X, T), w0, "scg", max_iter=2000)
x = np.linspace(0, 1, 200)[:, None]
plt.plot(X, T, "k.", x, net.predict(res.x, x), "r-", x, np.sin(2 * np.pi * x), "g-")
plt.xlabel("x"); plt.ylabel("t")
plt.show()
""")
