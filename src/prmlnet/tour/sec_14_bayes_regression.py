"""§5.7.1–5.7.2: Bayesian regression networks — error bars, the evidence loop, model size."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network, bayes

TITLE = "5.7.1–5.7.2 Bayesian neural networks (1): error bars and the evidence framework"
SECTION = "5.7.1"


def describe_model_size(sizes, train_min, best_size):
    """The caption's sentence on the model-comparison figure, from the numbers."""
    tr = np.asarray(train_min, dtype=float)
    drops = np.diff(tr)
    if np.all(drops < 0):
        trend = (f"the best training error falls steadily as M grows, from {tr[0]:.3g} at "
                 f"M = {sizes[0]} to {tr[-1]:.3g} at M = {sizes[-1]}")
    elif tr[-1] < tr[0]:
        trend = (f"the best training error falls from {tr[0]:.3g} at M = {sizes[0]} to "
                 f"{tr.min():.3g} (M = {sizes[int(np.argmin(tr))]}) and then stays between "
                 f"{tr[1:].min():.3g} and {tr[1:].max():.3g}")
    else:
        trend = (f"the best training error does not fall with M (from {tr[0]:.3g} at "
                 f"M = {sizes[0]} to {tr[-1]:.3g} at M = {sizes[-1]})")
    return (f"{trend[0].upper()}{trend[1:]}, while the evidence is highest at M = {best_size}: "
            "a bigger network pays an Occam factor for the prior volume it does not use.")


def _clustered_sine(rng, n):
    """t = sin(2πx) + noise, with every input in [0, 0.45] — half the interval."""
    x = rng.uniform(0.0, 0.45, n)
    return x[:, None], (np.sin(2 * np.pi * x) + 0.1 * rng.standard_normal(n))[:, None]


