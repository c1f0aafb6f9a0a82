"""§5.3: error backpropagation with the numbers of a small net (Figure 5.7), its cost, and the Jacobian."""

import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle

from prmlnet import Network
from prmlnet.testing import central_differences, relative_error

TITLE = "5.3 Error backpropagation and the Jacobian matrix (Figure 5.7)"
SECTION = "5.3"

X1 = np.array([[0.5, -1.0]])          # the one pattern of the worked example
T1 = np.array([[1.0, 0.0]])
J_UNIT = 0                            # the hidden unit Figure 5.7 looks at (z_1)


def worked_example(net, w):
    """Forward and backward quantities of one pattern, from the formulas of §5.3.1.

    Returns a dict of arrays: a and z of the hidden units, y, the output deltas
    δ_k = y_k − t_k (5.54) and the hidden deltas δ_j = h'(a_j) Σ_k w_kj δ_k (5.56).
    """
    (W1, b1), (W2, b2) = net.unpack(w)
    x, t = X1[0], T1[0]
    a = W1 @ x + b1                                 # (5.48)
    z = np.tanh(a)                                  # (5.49)
    y = W2 @ z + b2                                 # linear outputs
    delta_k = y - t                                 # (5.54)
    delta_j = (1 - z ** 2) * (W2.T @ delta_k)       # (5.56), h'(a) = 1 − tanh²(a)
    return {"a": a, "z": z, "y": y, "delta_k": delta_k, "delta_j": delta_j,
            "W1": W1, "W2": W2}


def _figure_5_7(page, ex):
    j = J_UNIT
    fig, ax = plt.subplots(figsize=(9, 4.8))
    pos_i = [(0.0, 1.2), (0.0, -1.2)]
    pos_j = (3.2, 0.0)
    pos_k = [(6.4, 1.5), (6.4, -1.5)]
    r = 0.42

    def node(p, text, face="white"):
        ax.add_patch(Circle(p, r, fc=face, ec="black", lw=1.3, zorder=3))
        ax.text(*p, text, ha="center", va="center", fontsize=12, zorder=4)

    def arrow(p, q, color, style="-", lw=1.6, bend=0.0):
        p, q = np.asarray(p, float), np.asarray(q, float)
        u = (q - p) / np.linalg.norm(q - p)
        ax.annotate("", q - r * u, p + r * u, zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, linestyle=style,
                                    connectionstyle=f"arc3,rad={bend}"))

    for i, p in enumerate(pos_i):
        node(p, f"$x_{i + 1}$")
        arrow(p, pos_j, "0.3")
        mid = 0.5 * (np.asarray(p) + pos_j)
        ax.text(mid[0], mid[1] + 0.25, f"$w^{{(1)}}_{{{j + 1}{i + 1}}} = {ex['W1'][j, i]:+.3f}$",
                ha="center", fontsize=9)
        ax.text(p[0] - 0.55, p[1], f"{X1[0, i]:+.2f}", ha="right", va="center", fontsize=10)
    node(pos_j, f"$z_{j + 1}$", face="#fde8c8")
    ax.text(pos_j[0], pos_j[1] + 0.55,
            f"$a_{j + 1} = {ex['a'][j]:+.3f}$\n$z_{j + 1} = \\tanh(a_{j + 1}) = {ex['z'][j]:+.3f}$",
            ha="center", va="bottom", fontsize=9)
    for k, p in enumerate(pos_k):
        node(p, f"$y_{k + 1}$")
        arrow(pos_j, p, "0.3")
        arrow(p, pos_j, "tab:red", style="--", lw=1.4, bend=-0.3)
        mid = 0.35 * np.asarray(pos_j) + 0.65 * np.asarray(p)
        ax.text(mid[0] - 0.2, mid[1] + (0.35 if k == 0 else -0.6),
                f"$w^{{(2)}}_{{{k + 1}{j + 1}}} = {ex['W2'][k, j]:+.3f}$", ha="center", fontsize=9)
        ax.text(p[0] + 0.55, p[1],
                f"$y_{k + 1} = {ex['y'][k]:+.3f}$, $t_{k + 1} = {T1[0, k]:g}$\n"
                f"$\\delta_{k + 1} = y_{k + 1} - t_{k + 1} = {ex['delta_k'][k]:+.3f}$",
                ha="left", va="center", fontsize=9, color="tab:red")
    s = ex["W2"][:, j] @ ex["delta_k"]
    ax.text(pos_j[0], 2.75,
            f"$\\delta_{j + 1} = h'(a_{j + 1}) \\sum_k w_{{k{j + 1}}} \\delta_k = "
            f"{1 - ex['z'][j] ** 2:.3f} \\times ({s:+.3f}) = {ex['delta_j'][j]:+.4f}$",
            ha="center", fontsize=11, color="tab:red")
    ax.annotate("forward", (2.2, -2.6), xytext=(0.8, -2.6), fontsize=9, va="center",
                arrowprops=dict(arrowstyle="-|>", color="0.3"))
    ax.annotate("errors back", (4.6, -2.6), xytext=(6.2, -2.6), fontsize=9, va="center",
                color="tab:red", arrowprops=dict(arrowstyle="-|>", color="tab:red", ls="--"))
    ax.set_xlim(-1.6, 10.2)
    ax.set_ylim(-3.0, 3.3)
    ax.set_aspect("equal")
    ax.axis("off")
    page.figure(fig, "fig-5-7",
                "Figure 5.7: the $\\delta$ of hidden unit $j$ is computed from the $\\delta_k$ "
                "of the units it sends to. Unlike the book's schematic, every number is that of "
                "the worked example below (a 2-3-2 network, one pattern); only the links of "
                "$z_1$ are drawn.",
                "Diagram of one hidden unit receiving two inputs and feeding two outputs, with "
                "the weights, activations and output errors written on it, and dashed red "
                "arrows carrying the errors back to the hidden unit.")


