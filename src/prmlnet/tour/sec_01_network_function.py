"""§5.1: the network function — the diagrams of Figures 5.1 and 5.2, and hidden units at work."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.tour.diagrams import NEGATIVE, POSITIVE, draw_network

TITLE = "5.1 Feed-forward network functions (Figures 5.1 and 5.2)"
SECTION = "5.1"


def _diagrams(page):
    net = Network((2, 3, 2), hidden="tanh", output="linear")
    w = net.init_weights(page.rng)
    fig, ax = plt.subplots(figsize=(8, 5.2))
    draw_network(ax, net, w, values=True, spacing=1.35)
    ax.plot([], [], color=POSITIVE, lw=2, label="w > 0")
    ax.plot([], [], color=NEGATIVE, lw=2, label="w < 0")
    ax.legend(loc="lower center", ncol=2, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.08))
    page.figure(fig, "fig-5-1",
                "Figure 5.1: the two-layer network, drawn from the object "
                "Network((2, 3, 2)) and its weight vector. As in the book the biases "
                "are links from extra units $x_0 = 1$ and $z_0 = 1$; unlike the book's schematic "
                "every link here is a real weight of $\\mathbf{w}$ (drawn from "
                "init_weights), its width growing with $|w|$ and its value written "
                "beside it.",
                "Diagram of a network with two inputs, three hidden units and two outputs, "
                "bias units x0 and z0, and arrows for all 17 weights labelled with their values.")
    page.record("fig_5_1_links", net.n_weights)

    deep = Network((3, 4, 3, 2), hidden="tanh")
    wd = deep.init_weights(page.rng)
    cut = np.quantile(np.abs(wd), 0.4)
    wd[np.abs(wd) < cut] = 0.0                           # prune: missing connections
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    draw_network(ax, deep, wd, bias=False)
    n_links = int(sum(np.count_nonzero(W) for W, _ in deep.unpack(wd)))
    n_all = sum(W.size for W, _ in deep.unpack(wd))
    page.figure(fig, "fig-5-2",
                f"Figure 5.2: a general feed-forward topology. The book's example has "
                "skip-layer links; prmlnet builds layered networks only, so this is a "
                f"three-layer Network((3, 4, 3, 2)) whose smallest weights were set "
                f"to zero: {n_links} of its {n_all} links remain, and not every unit feeds "
                "every unit of the next layer. Biases are left out, as in the book.",
                f"Diagram of a network with three inputs, hidden layers of four and three units "
                f"and two outputs, with {n_links} of the {n_all} possible links drawn.")
    page.record("fig_5_2_links", n_links)


def _basis_functions(page):
    net = Network((1, 3, 1), hidden="tanh", output="linear")
    x = np.linspace(-3, 3, 101 if page.quick else 301)[:, None]
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True, sharey="row")
    rows, steps = [], []
    for col in range(3):
        w = net.init_weights(page.rng) * 2.0
        cache = net.forward(w, x)
        z = cache.inputs[1]
        y = cache.y[:, 0]
        (W1, b1), (W2, b2) = net.unpack(w)
        for j in range(3):
            axes[0, col].plot(x[:, 0], z[:, j], "--", lw=1.2, label=f"$z_{j + 1}$")
            axes[1, col].plot(x[:, 0], W2[0, j] * z[:, j], "--", lw=1)
        axes[1, col].plot(x[:, 0], y, color="tab:red", lw=2, label="$y$")
        axes[1, col].axhline(b2[0], color="grey", lw=0.5)
        axes[0, col].set_title(f"weight setting {col + 1}", fontsize=10)
        axes[1, col].set_xlabel("$x$")
        rows.append([col + 1] + [f"{v:+.2f}" for v in (*W1[:, 0], *b1, *W2[0], b2[0])])
        steps.append(-b1 / W1[:, 0])
    axes[0, 0].set_ylabel("$z_j = \\tanh(a_j)$")
    axes[1, 0].set_ylabel("$y$ and its terms $w_{kj} z_j$")
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].legend(fontsize=8)
    fig.tight_layout()
    page.figure(fig, "units",
                "Not a figure of the book: a 1-3-1 network for three random weight vectors. "
                "Top: the hidden-unit outputs $z_j$ (dashed). Bottom: their weighted "
                "contributions $w_{kj} z_j$ (dashed) add up, with the bias (grey), to the "
                "network output $y$ (red).",
                "Six panels: for three random weight settings, the three tanh hidden-unit "
                "curves above and, below, their weighted sum, the network output.")
    page.table(["setting", "w(1)_11", "w(1)_21", "w(1)_31", "w(1)_10", "w(1)_20", "w(1)_30",
                "w(2)_11", "w(2)_12", "w(2)_13", "w(2)_10"], rows)
    inside = [int(np.sum(np.abs(s) < 3)) for s in steps]
    page.text(
        "Each hidden unit is a smooth step whose centre $x = -w_{j0}/w_{j1}$ and steepness "
        "$w_{j1}$ are set by its first-layer weights; the output layer adds the steps up. "
        + "; ".join(f"{'I' if c == 0 else 'i'}n setting {c + 1}, {k} of the 3 centres lie "
                    "inside the plotted range "
                    f"(at {', '.join(f'{v:.2f}' for v in sorted(s) if abs(v) < 3) or 'none'})"
                    for c, (k, s) in enumerate(zip(inside, steps)))
        + ". Training (§5.2) moves these steps to fit data.")
    page.record("n_weights", net.n_weights)


def run(page):
    page.text(
        "A two-layer network is a linear combination of adaptive basis functions: each "
        "hidden unit $j$ forms a weighted sum $a_j$ of the inputs and passes it through a "
        "nonlinearity $h$; each output unit forms a weighted sum of the hidden-unit outputs "
        "and applies an output activation $f$ (the identity for regression, the logistic "
        "sigmoid or softmax for classification).")
    page.equation(r"a_j = \sum_{i=1}^{D} w^{(1)}_{ji} x_i + w^{(1)}_{j0}, \qquad z_j = h(a_j)",
                  "5.2–5.3")
    page.equation(r"y_k(\mathbf{x}, \mathbf{w}) = f\Big(\sum_{j=1}^{M} w^{(2)}_{kj}\, "
                  r"h\Big(\sum_{i=1}^{D} w^{(1)}_{ji} x_i + w^{(1)}_{j0}\Big) + w^{(2)}_{k0}\Big)",
                  "5.7")
    page.text(
        "prmlnet keeps all weights in one vector $\\mathbf{w}$, layer by layer; the network "
        "object holds only the sizes and activations. The diagrams below are drawn from such "
        "objects: every arrow is one element of $\\mathbf{w}$.")
    _diagrams(page)
    page.text(
        "Below, one input, three tanh hidden units and one linear output (a 1-3-1 network), "
        "for three random weight vectors (twice the scale Network.init_weights draws).")
    _basis_functions(page)
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import Network
from prmlnet.tour.diagrams import draw_network

net = Network((2, 3, 2), hidden="tanh", output="linear")   # D inputs, M hidden, K outputs
w = net.init_weights(np.random.default_rng(0))              # one flat vector of net.n_weights
fig, ax = plt.subplots(figsize=(7, 4))
draw_network(ax, net, w, values=True)                       # Figure 5.1 with the weights
plt.show()
""")
