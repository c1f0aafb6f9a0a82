"""§5.4: the Hessian of a trained network — exact, approximated, and what it costs."""

import time

import matplotlib.pyplot as plt
from matplotlib.colors import SymLogNorm
import numpy as np

from prmlnet import Network, hessian
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.4 The Hessian matrix: exact evaluation and its approximations"
SECTION = "5.4"


def _timed(f, repeats=1):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return out, best


def _spectrum_and_approximations(page):
    X, T = sinusoidal(40 if page.quick else 60, page.rng)
    M = 5 if page.quick else 8
    net = Network((1, M, 1), hidden="tanh", output="linear")
    alpha = 1e-2
    obj = Objective(net, X, T, alpha=alpha)
    res = minimize(obj, net.init_weights(page.rng), method="newton", gtol=1e-9, ftol=0.0,
                   max_iter=300, cg_rtol=1e-3)
    w = res.x
    W = net.n_weights
    page.text(
        f"A 1-{M}-1 tanh network trained on {len(X)} points of the sinusoidal data with weight "
        f"decay $\\alpha = {alpha}$ ($E = E_D + \\frac{{\\alpha}}{{2}}\\mathbf{{w}}^{{\\mathrm{{T}}}}\\mathbf{{w}}$), "
        "by the trust-region Newton–CG method of prmlnet.optim, which uses the exact products "
        f"$\\mathbf{{H}}\\mathbf{{v}}$: {res.nit} iterations, "
        f"$\\|\\nabla E\\|_\\infty = {np.max(np.abs(res.jac)):.1e}$. At this minimum we evaluate "
        "the Hessian of the data error $E_D$ (summed over the patterns) in every way §5.4 offers."
    )
    (H, t_exact) = _timed(lambda: hessian.exact(net, w, X, T), 3)
    H2 = hessian.exact_two_layer(net, w, X, T)
    Hr = hessian.exact(net, w, X, T, method="rop")
    Hfd, t_fd = _timed(lambda: hessian.finite_difference(net, w, X, T))
    G, t_op = _timed(lambda: hessian.outer_product(net, w, X, T), 3)
    d_bl, t_bl = _timed(lambda: hessian.diagonal(net, w, X, T), 3)
    d_ex, t_dx = _timed(lambda: hessian.exact_diagonal(net, w, X, T), 3)
    Ginv, t_inv = _timed(lambda: hessian.inverse_outer_product(net, w, X, T, alpha))
    I = np.eye(W)
    lam = np.linalg.eigvalsh(H)
    logdet = np.linalg.slogdet(H + alpha * I)

    def rel(A):
        return np.linalg.norm(A - H) / np.linalg.norm(H)

    def logdet_gap(A):
        sign, ld = np.linalg.slogdet(A + alpha * I)
        return float(ld - logdet[1]) if sign > 0 else None

    def logdet_err(A):
        gap = logdet_gap(A)
        return f"{gap:+.3f}" if gap is not None else "not PD"

    rows = [
        ["exact, block formulas (§5.4.5)", rel(H), "+0.000", f"{t_exact * 1e3:.2f}"],
        ["exact, two-layer formulas (5.93–5.95)", rel(H2), logdet_err(H2), "–"],
        ["exact, R-operator on identity columns", rel(Hr), logdet_err(Hr), "–"],
        ["central differences of ∇E (§5.4.4)", rel(Hfd), logdet_err(0.5 * (Hfd + Hfd.T)),
         f"{t_fd * 1e3:.2f}"],
        ["outer product Σ b bᵀ (5.84)", rel(G), logdet_err(G), f"{t_op * 1e3:.2f}"],
        ["diagonal, Becker–LeCun (5.79–5.81)", rel(np.diag(d_bl)), logdet_err(np.diag(d_bl)),
         f"{t_bl * 1e3:.2f}"],
        ["diagonal, exact", rel(np.diag(d_ex)), logdet_err(np.diag(d_ex)), f"{t_dx * 1e3:.2f}"],
    ]
    page.table(["Hessian of E_D", "‖A − H‖ / ‖H‖", "ln|A + αI| − ln|H + αI|", "ms"], rows)
    inv_err = np.linalg.norm(Ginv - np.linalg.inv(G + alpha * I)) / np.linalg.norm(Ginv)
    page.text(
        f"The sequential inverse of §5.4.3 — one pattern at a time, starting from $(\\alpha\\mathbf{{I}})^{{-1}}$ — "
        f"equals the direct inverse of the outer product plus $\\alpha\\mathbf{{I}}$ to a relative {inv_err:.1e} "
        f"({t_inv * 1e3:.1f} ms).")
    page.text(describe_logdet(logdet_gap(G), logdet_gap(np.diag(d_bl)),
                              float(np.max(np.abs(d_bl - d_ex)) / np.max(np.abs(d_ex)))))
    ev = hessian.extreme_eigenvalues(obj, w, k=1, rng=0)
    page.text(
        f"Extreme eigenvalues of the regularized Hessian $\\mathbf{{H}} + \\alpha\\mathbf{{I}}$ by Lanczos "
        "(scipy eigsh on a LinearOperator around $\\mathbf{H}\\mathbf{v}$, never forming "
        f"$\\mathbf{{H}}$): {ev.smallest[0]:.4g} and "
        f"{ev.largest[0]:.4g}; dense: {lam[0] + alpha:.4g} and {lam[-1] + alpha:.4g}. "
        f"Condition number {(lam[-1] + alpha) / (lam[0] + alpha):.2g}: the reason plain "
        "gradient descent crawls (§5.2.2)."
    )
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    for vals, style, label in ((lam, "ko-", "exact H"),
                               (np.linalg.eigvalsh(G), "s--", "outer product"),
                               (np.sort(d_bl), "^:", "Becker–LeCun diagonal")):
        ax.plot(np.arange(1, W + 1), np.abs(vals), style, ms=4, label=label, mfc="none")
        neg = vals < 0
        if np.any(neg):
            ax.plot(np.arange(1, W + 1)[neg], np.abs(vals[neg]), "rx", ms=7)
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index (ascending)")
    ax.set_ylabel("$|\\lambda|$  (red ×: negative)")
    ax.legend(fontsize=8)
    ax.set_title("spectrum at the minimum")
    vmax = np.abs(H).max()
    norm = SymLogNorm(linthresh=1e-5 * vmax, vmin=-vmax, vmax=vmax)
    for ax, A, title in ((axes[1], H, "exact H"), (axes[2], H - G, "H − outer product")):
        im = ax.imshow(A, cmap="RdBu_r", norm=norm)
        for s in net.layer_slices()[1:]:
            ax.axhline(s.start - 0.5, color="k", lw=0.5)
            ax.axvline(s.start - 0.5, color="k", lw=0.5)
        ax.set_title(title)
        ax.set_xlabel("weight index $j$")
        ax.set_ylabel("weight index $i$")
    fig.colorbar(im, ax=axes[1:], label="$H_{ij}$ (symmetric log scale)")
    page.figure(fig, "spectrum", "Not a figure of the book: left, eigenvalues of the exact "
                "Hessian of $E_D$ and of its approximations; right, the exact Hessian (layer "
                "blocks outlined) and what the outer-product approximation leaves out — the "
                "residual and $h''$ terms, which vanish only where the network fits exactly.",
                "Three panels: eigenvalue spectra on a log scale, and two colour maps of W by W "
                "matrices, the exact Hessian and its difference from the outer product.")
    page.record("exact_vs_finite_difference", rel(Hfd))
    page.record("two_layer_vs_blocks", rel(H2))
    page.record("outer_product_rel_error", rel(G))
    page.record("becker_lecun_rel_error", rel(np.diag(d_bl)))
    page.record("inverse_outer_product_error", inv_err)
    page.record("lanczos_largest_error", abs(ev.largest[0] - lam[-1] - alpha) / (lam[-1] + alpha))


