"""§5.2.1–5.2.2: the error surface over two weights, and its quadratic approximation (Figs 5.5, 5.6)."""

import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import minimum_filter

from prmlnet import Network
from prmlnet.objective import Objective
from prmlnet.optim import minimize
from prmlnet.testing import central_differences

TITLE = "5.2.1–5.2.2 The error surface and its local quadratic approximation (Figures 5.5 and 5.6)"
SECTION = "5.2.1"

SLICE = (0, 1)          # the first-layer weights w_11, w_21 of the two hidden units
ALPHA = 0.01


def problem():
    """25 equally spaced inputs on [-1, 1] and a target made of two tanh steps."""
    X = np.linspace(-1, 1, 25)[:, None]
    return X, np.tanh(4 * X - 1.5) - 0.6 * np.tanh(3 * X + 1.5)


def slice_minima(E2, grid):
    """Interior local minima of E over a 2-D grid, refined by BFGS on the slice.

    Returns a list of (theta, E) sorted by E, duplicates (closer than 1e-3) merged.
    """
    Z = np.array([[E2(np.array([a, b]))[0] for a in grid] for b in grid])
    is_min = Z == minimum_filter(Z, size=5, mode="nearest")
    is_min[[0, -1], :] = is_min[:, [0, -1]] = False
    found = []
    for i, j in zip(*np.nonzero(is_min)):
        res = minimize(E2, np.array([grid[j], grid[i]]), "bfgs", gtol=1e-10)
        if not any(np.linalg.norm(res.x - t) < 1e-3 for t, _ in found):
            found.append((res.x, float(res.fun)))
    return sorted(found, key=lambda f: f[1]), Z


