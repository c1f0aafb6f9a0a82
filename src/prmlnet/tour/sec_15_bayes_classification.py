"""§5.7.3: a Bayesian classifier — α from the evidence, and the moderated predictive (Figs 5.22, 5.23)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network, bayes, datasets
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.7 Bayesian neural networks (2): classification and moderated outputs"


def run(page):
    quick = page.quick
    rng = page.rng
    page.text(
        "For a network with one logistic-sigmoid output the likelihood is the cross-entropy "
        "and there is no noise precision β: the Laplace approximation uses A = αI + H with "
        "H the Hessian of the cross-entropy, and α is re-estimated by the same γ formula. "
        "Below, a two-layer network with 8 tanh hidden units on the synthetic two-class data, "
        "once by maximum likelihood (α = 0) and once with α from the evidence framework."
    )
    page.equation("ln p(D|α) ≃ −E(w_MAP) − ½ ln|A| + (W/2) ln α", "5.183")
    N = 120 if quick else 200
    X, T = datasets.two_class(N, rng)
    Xtest, Ttest = datasets.two_class(2000 if quick else 10000, rng)
    net = Network((2, 8, 1), hidden="tanh", output="logistic")
    w0 = net.init_weights(rng)

    # Maximum likelihood: no prior, trained hard.
    ml = minimize(Objective(net, X, T), w0, method="bfgs", max_iter=600 if quick else 3000,
                  gtol=1e-8)
    # The evidence loop from a weak prior (the book starts at α = 0).
    res = bayes.evidence_loop(net, X, T, alpha=1e-3, w0=w0, n_outer=8 if quick else 30,
                              tol=1e-3, max_iter=400 if quick else 1500)

    lim = (-2.5, 2.5)
    n_grid = 80 if quick else 200
    g = np.linspace(*lim, n_grid)
    gx, gy = np.meshgrid(g, g)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    bayes_p = datasets.two_class_posterior(grid).reshape(gx.shape)
    p_ml = net.predict(ml.x, grid)[:, 0].reshape(gx.shape)
    p_map = res.predict_proba(grid, moderated=False)[:, 0].reshape(gx.shape)
    p_mod = res.predict_proba(grid)[:, 0].reshape(gx.shape)

    def scatter(ax):
        for k, c in ((0, "tab:red"), (1, "tab:blue")):
            sel = T[:, 0] == k
            ax.plot(X[sel, 0], X[sel, 1], "o" if k else "x", color=c, ms=3.5, mfc="none")
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal")

    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    scatter(ax)
    ax.contour(gx, gy, bayes_p, [0.5], colors="g", linewidths=2)
    ax.contour(gx, gy, p_ml, [0.5], colors="k", linewidths=1.2)
    ax.contour(gx, gy, p_map, [0.5], colors="r", linewidths=1.6)
    ax.set_title("green: Bayes optimal, black: ML, red: evidence α", fontsize=9)
    page.figure(fig, "fig-5-22", "Figure 5.22: the decision boundary of the maximum-likelihood "
                "network (black) over-fits; with α found by the evidence framework (red) it "
                "stays close to the optimal boundary (green).")

    err = {name: float(np.mean((net.predict(w, Xtest)[:, 0] > 0.5) != (Ttest[:, 0] == 1)))
           for name, w in (("ml", ml.x), ("evidence", res.w))}
    bayes_err = float(np.mean((datasets.two_class_posterior(Xtest) > 0.5) != (Ttest[:, 0] == 1)))
    page.table(["network", "α", "γ (of W = 33)", "test error"], [
        ["maximum likelihood", 0.0, "—", err["ml"]],
        ["evidence framework", res.alpha["w"], res.gamma_total, err["evidence"]],
        ["Bayes optimal", "—", "—", bayes_err],
    ])

    page.text(
        "The predictive distribution averages the sigmoid over the posterior. Linearising "
        "the output activation a about w_MAP makes it Gaussian with variance σ_a² = bᵀA⁻¹b, "
        "b = ∇_w a; the probit approximation then gives a closed form. Moderation leaves "
        "the 0.5 contour in place and pulls every other probability towards 0.5 where the "
        "weights are uncertain — away from the data."
    )
    page.equation("p(t=1|x,D) ≃ σ(κ(σ_a²) a_MAP),   κ(σ²) = (1 + πσ²/8)^(−1/2),   "
                  "σ_a² = bᵀA⁻¹b", "5.190")
    levels = [0.1, 0.3, 0.5, 0.7, 0.9]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, p, title in ((axes[0], p_map, "MAP network y(x, w_MAP)"),
                         (axes[1], p_mod, "moderated σ(κ(σ_a²) a_MAP)")):
        scatter(ax)
        cs = ax.contour(gx, gy, p, levels, colors=["tab:red", "tab:red", "g", "tab:blue",
                                                   "tab:blue"], linewidths=[1, 1, 2, 1, 1])
        ax.clabel(cs, fmt="%.1f", fontsize=7)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    page.figure(fig, "fig-5-23", "Figure 5.23: contours p = 0.1, 0.3, 0.5, 0.7, 0.9 of the "
                "MAP network (left) and of the moderated predictive (right). The 0.5 contour "
                "is the same; the others spread out.")
    moved = float(np.mean(np.abs(p_mod - 0.5) < np.abs(p_map - 0.5)))
    page.record("alpha", res.alpha["w"])
    page.record("gamma", res.gamma_total)
    page.record("test_error_ml", err["ml"])
    page.record("test_error_evidence", err["evidence"])
    page.record("test_error_bayes", bayes_err)
    page.record("fraction_moderated_towards_half", moved)