def _cost(page):
    N = 50 if page.quick else 100
    Ms = [2, 4, 8, 16] if page.quick else [4, 8, 16, 32, 64, 128]
    rng = page.rng
    X = rng.standard_normal((N, 10))
    T = rng.standard_normal((N, 2))
    Ws, t_blocks, t_rop, t_fd = [], [], [], []
    for M in Ms:
        net = Network((10, M, 2))
        w = net.init_weights(rng)
        Ws.append(net.n_weights)
        t_blocks.append(_timed(lambda: hessian.exact(net, w, X, T), 3)[1])
        repeats = 3 if page.quick else 1
        t_rop.append(_timed(lambda: hessian.exact(net, w, X, T, method="rop"), repeats)[1])
        t_fd.append(_timed(lambda: hessian.finite_difference(net, w, X, T), repeats)[1])
    Ws = np.array(Ws, dtype=float)
    half = slice(len(Ws) // 2, None)
    slopes = {name: np.polyfit(np.log(Ws[half]), np.log(np.array(t)[half]), 1)[0]
              for name, t in (("blocks", t_blocks), ("rop", t_rop), ("fd", t_fd))}
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.loglog(Ws, t_blocks, "o-", label=f"exact, block formulas (slope {slopes['blocks']:.2f})")
    ax.loglog(Ws, t_rop, "s-", label=f"exact, R-operator columns (slope {slopes['rop']:.2f})")
    ax.loglog(Ws, t_fd, "^-", label=f"finite differences (slope {slopes['fd']:.2f})")
    ref = t_fd[-1] * (Ws / Ws[-1]) ** 2
    ax.loglog(Ws, ref, "k:", label="∝ W²")
    ax.set_xlabel("number of weights $W$")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=8)
    ax.set_title(f"cost of the full Hessian, 10-M-2 networks, N = {N}", fontsize=10)
    page.figure(fig, "cost", "Not a figure of the book: the time to form the full W×W Hessian "
                "three ways, measured on this machine (shared, so noisy), with slopes fitted "
                "over the larger half of the sizes.",
                "Log-log plot of seconds against the number of weights for three ways of "
                "forming the Hessian, with a dotted W-squared reference line.")
    page.table(["W", "blocks (s)", "R-op columns (s)", "finite differences (s)", "fd / blocks"],
               [[int(W), f"{a:.2e}", f"{b:.2e}", f"{c:.2e}", f"{c / a:.0f}"]
                for W, a, b, c in zip(Ws, t_blocks, t_rop, t_fd)])
    page.text(describe_cost(Ws, t_blocks, t_rop, t_fd, slopes))
    for name, s in slopes.items():
        page.record(f"slope_{name}", s)