def run(page):
    quick = page.quick
    rng = page.rng
    page.text(
        "A Bayesian network keeps a distribution over its weights instead of one weight "
        "vector. Around the most probable weights w_MAP the posterior is approximated by a "
        "Gaussian whose precision A is the Hessian of the regularised error (the Laplace "
        "approximation). Linearising the network about w_MAP turns the weight uncertainty "
        "into an error bar on each prediction."
    )
    page.equation(r"\mathbf{A} = \alpha\mathbf{I} + \beta\mathbf{H}, \qquad "
                  r"q(\mathbf{w}|\mathcal{D}) = \mathcal{N}(\mathbf{w} \,|\, \mathbf{w}_{\mathrm{MAP}}, "
                  r"\mathbf{A}^{-1})", "5.166–5.167")
    page.equation(r"p(t|\mathbf{x},\mathcal{D}) = \mathcal{N}\big(t \,|\, y(\mathbf{x}, "
                  r"\mathbf{w}_{\mathrm{MAP}}), \sigma^2(\mathbf{x})\big), \qquad "
                  r"\sigma^2(\mathbf{x}) = \beta^{-1} + \mathbf{g}^{\mathrm{T}}\mathbf{A}^{-1}\mathbf{g}, "
                  r"\qquad \mathbf{g} = \nabla_{\mathbf{w}} y(\mathbf{x}, \mathbf{w})\big|_{\mathbf{w}_{\mathrm{MAP}}}",
                  "5.172–5.173")
    page.text(
        "The hyperparameters $\\alpha$ (prior precision) and $\\beta$ (noise precision) are "
        "not guessed: the evidence framework alternates training $\\mathbf{w}_{\\mathrm{MAP}}$ "
        "with re-estimating them; $\\gamma$, from the eigenvalues $\\lambda_i$ of "
        "$\\beta\\mathbf{H}$, counts the well-determined parameters."
    )
    page.equation(r"\alpha = \frac{\gamma}{\mathbf{w}_{\mathrm{MAP}}^{\mathrm{T}}\mathbf{w}_{\mathrm{MAP}}}, "
                  r"\qquad \gamma = \sum_{i=1}^{W} \frac{\lambda_i}{\alpha + \lambda_i}, \qquad "
                  r"\frac{1}{\beta} = \frac{1}{N - \gamma} \sum_{n=1}^{N} "
                  r"\big\{y(\mathbf{x}_n, \mathbf{w}_{\mathrm{MAP}}) - t_n\big\}^2", "5.178–5.180")

    # -- the evidence loop on a sine whose inputs fill only [0, 0.45] -------------------
    N = 30 if quick else 40
    X, T = _clustered_sine(rng, N)
    net = Network((1, 5, 1), hidden="tanh", output="linear")
    res = bayes.evidence_loop(net, X, T, alpha=0.01, beta=10.0, n_outer=6 if quick else 25,
                              tol=1e-4, max_iter=300 if quick else 1000, rng=rng)
    xs = np.linspace(-0.25, 1.25, 121 if quick else 301)[:, None]
    mean, std = res.predict(xs, return_std=True)
    m, s = mean[:, 0], std[:, 0]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.fill_between(xs[:, 0], m - 2 * s, m + 2 * s, color="tab:red", alpha=0.12, label="$\\pm 2\\sigma(x)$")
    ax.fill_between(xs[:, 0], m - s, m + s, color="tab:red", alpha=0.25, label="$\\pm\\sigma(x)$")
    ax.plot(xs[:, 0], np.sin(2 * np.pi * xs[:, 0]), color="tab:green", lw=1, label="$\\sin(2\\pi x)$")
    ax.plot(xs[:, 0], m, color="tab:red", lw=2, label="$y(x, \\mathbf{w}_{\\mathrm{MAP}})$")
    ax.plot(X[:, 0], T[:, 0], ".", ms=7, color="black", label="data")
    for sign in (-1, 1):
        ax.plot(xs[:, 0], m + sign / np.sqrt(res.beta), "k:", lw=0.8)
    ax.set_ylim(-3, 3)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$t$")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    ratio = float(s[np.argmin(np.abs(xs[:, 0] - 1.0))] / s[(xs[:, 0] >= 0) & (xs[:, 0] <= 0.45)].mean())
    page.figure(fig, "error-bars", "Not a figure of the book (§5.7.1 derives it): the Laplace "
                "predictive of a 1-5-1 tanh network with $\\alpha$ and $\\beta$ from the "
                "evidence loop, trained on inputs in [0, 0.45] only. Dotted: the noise level "
                f"$\\pm\\beta^{{-1/2}}$ alone. At $x = 1$ the error bar is {ratio:.1f} times its "
                "mean width over the data: the weights the data left undetermined move the "
                "output most where there are no data.",
                "A fitted curve through data on the left third of the axis, with a red band "
                "that is narrow over the data and widens to the right.")
    inside = (xs[:, 0] >= 0) & (xs[:, 0] <= 0.45)
    page.table(["quantity", "value"], [
        ["σ at the data (mean)", float(s[inside].mean())],
        ["σ at x = 1.0", float(s[np.argmin(np.abs(xs[:, 0] - 1.0))])],
        ["noise 1/√β", float(1 / np.sqrt(res.beta))],
        ["true noise", 0.1],
    ])

    # -- the α, β, γ trajectory ------------------------------------------------------------
    h = res.history
    it = np.arange(1, len(h["beta"]) + 1)
    fig, axes = plt.subplots(1, 4, figsize=(12, 3))
    for ax, (name, v) in zip(axes, [("$\\alpha$", h["alpha"][:, 0]), ("$\\beta$", h["beta"]),
                                    ("$\\gamma$", h["gamma"].sum(1)),
                                    ("$\\ln p(\\mathcal{D}|\\alpha,\\beta)$", h["log_evidence"])]):
        ax.plot(it, v, "o-", ms=3)
        ax.set_ylabel(name)
        ax.set_xlabel("outer iteration")
        if name in ("$\\alpha$", "$\\beta$"):
            ax.set_yscale("log")
    axes[2].axhline(net.n_weights, color="grey", lw=0.5)
    fig.tight_layout()
    page.figure(fig, "trajectory", "Not a figure of the book: the evidence loop, where each "
                "outer iteration trains $\\mathbf{w}_{\\mathrm{MAP}}$ for the current "
                "$\\alpha$, $\\beta$ and re-estimates them. $\\gamma$ ends at "
                f"{res.gamma_total:.1f} of W = {net.n_weights} weights (grey line): the rest are "
                "set by the prior, not the data.",
                "Four small line plots against the outer iteration: alpha, beta, gamma and the "
                "log evidence settling to constant values.")
    page.table(["iteration", "α", "β", "γ", "ln evidence", "E_D", "negative eigenvalues"],
               [[i, float(a), float(b), float(g), float(e), float(d), int(n)] for i, a, b, g, e, d, n
                in zip(it, h["alpha"][:, 0], h["beta"], h["gamma"].sum(1), h["log_evidence"],
                       h["E_D"], h["n_negative"])])
    n_neg = int(h["n_negative"][res.iteration])
    page.text(
        f"Negative eigenvalues of H (last column; {n_neg} at the returned weights) are "
        "normal at a mode: w_MAP minimises βE_D + E_W, not E_D, so it is A = βH + αI that "
        "must be positive semi-definite, and H may have eigenvalues down to about −α/β. "
        "They are used as they are whenever A is positive definite; only where it is not "
        "(training had not reached a minimum) are they set to zero, and the loop says so "
        f"({int(h['clipped'].sum())} of the {len(h['beta'])} trainings here)."
    )

    # -- the evidence against the number of hidden units ----------------------------------
    sizes = [1, 2, 3, 4, 6] if quick else [1, 2, 3, 4, 5, 6, 8, 10]
    restarts = 2 if quick else 5
    Xc, Tc = _sine_full(rng, 25 if quick else 40)
    cmp_ = bayes.compare_hidden_units(Xc, Tc, sizes, n_restarts=restarts, rng=rng, alpha=0.01,
                                      beta=10.0, n_outer=5 if quick else 20,
                                      max_iter=200 if quick else 800, tol=1e-3)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for r in range(restarts):
        ax1.plot(sizes, cmp_.log_evidence[:, r], "o", color="tab:blue", alpha=0.4, ms=4)
        ax2.plot(sizes, cmp_.train_error[:, r], "o", color="tab:orange", alpha=0.4, ms=4)
    ax1.plot(sizes, cmp_.log_evidence.max(1), "-", color="tab:blue")
    ax2.plot(sizes, cmp_.train_error.min(1), "-", color="tab:orange")
    ax1.set_xlabel("hidden units $M$")
    ax1.set_ylabel("$\\ln p(\\mathcal{D} | \\alpha, \\beta)$")
    ax2.set_xlabel("hidden units $M$")
    ax2.set_ylabel("training error $E_D$")
    fig.tight_layout()
    sentence = describe_model_size(sizes, cmp_.train_error.min(1), cmp_.best_size)
    page.figure(fig, "model-size", "Not a figure of the book (§5.7.2 describes the comparison): "
                f"model comparison on {Xc.shape[0]} points of the sine over [0, 1], every dot "
                f"one restart of the evidence loop, lines through the best. {sentence}",
                "Two scatter plots against the number of hidden units: the log evidence rising "
                "to a peak and falling, and the training error.")
    page.text(sentence)
    page.text(
        "Why not count the M! 2^M equivalent modes related by interchanging and "
        "sign-flipping hidden units (§5.1.1)? Adding ln(M! 2^M) assumes the modes are far "
        "apart; a unit the data do not need sits near zero weights, where its copies "
        "coincide, and the factor would then reward useless units — so prmlnet leaves it "
        "out unless asked (compare_hidden_units(symmetry=True)). One α is shared by all "
        "weights here; prmlnet.priors.gaussian_prior(net, 'layers') gives one α per layer "
        "(the consistent priors of §5.5.1) and gaussian_prior(net, 'ard') one per input "
        "(automatic relevance determination)."
    )
    page.record("alpha", res.alpha["w"])
    page.record("beta", res.beta)
    page.record("gamma", res.gamma_total)
    page.record("log_evidence", res.log_evidence)
    page.record("std_ratio_far_to_data", float(s[np.argmin(np.abs(xs[:, 0] - 1.0))] / s[inside].mean()))
    page.record("best_hidden_units", cmp_.best_size)
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import BayesianMLPRegressor

rng = np.random.default_rng(0)
X = rng.uniform(0.0, 0.45, (40, 1))                      # inputs over half the interval
y = np.sin(2 * np.pi * X[:, 0]) + 0.1 * rng.standard_normal(40)
reg = BayesianMLPRegressor(hidden_layer_sizes=(5,), n_outer=10, random_state=0).fit(X, y)  # M = 5
x = np.linspace(-0.25, 1.25, 200)[:, None]
mean, std = reg.predict(x, return_std=True)              # std² = 1/β + gᵀA⁻¹g
plt.fill_between(x[:, 0], mean - 2 * std, mean + 2 * std, alpha=0.3)
plt.plot(X, y, "k.", x, mean, "r-")
plt.xlabel("x"); plt.ylabel("t")
plt.show()
""")


def _sine_full(rng, n):
    x = rng.uniform(0.0, 1.0, n)
    return x[:, None], (np.sin(2 * np.pi * x) + 0.1 * rng.standard_normal(n))[:, None]