def run(page):
    page.text(
        "Training searches weight space for a point where the error is small. Figure 5.5 of "
        "the book sketches $E(\\mathbf{w})$ over two weights; here it is computed. A 1-2-1 tanh "
        f"network with weight decay $\\alpha = {ALPHA}$ is trained on 25 points of a target made "
        "of two tanh steps; then every weight but the two first-layer weights $w_{11}$, $w_{21}$ "
        "is held at its trained value, and the error is evaluated over a grid of those two.")
    X, T = problem()
    net = Network((1, 2, 1), hidden="tanh")
    obj = Objective(net, X, T, alpha=ALPHA)
    best = min((minimize(obj, net.init_weights(page.rng), "bfgs", gtol=1e-10)
                for _ in range(3 if page.quick else 5)), key=lambda r: r.fun)
    w_star = best.x
    idx = list(SLICE)

    def E2(theta):
        v = w_star.copy()
        v[idx] = theta
        E, g = obj(v)
        return E, g[idx]

    lim = 8.0
    grid = np.linspace(-lim, lim, 41 if page.quick else 81)
    minima, Z = slice_minima(E2, grid)
    (wB, EB) = minima[0]
    wA, EA = minima[1] if len(minima) > 1 else (None, None)
    wC = np.array([-4.0, 3.0])
    EC, gC = E2(wC)
    page.record("n_minima", len(minima))
    page.record("E_B", EB)
    if EA is not None:
        page.record("E_A", EA)

    # -- Figure 5.5 ---------------------------------------------------------------
    fig = plt.figure(figsize=(12, 4.8))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    g1, g2 = np.meshgrid(grid, grid)
    ax3.plot_surface(g1, g2, np.log10(Z), cmap="viridis", rstride=1, cstride=1, linewidth=0,
                     antialiased=False, alpha=0.9)
    ax3.set_xlabel("$w_{11}$")
    ax3.set_ylabel("$w_{21}$")
    ax3.set_zlabel("$\\log_{10} E(\\mathbf{w})$")
    ax3.view_init(elev=38, azim=-60)
    ax = fig.add_subplot(1, 2, 2)
    cs = ax.contour(g1, g2, Z, levels=np.quantile(Z, np.linspace(0.02, 0.9, 14)), cmap="viridis")
    fig.colorbar(cs, ax=ax, label="$E(\\mathbf{w})$")
    ax.plot(*wB, "k*", ms=12)
    ax.annotate("$w_B$ (global)", wB, xytext=(8, -14), textcoords="offset points")
    if wA is not None:
        ax.plot(*wA, "ko", ms=7)
        ax.annotate("$w_A$ (local)", wA, xytext=(6, 6), textcoords="offset points")
    u = gC / np.linalg.norm(gC)
    ax.plot(*wC, "ks", ms=6)
    ax.annotate("", wC + 1.6 * u, wC, arrowprops=dict(arrowstyle="->", lw=2, color="tab:red"))
    ax.annotate("$w_C$, $\\nabla E$", wC, xytext=(-10, -16), textcoords="offset points",
                color="tab:red")
    ax.set_xlabel("$w_{11}$")
    ax.set_ylabel("$w_{21}$")
    ax.set_aspect("equal")
    fig.tight_layout()
    n_txt = ("a local minimum $w_A$ and the global minimum $w_B$" if wA is not None
             else "its only minimum $w_B$")
    page.figure(fig, "fig-5-5",
                "Figure 5.5: the error over a two-weight slice of a real network (left, "
                f"$\\log_{{10}} E$ as a surface; right, contours of $E$), with {n_txt} and, at a point $w_C$, the "
                "direction of the local gradient $\\nabla E$ (red). The book's surface is a sketch; "
                "this one is computed, and the other five weights are held fixed.",
                "A 3-D error surface over two weights with two valleys, and the same surface as a "
                "contour map marking a local minimum, the global minimum and a gradient arrow.")
    if wA is not None:
        page.text(
            f"On this slice the error has {len(minima)} minima. The global one, $w_B$ at "
            f"({wB[0]:.2f}, {wB[1]:.2f}), has $E = {EB:.3g}$; the local one, $w_A$ at "
            f"({wA[0]:.2f}, {wA[1]:.2f}), has $E = {EA:.3g}$, {EA / EB:.0f} times higher, and "
            "the gradient there is zero as well: a descent method started in its valley ends "
            "in it. Which minimum training reaches depends on where it starts (§5.2.1).")

    # -- Figure 5.6: the quadratic approximation near w_B ------------------------------
    H = obj.hessian(w_star)[np.ix_(idx, idx)]                # exact, data term + prior
    H_fd = central_differences(lambda t: E2(t)[1], w_star[idx])
    H_fd = 0.5 * (H_fd + H_fd.T)
    lam, U = np.linalg.eigh(H)
    page.record("hessian_vs_differences", np.linalg.norm(H - H_fd) / np.linalg.norm(H))
    page.record("lambda_1", lam[0])
    page.record("lambda_2", lam[1])
    page.record("grad_at_w_star", np.max(np.abs(best.jac)))
    page.equation(r"E(\mathbf{w}) \simeq E(\mathbf{w}^\star) + \frac{1}{2}(\mathbf{w}-\mathbf{w}^\star)^{\mathrm{T}}"
                  r"\mathbf{H}(\mathbf{w}-\mathbf{w}^\star), \qquad \mathbf{H}\mathbf{u}_i = \lambda_i\mathbf{u}_i",
                  "5.32–5.33")
    r = 1.3 * np.sqrt(2 * 0.5 / lam[0])                     # the outer contour's long semi-axis
    s1 = np.linspace(wB[0] - r, wB[0] + r, 61 if page.quick else 121)
    s2 = np.linspace(wB[1] - r, wB[1] + r, 61 if page.quick else 121)
    h1, h2 = np.meshgrid(s1, s2)
    D = np.stack([h1 - w_star[idx][0], h2 - w_star[idx][1]], axis=-1)
    Q = best.fun + 0.5 * np.einsum("...i,ij,...j->...", D, H, D)
    Etrue = np.array([[E2(np.array([a, b]))[0] for a in s1] for b in s2])
    levels = best.fun + np.array([0.02, 0.08, 0.2, 0.5])
    fig, ax = plt.subplots(figsize=(6.2, 5.6))
    ax.contour(h1, h2, Etrue, levels=levels, colors="black", linewidths=1.2)
    ax.contour(h1, h2, Q, levels=levels, colors="tab:red", linestyles="--", linewidths=1.2)
    c0 = w_star[idx]
    for i, name in enumerate(("$u_1$", "$u_2$")):
        half = np.sqrt(2 * (levels[1] - best.fun) / lam[i])     # semi-axis at the second level
        tip = c0 + half * U[:, i]
        ax.annotate("", tip, c0, arrowprops=dict(arrowstyle="->", lw=1.8, color="tab:blue"))
        ax.annotate(name, tip, xytext=(-14 if U[0, i] < 0 else 4, 4), textcoords="offset points",
                    color="tab:blue", fontsize=11)
    ax.plot(*c0, "k*", ms=10)
    ax.plot([], [], "k-", label="true $E(\\mathbf{w})$")
    ax.plot([], [], "--", color="tab:red", label="quadratic approximation")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("$w_{11}$")
    ax.set_ylabel("$w_{21}$")
    ax.set_aspect("equal")
    page.figure(fig, "fig-5-6",
                "Figure 5.6: near the minimum $w^\\star = w_B$, contours of the true error "
                "(black) and of its quadratic approximation (red dashed), with the eigenvectors "
                "$u_1$, $u_2$ of the exact 2×2 Hessian of the slice drawn to the second contour: "
                "semi-axes in proportion to $\\lambda_i^{-1/2}$. The book's ellipses are "
                "schematic; these are computed, and the outer contours show where the "
                "quadratic model stops being good.",
                "Nested contour lines around a minimum, black for the true error and dashed red "
                "ellipses for the quadratic model, with two blue arrows along the ellipse axes.")
    page.text(
        f"The Hessian of the slice at $w^\\star$ has eigenvalues $\\lambda_1 = {lam[0]:.3g}$ and "
        f"$\\lambda_2 = {lam[1]:.3g}$, so the ellipses are {np.sqrt(lam[1] / lam[0]):.2g} times "
        "longer along $u_1$ than along $u_2$; the exact Hessian (from the R-operator) agrees "
        "with central differences of the gradient to a relative "
        f"{page.numbers['hessian_vs_differences']:.1e}.")
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import Network
from prmlnet.objective import Objective
from prmlnet.optim import minimize

X = np.linspace(-1, 1, 25)[:, None]
T = np.tanh(4 * X - 1.5) - 0.6 * np.tanh(3 * X + 1.5)
net = Network((1, 2, 1))
obj = Objective(net, X, T, alpha=0.01)
w = minimize(obj, net.init_weights(0), "bfgs").x
i, j = 0, 1                                        # which two weights span the slice


def E(a, b):
    v = w.copy()
    v[[i, j]] = a, b
    return obj(v)[0]


g = np.linspace(-8, 8, 41)
plt.contour(g, g, [[E(a, b) for a in g] for b in g], levels=30)
plt.xlabel(f"w[{i}]"); plt.ylabel(f"w[{j}]")
plt.show()
""")