def run(page):
    page.text(
        "The Hessian $\\mathbf{H} = \\nabla\\nabla E$ holds the second derivatives of the error with respect to every "
        "pair of weights. It decides how fast training converges, what Newton-type steps "
        "take, how weights may be pruned, and — in the Laplace approximation of §5.7 — the "
        "posterior's covariance and the model evidence. prmlnet computes it exactly, by the "
        "R-operator of §5.4.6 ($\\mathbf{H}\\mathbf{v}$ in about two gradients, with "
        "$\\mathcal{R}\\{\\cdot\\} = \\mathbf{v}^{\\mathrm{T}}\\nabla$) and by the layer-pair formulas "
        "that extend §5.4.5 to any depth, and also by every approximation of the chapter."
    )
    page.equation(r"\mathcal{R}\{a_j\} = \sum_i v_{ji} x_i, \qquad "
                  r"\mathcal{R}\{z_j\} = h'(a_j)\,\mathcal{R}\{a_j\}", "5.101–5.102")
    page.equation(r"\mathcal{R}\Big\{\frac{\partial E}{\partial w_{kj}}\Big\} = "
                  r"\mathcal{R}\{\delta_k\}\, z_j + \delta_k\, \mathcal{R}\{z_j\}", "5.110")
    page.equation(r"\mathbf{H} \simeq \sum_{n=1}^{N} \mathbf{b}_n \mathbf{b}_n^{\mathrm{T}}, "
                  r"\qquad \mathbf{b}_n = \nabla a_n", "5.84")
    _spectrum_and_approximations(page)
    _cost(page)
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import Network, hessian
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import minimize

X, T = sinusoidal(60, np.random.default_rng(0))
net = Network((1, 8, 1))                                    # M = 8 hidden units
w = minimize(Objective(net, X, T, alpha=1e-2), net.init_weights(0), "newton").x   # alpha
H = hessian.exact(net, w, X, T)                             # exact, §5.4.5
G = hessian.outer_product(net, w, X, T)                     # outer product (5.84)
for A, label in ((H, "exact H"), (G, "outer product")):
    plt.semilogy(np.abs(np.linalg.eigvalsh(A)), "o-", label=label)
plt.xlabel("eigenvalue index"); plt.ylabel("|eigenvalue|"); plt.legend()
plt.show()
""")


_METHODS = {"blocks": "the block formulas", "rop": "R-operator columns",
            "fd": "finite differences"}


def describe_cost(Ws, t_blocks, t_rop, t_fd, slopes):
    """The sentences about the cost figure, from the measured times and fitted slopes."""
    t = {"blocks": np.asarray(t_blocks), "rop": np.asarray(t_rop), "fd": np.asarray(t_fd)}
    fastest = min(t, key=lambda k: t[k][-1])
    ratio = t["fd"] / t["blocks"]
    return (
        "Fitted slopes of log time against log W: "
        + ", ".join(f"{_METHODS[k]} {slopes[k]:.2f}" for k in ("blocks", "rop", "fd"))
        + ". Every method does O(N W²) operations (the matrix has W² entries), so a slope "
        "below 2 means fixed per-call costs still dominate at these sizes and one above 2 that "
        "memory traffic grows faster than the arithmetic. "
        f"At the largest size (W = {int(Ws[-1])}) the fastest is {_METHODS[fastest]}; finite "
        f"differences take {ratio.min():.0f} to {ratio.max():.0f} times as long as the block "
        "formulas over the sizes measured: they run 2W back-propagations one after another, "
        "where the block formulas do one matrix product per pair of layers.")


def describe_logdet(gap_outer, gap_diag, diag_vs_exact):
    """The sentences on the log-determinant column, from the numbers (None: not PD)."""
    def say(gap):
        return "is not positive definite" if gap is None else f"is off by {gap:+.3g}"

    worse = gap_diag is None or (gap_outer is not None and abs(gap_diag) > abs(gap_outer))
    return (
        "The log-determinant column is what the evidence framework (§5.7) needs: the "
        f"outer-product approximation {say(gap_outer)}, the Becker–LeCun diagonal "
        f"{say(gap_diag)}" + (" — a network's Hessian is far from diagonal." if worse else ".")
        + f" On the diagonal itself Becker–LeCun and the exact diagonal differ by a relative "
        f"{diag_vs_exact:.1e}"
        + (": for two layers and one output the recursion neglects nothing there, and all of "
           "its error is the off-diagonal part of H." if diag_vs_exact < 1e-8 else "."))
