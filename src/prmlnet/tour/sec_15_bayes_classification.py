"""§5.7.3: a Bayesian classifier — α from the evidence, and the moderated predictive (Figs 5.22, 5.23)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network, bayes, datasets
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.7.3 Bayesian neural networks (2): classification and moderated outputs (Figures 5.22, 5.23)"
SECTION = "5.7.3"


def run(page):
    quick = page.quick
    rng = page.rng
    page.text(
        "For a network with one logistic-sigmoid output the likelihood is the cross-entropy "
        "and there is no noise precision $\\beta$: the Laplace approximation uses "
        "$\\mathbf{A} = \\alpha\\mathbf{I} + \\mathbf{H}$ with $\\mathbf{H}$ the Hessian of the "
        "cross-entropy, and $\\alpha$ is re-estimated by the same $\\gamma$ formula. "
        "Below, a two-layer network with 8 tanh hidden units on the synthetic two-class data, "
        "once by maximum likelihood ($\\alpha = 0$) and once with $\\alpha$ from the evidence "
        "framework."
    )
    page.equation(r"\ln p(\mathcal{D}|\alpha) \simeq -E(\mathbf{w}_{\mathrm{MAP}}) - \frac{1}{2}\ln|\mathbf{A}| "
                  r"+ \frac{W}{2}\ln\alpha", "5.183")
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
        sel = T[:, 0] == 1
        ax.plot(X[sel, 0], X[sel, 1], "x", color="tab:red", ms=3.5, label="$C_1$ ($t = 1$)")
        ax.plot(X[~sel, 0], X[~sel, 1], "o", color="tab:blue", ms=3.5, mfc="none",
                label="$C_2$ ($t = 0$)")
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")

    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    scatter(ax)
    ax.contour(gx, gy, bayes_p, [0.5], colors="tab:green", linewidths=2)
    ax.contour(gx, gy, p_ml, [0.5], colors="k", linewidths=1.2)
    ax.contour(gx, gy, p_map, [0.5], colors="tab:red", linewidths=1.6)
    ax.plot([], [], color="tab:green", lw=2, label="Bayes optimal")
    ax.plot([], [], color="k", lw=1.2, label="maximum likelihood")
    ax.plot([], [], color="tab:red", lw=1.6, label="evidence $\\alpha$")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)

    err = {name: float(np.mean((net.predict(w, Xtest)[:, 0] > 0.5) != (Ttest[:, 0] == 1)))
           for name, w in (("ml", ml.x), ("evidence", res.w))}
    bayes_err = float(np.mean((datasets.two_class_posterior(Xtest) > 0.5) != (Ttest[:, 0] == 1)))
    page.figure(fig, "fig-5-22", "Figure 5.22: the decision boundary of the maximum-likelihood "
                "network (black), the network with $\\alpha$ found by the evidence framework "
                "(red) and the optimal boundary (green). As in the book (8 hidden units); the "
                f"evidence loop starts from $\\alpha = 10^{{-3}}$ rather than 0. {describe_boundaries(err, bayes_err)}",
                "Scatter of two classes with three decision boundaries: a wiggly black one, a "
                "smooth red one and the green optimal one.")
    page.table(["network", "α", "γ (of W = 33)", "test error"], [
        ["maximum likelihood", 0.0, "—", err["ml"]],
        ["evidence framework", res.alpha["w"], res.gamma_total, err["evidence"]],
        ["Bayes optimal", "—", "—", bayes_err],
    ])

    page.text(
        "The predictive distribution averages the sigmoid over the posterior. Linearising "
        "the output activation $a$ about $\\mathbf{w}_{\\mathrm{MAP}}$ makes it Gaussian with "
        "variance $\\sigma_a^2$, $\\mathbf{b} = \\nabla_{\\mathbf{w}} a$; the probit approximation "
        "then gives a closed form. Moderation leaves "
        "the 0.5 contour in place and pulls every other probability towards 0.5 where the "
        "weights are uncertain — away from the data."
    )
    page.equation(r"p(t=1|\mathbf{x},\mathcal{D}) \simeq \sigma\big(\kappa(\sigma_a^2)\, a_{\mathrm{MAP}}\big), "
                  r"\qquad \kappa(\sigma^2) = \Big(1 + \frac{\pi\sigma^2}{8}\Big)^{-1/2}, \qquad "
                  r"\sigma_a^2 = \mathbf{b}^{\mathrm{T}}\mathbf{A}^{-1}\mathbf{b}", "5.190")
    levels = [0.1, 0.3, 0.5, 0.7, 0.9]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, p, title in ((axes[0], p_map, "MAP network $y(\\mathbf{x}, \\mathbf{w}_{\\mathrm{MAP}})$"),
                         (axes[1], p_mod, "moderated $\\sigma(\\kappa(\\sigma_a^2)\\, a_{\\mathrm{MAP}})$")):
        scatter(ax)
        cs = ax.contour(gx, gy, p, levels, colors=["tab:blue", "tab:blue", "black", "tab:red",
                                                   "tab:red"], linewidths=[1, 1, 2, 1, 1])
        ax.clabel(cs, fmt="%.1f", fontsize=7)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    moved = float(np.mean(np.abs(p_mod - 0.5) < np.abs(p_map - 0.5)))
    page.figure(fig, "fig-5-23", "Figure 5.23: contours $p = 0.1, 0.3, 0.5, 0.7, 0.9$ of the "
                "MAP network (left) and of the moderated predictive (right), as in the book; "
                "red towards class $C_1$, blue towards $C_2$, black the 0.5 contour. "
                f"The 0.5 contour is the same; moderation moves {100 * moved:.0f}% of the grid "
                "points' probabilities towards 0.5, and the other contours spread out.",
                "Two panels of the same data with five probability contours each; on the right "
                "the outer contours lie further from the central 0.5 contour.")
    page.record("alpha", res.alpha["w"])
    page.record("gamma", res.gamma_total)
    page.record("test_error_ml", err["ml"])
    page.record("test_error_evidence", err["evidence"])
    page.record("test_error_bayes", bayes_err)
    page.record("fraction_moderated_towards_half", moved)
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import BayesianMLPClassifier, datasets

X, T = datasets.two_class(200, np.random.default_rng(0))
clf = BayesianMLPClassifier(hidden_layer_sizes=(8,), n_outer=10, random_state=0)    # M = 8
clf.fit(X, T[:, 0])
g = np.linspace(-2.5, 2.5, 100)
gx, gy = np.meshgrid(g, g)
p = clf.predict_proba(np.column_stack([gx.ravel(), gy.ravel()]))[:, 1].reshape(gx.shape)
plt.contour(gx, gy, p, levels=[0.1, 0.3, 0.5, 0.7, 0.9])   # moderated (5.190)
plt.scatter(X[:, 0], X[:, 1], c=T[:, 0], cmap="coolwarm", s=8)
plt.xlabel("x1"); plt.ylabel("x2")
plt.show()
""")


def describe_boundaries(err, bayes_err):
    """The sentence comparing the test error rates of Figure 5.22's boundaries."""
    better = err["evidence"] < err["ml"]
    return (f"On held-out data the maximum-likelihood network misclassifies "
            f"{100 * err['ml']:.1f}%, the evidence network {100 * err['evidence']:.1f}% and the "
            f"optimal rule {100 * bayes_err:.1f}%"
            + (": the prior chosen by the evidence removes most of the over-fitting."
               if better else ": on this draw the prior does not lower the test error."))
