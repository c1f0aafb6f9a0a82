"""§5.1–5.2: a 1-3-1 network fitted to four functions (Figure 5.3)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import FIGURE_5_3_FUNCTIONS, figure_5_3
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.1 Universal approximation: one network, four functions (Figure 5.3)"
SECTION = "5.1"

_LABELS = {"square": "$f(x) = x^2$", "sin": "$f(x) = \\sin(x)$", "abs": "$f(x) = |x|$",
           "step": "$f(x) = H(x)$, the Heaviside step"}
_NAMES = {"square": "x²", "sin": "sin(x)", "abs": "|x|", "step": "the step H(x)"}


def _and(items):
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe_fits(rms):
    """The sentence about which functions were fitted well, from the RMS errors.

    ``rms`` maps a function's key to its RMS error; "almost exactly" means below 1% of
    the functions' unit scale.
    """
    good = [k for k in rms if rms[k] < 0.01]
    worst = max(rms, key=rms.get)
    parts = []
    if good:
        parts.append(f"The network fits {_and([_NAMES[k] for k in good])} almost exactly "
                     f"(RMS error {_and([f'{rms[k]:.1e}' for k in good])})")
    parts.append(f"the hardest is {_NAMES[worst]}, with an RMS error of {rms[worst]:.3g}")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def run(page):
    page.text(
        "Figure 5.3 of the book: a two-layer network with three tanh hidden units and a "
        "linear output, trained on $N = 50$ points of four functions sampled uniformly on "
        "$(-1, 1)$. Training minimises the sum-of-squares error with BFGS (§5.2.4), keeping "
        "the best of a few random starts. The dashed curves are the three hidden-unit "
        "outputs $z_j = \\tanh(a_j)$: the network builds each function from three adaptive "
        "smooth steps.")
    page.equation(r"E(\mathbf{w}) = \frac{1}{2} \sum_{n=1}^{N} \big(y(x_n, \mathbf{w}) - t_n\big)^2",
                  "5.11")
    net = Network((1, 3, 1), hidden="tanh", output="linear")
    starts = 2 if page.quick else 6
    max_iter = 300 if page.quick else 3000
    x_plot = np.linspace(-1, 1, 201)[:, None]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
    rows, rms = [], {}
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
        for j in range(3):
            ax.plot(x_plot[:, 0], z[:, j], "--", lw=1, color="grey",
                    label="hidden units $z_j$" if j == 0 else None)
        ax.plot(X[:, 0], T[:, 0], ".", ms=5, color="black", label="data")
        ax.plot(x_plot[:, 0], cache.y[:, 0], color="tab:red", lw=2, label="network $y(x)$")
        ax.set_title(_LABELS[kind], fontsize=10)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1.15, 1.15)
        ax.set_yticks([-1, -0.5, 0, 0.5, 1])
        ax.set_xlabel("$x$")
        rms[kind] = float(np.sqrt(2 * best.fun / len(X)))
        rows.append([kind, best.fun, rms[kind], best.nit, best.nfev])
        page.record(f"E_{kind}", best.fun)
        page.record(f"rms_{kind}", rms[kind])
    axes[0].set_ylabel("$t$, $y$, $z_j$")
    for ax in axes[1:]:
        ax.tick_params(labelleft=False)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    page.figure(fig, "four-functions",
                "Figure 5.3: data (black dots), the network output (red) and the three "
                "hidden-unit outputs (dashed). As in the book; the best of "
                f"{starts} BFGS starts is shown, and all panels share one vertical scale.",
                "Four panels, one per function (x squared, sine, absolute value, step): 50 data "
                "points, the fitted network curve through them and three dashed hidden-unit curves.")
    page.table(["function", "final E", "RMS error", "iterations", "evaluations"], rows)
    page.text(describe_fits(rms))
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import Network
from prmlnet.datasets import figure_5_3
from prmlnet.objective import Objective
from prmlnet.optim import minimize

X, T = figure_5_3("abs", n=50)                      # or "square", "sin", "step"
net = Network((1, 3, 1), hidden="tanh")             # M = 3 hidden units
res = minimize(Objective(net, X, T), net.init_weights(np.random.default_rng(0)), "bfgs")
x = np.linspace(-1, 1, 201)[:, None]
plt.plot(X, T, "k.", x, net.predict(res.x, x), "r-")
plt.xlabel("x"); plt.ylabel("t")
plt.show()
""")
