"""§5.7.1–5.7.2: Bayesian regression networks — error bars, the evidence loop, model size."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network, bayes

TITLE = "5.7 Bayesian neural networks (1): error bars and the evidence framework"


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
    page.equation("A = αI + βH,   q(w|D) = N(w | w_MAP, A⁻¹)", "5.166–5.167")
    page.equation("p(t|x,D) = N(t | y(x, w_MAP), σ²(x)),   σ²(x) = 1/β + gᵀA⁻¹g,   "
                  "g = ∇_w y(x, w)|w_MAP", "5.172–5.173")
    page.text(
        "The hyperparameters α (prior precision) and β (noise precision) are not guessed: "
        "the evidence framework alternates training w_MAP with re-estimating them, "
        "α = γ/wᵀw and β = (N − γ)/Σ(y − t)², where γ = Σ λ_i/(α + λ_i), from the "
        "eigenvalues λ_i of βH, counts the well-determined parameters."
    )
    page.equation("α ← γ / (w_MAPᵀ w_MAP),   γ = Σ_i λ_i / (α + λ_i),   "
                  "β ← (N − γ) / Σ_n {y(x_n, w_MAP) − t_n}²", "5.178–5.180")

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
    ax.fill_between(xs[:, 0], m - 2 * s, m + 2 * s, color="tab:red", alpha=0.12, label="±2σ(x)")
    ax.fill_between(xs[:, 0], m - s, m + s, color="tab:red", alpha=0.25, label="±1σ(x)")
    ax.plot(xs[:, 0], np.sin(2 * np.pi * xs[:, 0]), "g", lw=1, label="sin(2πx)")
    ax.plot(xs[:, 0], m, "r", lw=2, label="y(x, w_MAP)")
    ax.plot(X[:, 0], T[:, 0], "o", mfc="none", color="tab:blue", label="data")
    for sign in (-1, 1):
        ax.plot(xs[:, 0], m + sign / np.sqrt(res.beta), "k:", lw=0.8)
    ax.set_ylim(-3, 3)
    ax.set_xlabel("x")
    ax.set_ylabel("t")
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    page.figure(fig, "error-bars", "The Laplace predictive of a 1-5-1 tanh network with α and β "
                "from the evidence loop. Dotted: the noise level ±1/√β alone. The error bar "
                "is narrow where there are data and widens away from them, where the "
                "weights the data left undetermined move the output most.")
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
    for ax, (name, v) in zip(axes, [("α", h["alpha"][:, 0]), ("β", h["beta"]),
                                    ("γ", h["gamma"].sum(1)), ("ln p(D|α,β)", h["log_evidence"])]):
        ax.plot(it, v, "o-", ms=3)
        ax.set_title(name)
        ax.set_xlabel("outer iteration")
        if name in ("α", "β"):
            ax.set_yscale("log")
    axes[2].axhline(net.n_weights, color="grey", lw=0.5)
    fig.tight_layout()
    page.figure(fig, "trajectory", f"The evidence loop: each outer iteration trains w_MAP for "
                f"the current α, β and re-estimates them. γ ends near {res.gamma_total:.1f} "
                f"of W = {net.n_weights} weights: the rest are set by the prior, not the data.")
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
    ax1.set_xlabel("hidden units M")
    ax1.set_ylabel("ln p(D | α, β)")
    ax2.set_xlabel("hidden units M")
    ax2.set_ylabel("training error E_D")
    fig.tight_layout()
    page.figure(fig, "model-size", f"Model comparison on {Xc.shape[0]} points of the sine "
                f"over [0, 1]: every dot is one restart of the evidence loop. The training "
                f"error keeps falling as M grows; the evidence peaks (best M = "
                f"{cmp_.best_size}) because a bigger network pays an Occam factor for the "
                "prior volume it does not use.")
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


def _sine_full(rng, n):
    x = rng.uniform(0.0, 1.0, n)
    return x[:, None], (np.sin(2 * np.pi * x) + 0.1 * rng.standard_normal(n))[:, None]