def _cost(page):
    """Seconds for one gradient by back-propagation and by central differences, against W."""
    N = 100
    Ms = [2, 8, 32] if page.quick else [4, 8, 16, 32, 64, 128, 256]
    rng = page.rng
    X = rng.standard_normal((N, 4))
    T = rng.standard_normal((N, 2))
    Ws, t_bp, t_fd = [], [], []
    for M in Ms:
        net = Network((4, M, 2))
        w = net.init_weights(rng)
        Ws.append(net.n_weights)
        best = np.inf
        for _ in range(5):
            t0 = time.perf_counter()
            net.gradient(w, X, T)
            best = min(best, time.perf_counter() - t0)
        t_bp.append(best)
        t0 = time.perf_counter()
        central_differences(lambda v: net.error(v, X, T), w)
        t_fd.append(time.perf_counter() - t0)
    Ws = np.array(Ws, float)
    half = slice(len(Ws) // 2, None)
    slope_bp = float(np.polyfit(np.log(Ws[half]), np.log(np.array(t_bp)[half]), 1)[0])
    slope_fd = float(np.polyfit(np.log(Ws[half]), np.log(np.array(t_fd)[half]), 1)[0])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.loglog(Ws, t_bp, "o-", color="tab:red", label=f"back-propagation (fitted slope {slope_bp:.2f})")
    ax.loglog(Ws, t_fd, "s--", color="0.3", label=f"central differences (fitted slope {slope_fd:.2f})")
    ax.set_xlabel("number of weights $W$")
    ax.set_ylabel("seconds per gradient")
    ax.legend(fontsize=8)
    page.figure(fig, "cost",
                "Not a figure of the book (§5.3.3 states it in words): the time for one "
                f"gradient of 4-M-2 networks on N = {N} patterns, by back-propagation and by "
                "central differences (2W error evaluations), measured on this machine.",
                "Log-log plot of seconds per gradient against the number of weights: the "
                "back-propagation line stays low and flat, the central-differences line "
                "rises steeply.")
    ratio = t_fd[-1] / t_bp[-1]
    page.text(
        f"Fitted over the larger half of the sizes, the time of back-propagation grows as "
        f"$W^{{{slope_bp:.2f}}}$ and that of central differences as $W^{{{slope_fd:.2f}}}$ "
        f"(the book: $O(W)$ against $O(W^2)$); at $W = {int(Ws[-1])}$ central differences "
        f"are {ratio:.0f} times slower. Timings on a shared machine are noisy, and for small "
        "W fixed overheads hide the growth.")
    page.record("cost_slope_backprop", slope_bp)
    page.record("cost_slope_differences", slope_fd)


def _jacobian(page, net, w):
    page.text(
        "The same backward pass, started from the outputs instead of the error, gives the "
        "Jacobian $J_{ki} = \\partial y_k/\\partial x_i$ (§5.3.4): how sensitive each output "
        "is to each input, and the matrix that carries error signals back into an earlier "
        "module of a larger system (Figure 5.8).")
    page.equation(r"J_{ki} = \frac{\partial y_k}{\partial x_i} = \sum_j w_{ji} "
                  r"\frac{\partial y_k}{\partial a_j}, \qquad \frac{\partial y_k}{\partial a_j} "
                  r"= h'(a_j) \sum_l w_{lj} \frac{\partial y_k}{\partial a_l}", "5.73–5.74")
    J = net.jacobian(w, X1)[0]
    J_fd = central_differences(lambda x: net.predict(w, x[None])[0], X1[0])
    err = relative_error(J, J_fd)
    page.table(["", "∂/∂x1", "∂/∂x2"],
               [[f"y{k + 1}", f"{J[k, 0]:+.6f}", f"{J[k, 1]:+.6f}"] for k in range(2)])
    page.text(f"At the worked example's input, these back-propagated derivatives agree with "
              f"central differences of $y(\\mathbf{{x}})$ to a relative {err:.1e}.")
    page.record("jacobian_vs_differences", err)


def run(page):
    page.text(
        "Back-propagation evaluates the gradient of the error in two passes. Forward: every "
        "unit forms its weighted sum and its output. Backward: the output units' errors "
        "$\\delta_k$ are sent back along the same links, each hidden unit collecting its "
        "$\\delta_j$ from the units it feeds; then every derivative is a product of a "
        "$\\delta$ and an input.")
    page.equation(r"\delta_j \equiv \frac{\partial E_n}{\partial a_j}, \qquad "
                  r"\frac{\partial E_n}{\partial w_{ji}} = \delta_j z_i", "5.51, 5.53")
    page.equation(r"\delta_k = y_k - t_k, \qquad \delta_j = h'(a_j) \sum_k w_{kj} \delta_k", "5.54, 5.56")
    page.equation(r"\frac{\partial E}{\partial w_{ji}} = \sum_n \frac{\partial E_n}{\partial w_{ji}}", "5.57")
    net = Network((2, 3, 2), hidden="tanh", output="linear")
    w = net.init_weights(page.rng)
    ex = worked_example(net, w)
    page.text(
        f"A worked example: a 2-3-2 tanh network with weights from init_weights, one pattern "
        f"$\\mathbf{{x}} = ({X1[0, 0]:g}, {X1[0, 1]:g})$ with target "
        f"$\\mathbf{{t}} = ({T1[0, 0]:g}, {T1[0, 1]:g})$ and the sum-of-squares error.")
    _figure_5_7(page, ex)
    page.table(["hidden unit j", "a_j", "z_j", "δ_j"],
               [[j + 1, f"{ex['a'][j]:+.5f}", f"{ex['z'][j]:+.5f}", f"{ex['delta_j'][j]:+.6f}"]
                for j in range(3)])
    # Independent checks: the library's gradient and central differences of E.
    g = net.gradient(w, X1, T1)
    (gW1, gb1), (gW2, gb2) = net.unpack(g)
    g_fd = central_differences(lambda v: net.error(v, X1, T1), w)
    (fW1, fb1), _ = net.unpack(g_fd)
    page.record("delta_j_vs_differences", relative_error(ex["delta_j"], fb1))   # ∂E/∂b_j = δ_j
    page.record("outer_product_vs_library", relative_error(np.outer(ex["delta_j"], X1[0]), gW1))
    page.record("gradient_vs_differences", relative_error(g, g_fd))
    page.text(
        "Since a bias has input 1, $\\partial E/\\partial w_{j0} = \\delta_j$: the hidden "
        "deltas of the figure agree with central differences of $E$ with respect to the "
        f"biases to a relative {page.numbers['delta_j_vs_differences']:.1e}, and "
        "$\\delta_j x_i$ with the library's gradient to a relative "
        f"{page.numbers['outer_product_vs_library']:.1e}. The whole gradient "
        f"({net.n_weights} numbers) agrees with central differences to "
        f"{page.numbers['gradient_vs_differences']:.1e}.")
    _cost(page)
    _jacobian(page, net, w)
    page.try_it("""
import numpy as np
from prmlnet import Network
from prmlnet.testing import central_differences, relative_error

net = Network((2, 3, 2), hidden="tanh")                  # sizes: the knob
w = net.init_weights(0)
x, t = np.array([[0.5, -1.0]]), np.array([[1.0, 0.0]])
(W1, b1), (W2, b2) = net.unpack(w)
z = np.tanh(W1 @ x[0] + b1)                              # forward (5.48), (5.49)
delta_k = W2 @ z + b2 - t[0]                             # (5.54)
delta_j = (1 - z ** 2) * (W2.T @ delta_k)                # (5.56)
g_b1 = net.unpack(net.gradient(w, x, t))[0][1]           # dE/db_j = delta_j
print(delta_j, g_b1)
print(relative_error(net.jacobian(w, x)[0],
                     central_differences(lambda v: net.predict(w, v[None])[0], x[0])))
""")
