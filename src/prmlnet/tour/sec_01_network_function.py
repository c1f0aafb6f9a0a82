"""§5.1: the network function of a two-layer network, unit by unit."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network

TITLE = "5.1 The network function: hidden units as adaptive basis functions"


def run(page):
    page.text(
        "A two-layer network is a linear combination of adaptive basis functions: each "
        "hidden unit j forms a weighted sum a_j of the inputs and passes it through a "
        "nonlinearity h; the output unit forms a weighted sum of the hidden-unit outputs. "
        "Below, one input, three tanh hidden units and one linear output (a 1-3-1 network), "
        "for three random weight vectors w drawn as Network.init_weights does."
    )
    page.equation("a_j = Σ_i w_ji x_i + w_j0,    z_j = h(a_j) = tanh(a_j)", "5.2–5.3")
    page.equation("y_k(x, w) = Σ_j w_kj z_j + w_k0    (linear output, regression)", "5.7")
    net = Network((1, 3, 1), hidden="tanh", output="linear")
    x = np.linspace(-3, 3, 101 if page.quick else 301)[:, None]
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True)
    rows = []
    for col in range(3):
        w = net.init_weights(page.rng) * 2.0
        cache = net.forward(w, x)
        z = cache.inputs[1]
        y = cache.y[:, 0]
        (W1, b1), (W2, b2) = net.unpack(w)
        for j in range(3):
            axes[0, col].plot(x[:, 0], z[:, j], label=f"z_{j + 1}")
            axes[1, col].plot(x[:, 0], W2[0, j] * z[:, j], "--", lw=1)
        axes[1, col].plot(x[:, 0], y, "k", lw=2, label="y")
        axes[1, col].axhline(b2[0], color="grey", lw=0.5)
        axes[0, col].set_title(f"weight setting {col + 1}")
        rows.append([col + 1] + [f"{v:+.2f}" for v in (*W1[:, 0], *b1, *W2[0], b2[0])])
    axes[0, 0].set_ylabel("hidden outputs z_j = tanh(a_j)")
    axes[1, 0].set_ylabel("y = Σ w_kj z_j + w_k0  (dashed: terms)")
    axes[0, 0].legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("x")
    page.figure(fig, "units", "Top: the three hidden-unit outputs. Bottom: their weighted "
                "contributions (dashed) and the network output y (black).")
    page.table(["setting", "w11", "w21", "w31", "w10", "w20", "w30",
                "v11", "v12", "v13", "v10"], rows)
    page.text(
        "Each hidden unit is a sigmoid step whose position (−w_j0/w_j1) and steepness "
        "(w_j1) are set by its first-layer weights; the output layer adds them up. "
        "Training (§5.2) adjusts these steps to fit data."
    )
    page.record("n_weights", net.n_weights)
