"""§5.6: mixture density networks on multi-valued inverse problems (Figures 5.18–5.21)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network, datasets
from prmlnet.mdn import MixtureDensity, init_weights, predict_mixture
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.6 Mixture density networks: when the target has several values (Figures 5.18–5.21)"
SECTION = "5.6"

ALPHA = 0.01          # weight decay on every weight (5.112)


def _best_fit(net, X, T, rng, restarts, max_iter, w0_fn):
    """Train from ``restarts`` starts with BFGS; keep the lowest training error."""
    best = None
    for _ in range(restarts):
        res = minimize(Objective(net, X, T, alpha=ALPHA), w0_fn(rng), method="bfgs",
                       max_iter=max_iter)
        if best is None or res.fun < best.fun:
            best = res
    return best.x


def _least_squares(X, T, M, rng, restarts, max_iter):
    """A least-squares network (linear outputs) and its ML noise precision β (§5.2)."""
    net = Network((X.shape[1], M, T.shape[1]))
    w = _best_fit(net, X, T, rng, restarts, max_iter, net.init_weights)
    r = net.predict(w, X) - T
    beta = T.size / float(np.vdot(r, r))                       # 1/β = mean squared residual
    return net, w, beta


def _gaussian_nll(net, w, beta, X, T):
    """Mean negative log-likelihood per point of the unimodal model N(t|y(x), β⁻¹I)."""
    r = net.predict(w, X) - T
    K = T.shape[1]
    return 0.5 * K * np.log(2 * np.pi / beta) + 0.5 * beta * float(np.vdot(r, r)) / len(T)


def _equations(page):
    page.text(
        "A mixture density network lets the network outputs parameterise a Gaussian mixture "
        "for $p(\\mathbf{t}|\\mathbf{x})$. The letters are the book's: $K$ components over an "
        "$L$-dimensional target $\\mathbf{t}$, so the network has $(L + 2)K$ outputs "
        "(in code: MixtureDensity(n_components=K, n_targets=L)).")
    page.equation(r"p(\mathbf{t}|\mathbf{x}) = \sum_{k=1}^{K} \pi_k(\mathbf{x})\, "
                  r"\mathcal{N}\big(\mathbf{t} \,|\, \boldsymbol{\mu}_k(\mathbf{x}), "
                  r"\sigma_k^2(\mathbf{x})\mathbf{I}\big)", "5.148")
    page.equation(r"\pi_k = \frac{\exp(a^\pi_k)}{\sum_{j=1}^{K} \exp(a^\pi_j)}, \qquad "
                  r"\sigma_k = \exp(a^\sigma_k), \qquad \mu_{kl} = a^\mu_{kl}", "5.150–5.152")
    page.equation(r"E(\mathbf{w}) = -\sum_{n=1}^{N} \ln \Big\{ \sum_{k=1}^{K} \pi_k(\mathbf{x}_n) "
                  r"\mathcal{N}\big(\mathbf{t}_n \,|\, \boldsymbol{\mu}_k(\mathbf{x}_n), "
                  r"\sigma_k^2(\mathbf{x}_n)\mathbf{I}\big) \Big\}", "5.153")
    page.equation(r"\gamma_{nk} = \frac{\pi_k \mathcal{N}_{nk}}{\sum_{j=1}^{K} \pi_j \mathcal{N}_{nj}}",
                  "5.154")
    page.equation(r"\frac{\partial E_n}{\partial a^\pi_k} = \pi_k - \gamma_{nk}, \qquad "
                  r"\frac{\partial E_n}{\partial a^\mu_{kl}} = \gamma_{nk} \frac{\mu_{kl} - t_{nl}}{\sigma_k^2}, "
                  r"\qquad \frac{\partial E_n}{\partial a^\sigma_k} = -\gamma_{nk} "
                  r"\Big(\frac{\|\mathbf{t}_n - \boldsymbol{\mu}_k\|^2}{\sigma_k^2} - L\Big)",
                  "5.155–5.157")
    page.text(
        "The error is evaluated by log-sum-exp and its gradient starts from these output "
        "deltas, then back-propagates unchanged. prmlnet adds a small floor to the variances "
        "($\\sigma_k^2 = e^{2a^\\sigma_k} + \\sigma_{\\min}^2$, $\\sigma_{\\min} = 10^{-3}$ by "
        "default) so that no component can collapse onto one training point; min_width=0 "
        "gives the book's form exactly.")


def _figure_5_20(page, net, w, xm, xs):
    from prmlnet.tour.diagrams import draw_network

    K = net.output.n_components
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1.5, 1]})
    labels = ([f"$\\pi_{k + 1}$" for k in range(K)] + [f"$\\sigma_{k + 1}$" for k in range(K)]
              + [f"$\\mu_{k + 1}$" for k in range(K)])
    draw_network(ax, net, w, bias=False, output_labels=labels, radius=0.3, spacing=0.85,
                 layer_gap=4.0, max_width=3.0)
    x0 = 0.5
    tg = np.linspace(-0.1, 1.1, 241)
    mix = predict_mixture(net, w, np.array([[(x0 - xm) / xs]]))
    dens = mix.pdf_grid(tg[:, None])[0]
    ax2.plot(tg, dens, color="tab:red", lw=2)
    for k in range(K):
        comp = mix.pi[0, k] * np.exp(-0.5 * ((tg - mix.mu[0, k, 0]) / mix.sigma[0, k]) ** 2) / (
            np.sqrt(2 * np.pi) * mix.sigma[0, k])
        ax2.plot(tg, comp, "--", lw=1, color="0.4")
    ax2.set_xlabel("$t$")
    ax2.set_ylabel(f"$p(t \\,|\\, x = {x0})$")
    ax2.set_title("the density the outputs describe", fontsize=10)
    page.figure(fig, "fig-5-20",
                f"Figure 5.20: the mixture density network drawn from the trained object "
                f"(1 input, {net.sizes[1]} hidden units, {net.sizes[-1]} outputs in three groups "
                "$\\pi$, $\\sigma$, $\\mu$; link width and colour from its weights, biases left "
                f"out), and on the right the mixture its outputs give at $x = {x0}$ "
                "(components dashed). The book's diagram is schematic.",
                "Diagram of a network with one input, five hidden units and nine outputs "
                "labelled pi, sigma and mu, beside a plot of the three-peaked conditional "
                "density at x = 0.5.")


def describe_reach(err_mode, err_mean, err_ls, n):
    """The sentence about the robot arm, from the distances (median, three significant figures)."""
    m = {k: float(np.median(v)) for k, v in
         (("mode", err_mode), ("mean", err_mean), ("ls", err_ls))}
    best = min(m, key=m.get)
    names = {"mode": "the MDN's conditional mode", "mean": "its conditional mean",
             "ls": "the least-squares network"}
    return (f"On {n} held-out positions the hand lands a median {m['mode']:.3g} from the target "
            f"with the MDN's conditional mode, {m['mean']:.3g} with its conditional mean, and "
            f"{m['ls']:.3g} with the least-squares network: {names[best]} is best, "
            f"{m['ls'] / m[best]:.0f} times closer than least squares."
            if best != "ls" else
            f"On {n} held-out positions the hand lands a median {m['mode']:.3g} from the target "
            f"with the MDN's conditional mode, {m['mean']:.3g} with its conditional mean, and "
            f"{m['ls']:.3g} with the least-squares network, which is best here.")


def run(page):
    rng = page.rng
    quick = page.quick
    N = 200 if quick else 1000
    restarts = 1 if quick else 2
    iters = 100 if quick else 600

    page.text(
        "Least squares predicts the conditional average of $t$ given $x$. For a forward "
        "problem with a single-valued map that is what we want; for its inverse — swap the "
        "roles of input and target — the map is multi-valued and the average of the branches "
        "is no solution at all. Below, the book's toy problem: $t$ uniform on $(0, 1)$, "
        "$x = t + 0.3 \\sin(2\\pi t)$ + uniform noise on $(-0.1, 0.1)$ "
        "(prmlnet.datasets.toy_inverse)."
    )

    # -- Figure 5.19: least squares on the forward and the inverse problem -----------
    Xf, Tf = datasets.toy_inverse(N, rng, inverse=False)
    X, T = datasets.toy_inverse(N, rng)
    Xtest, Ttest = datasets.toy_inverse(5000 if not quick else 1000, rng)
    xm, xs = X.mean(), X.std()
    Z, Ztest = (X - xm) / xs, (Xtest - xm) / xs                # standardised inputs
    xf_m, xf_s = Xf.mean(), Xf.std()
    net_f, w_f, _ = _least_squares((Xf - xf_m) / xf_s, Tf, 6, rng, restarts, iters)
    net_ls, w_ls, beta_ls = _least_squares(Z, T, 6, rng, restarts, iters)
    xs_grid = np.linspace(-0.1, 1.1, 121 if quick else 301)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(Xf[:, 0], Tf[:, 0], ".", ms=3, color="black", alpha=0.5)
    axes[0].plot(xs_grid, net_f.predict(w_f, (xs_grid - xf_m) / xf_s), "r", lw=2)
    axes[0].set_title("forward problem: least squares works", fontsize=10)
    axes[1].plot(X[:, 0], T[:, 0], ".", ms=3, color="black", alpha=0.5)
    axes[1].plot(xs_grid, net_ls.predict(w_ls, (xs_grid - xm) / xs), "r", lw=2)
    axes[1].set_title("inverse problem: least squares averages the branches", fontsize=10)
    for ax in axes:
        ax.set_xlabel("$x$")
        ax.set_ylabel("$t$")
        ax.set_xlim(-0.1, 1.1)
        ax.set_ylim(-0.1, 1.1)
        ax.set_aspect("equal")
    fig.tight_layout()
    page.figure(fig, "least-squares", "Figure 5.19: a 1-6-1 tanh network trained by least "
                f"squares (red) on {N} points (black) of the forward problem (left) and of its "
                "inverse (right), as in the book, which shows fewer points.",
                "Two scatter plots of an S-shaped cloud of points with a least-squares curve: "
                "on the left it follows the cloud, on the right it cuts across the three "
                "branches.")

    # -- Figures 5.20–5.21: the mixture density network --------------------------------
    _equations(page)
    md = MixtureDensity(3, 1)
    net = Network((1, 5, md.n_outputs), output=md)
    w = _best_fit(net, Z, T, rng, restarts, iters, lambda r: init_weights(net, T, r))
    mix = predict_mixture(net, w, (xs_grid - xm) / xs)
    order = np.argsort(mix.mu[len(xs_grid) // 2, :, 0])      # colour the components bottom-up
    tg = np.linspace(-0.1, 1.1, 121 if quick else 241)
    dens = mix.pdf_grid(tg[:, None])                          # (x, t)
    mode, mean = mix.mode()[:, 0], mix.mean()[:, 0]
    _figure_5_20(page, net, w, xm, xs)
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.5))
    x1 = xs_grid[:, 0]
    for j, (c, k) in enumerate(zip(["tab:blue", "tab:green", "tab:red"], order)):
        axes[0, 0].plot(x1, mix.pi[:, k], color=c, label=f"$\\pi_{j + 1}(x)$")
        axes[0, 1].plot(x1, mix.mu[:, k, 0], color=c, label=f"$\\mu_{j + 1}(x)$")
        axes[0, 1].fill_between(x1, mix.mu[:, k, 0] - mix.sigma[:, k],
                                mix.mu[:, k, 0] + mix.sigma[:, k], color=c, alpha=0.2)
    axes[0, 0].set_title("(a) mixing coefficients $\\pi_k(x)$", fontsize=10)
    axes[0, 0].set_ylabel("$\\pi_k$")
    axes[0, 0].legend(fontsize=8, loc="center right")
    axes[0, 1].set_title("(b) means $\\mu_k(x) \\pm \\sigma_k(x)$", fontsize=10)
    cf = axes[1, 0].contourf(x1, tg, np.log10(np.maximum(dens.T, 1e-3)), levels=20, cmap="viridis")
    fig.colorbar(cf, ax=axes[1, 0], label="$\\log_{10} p(t|x)$")
    axes[1, 0].set_title("(c) conditional density $p(t|x)$", fontsize=10)
    axes[1, 1].plot(X[:, 0], T[:, 0], ".", ms=2, color="black", alpha=0.4, label="data")
    axes[1, 1].plot(x1, mode, ".", color="tab:red", ms=3, label="conditional mode")
    axes[1, 1].plot(x1, mean, color="black", lw=1.5, label="conditional mean (5.158)")
    axes[1, 1].legend(fontsize=8, loc="upper left")
    axes[1, 1].set_title("(d) mode against mean", fontsize=10)
    for ax in axes.ravel():
        ax.set_xlabel("$x$")
        ax.set_xlim(-0.1, 1.1)
    for ax in (axes[0, 1], axes[1, 0], axes[1, 1]):
        ax.set_ylabel("$t$")
        ax.set_ylim(-0.1, 1.1)
    fig.tight_layout()
    page.figure(fig, "mdn-toy", "Figure 5.21: the trained MDN's mixing coefficients (a), "
                "component means with one width either side (b), the conditional density on a "
                "log scale (c), and the conditional mode — the most probable branch, which jumps "
                "between branches — against the conditional mean, which runs between them (d). "
                "As in the book (3 components, 5 hidden units), with weight decay and a width "
                "floor the book does not use.",
                "Four panels: three mixing-coefficient curves against x, three mean curves "
                "with bands, a colour map of the conditional density with three branches, and "
                "the data with the mode jumping between branches and the mean running between.")

    nll_mdn = net.error(w, Ztest, Ttest) / len(Ttest)
    nll_ls = _gaussian_nll(net_ls, w_ls, beta_ls, Ztest, Ttest)
    page.table(["model", "held-out mean −ln p(t|x) per point"],
               [["least squares + Gaussian noise (β_ML)", nll_ls],
                ["MDN, 3 components", nll_mdn]])
    page.record("toy_nll_mdn", nll_mdn)
    page.record("toy_nll_least_squares", nll_ls)
    at = np.abs(xs_grid[:, 0] - 0.5).argmin()
    page.record("toy_components_used_at_0.5", int(np.sum(mix.pi[at] > 0.05)))

    # -- Figure 5.18: the robot arm's two elbow solutions -------------------------------
    page.text(
        "The inverse kinematics of a two-link arm (Figure 5.18): links of length 0.8 and 0.2, "
        "$\\theta_1 \\in (0.3, 1.2)$, $\\theta_2 \\in (\\pi/2, 3\\pi/2)$; from the end-effector "
        "position $(x_1, x_2)$ predict the joint angles. Most positions are reached by two "
        "configurations, elbow one way or the other (prmlnet.datasets.robot_arm). An MDN "
        "with $K = 2$ components over the $L = 2$ dimensional target $(\\theta_1, \\theta_2)$ "
        "finds both; the least-squares network returns their average, which puts the hand "
        "somewhere else."
    )
    Xa, Ta = datasets.robot_arm(N, rng)
    Xa_test, Ta_test = datasets.robot_arm(500, rng)
    am, asd = Xa.mean(0), Xa.std(0)
    Za, Za_test = (Xa - am) / asd, (Xa_test - am) / asd
    md2 = MixtureDensity(2, 2)
    net_a = Network((2, 10 if quick else 15, md2.n_outputs), output=md2)
    w_a = _best_fit(net_a, Za, Ta, rng, 1, iters, lambda r: init_weights(net_a, Ta, r))
    lsa, w_lsa, _ = _least_squares(Za, Ta, 10 if quick else 15, rng, 1, iters)
    mix_a = predict_mixture(net_a, w_a, Za_test)
    reach = lambda theta: np.linalg.norm(datasets.robot_arm_forward(theta) - Xa_test, axis=1)  # noqa: E731
    err_mode = reach(mix_a.mode())
    err_mean = reach(mix_a.mean())
    err_ls = reach(lsa.predict(w_lsa, Za_test))
    page.table(["prediction of (θ1, θ2)", "median distance of the hand from the target"],
               [["MDN conditional mode", float(np.median(err_mode))],
                ["MDN conditional mean", float(np.median(err_mean))],
                ["least-squares network", float(np.median(err_ls))]], fmt="{:.3g}")
    page.record("arm_reach_error_mode", float(np.median(err_mode)))
    page.record("arm_reach_error_least_squares", float(np.median(err_ls)))

    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    # positions where both branches are live, from well to barely separated elbows
    live = np.flatnonzero(mix_a.pi.min(axis=1) > 0.2)
    live = live if live.size >= 3 else np.argsort(-mix_a.pi.min(axis=1))[:3]
    live = live[np.argsort(-np.abs(mix_a.mu[live, 0, 1] - mix_a.mu[live, 1, 1]))]
    picks = live[[0, live.size // 4, live.size // 2]]
    for ax, i in zip(axes, picks):
        x = Xa_test[i]
        for k, c in zip(range(2), ["tab:blue", "tab:orange"]):
            th = mix_a.mu[i, k]
            elbow = 0.8 * np.array([np.cos(th[0]), np.sin(th[0])])
            hand = datasets.robot_arm_forward(th[None])[0]
            ax.plot([0, elbow[0], hand[0]], [0, elbow[1], hand[1]], "-o", color=c, lw=2,
                    label=f"component {k + 1} (π = {mix_a.pi[i, k]:.2f})")
        th = lsa.predict(w_lsa, Za_test[i:i + 1])[0]
        elbow = 0.8 * np.array([np.cos(th[0]), np.sin(th[0])])
        hand = datasets.robot_arm_forward(th[None])[0]
        ax.plot([0, elbow[0], hand[0]], [0, elbow[1], hand[1]], "--", color="grey",
                label="least squares")
        ax.plot(*x, "k*", ms=14, label="target position")
        ax.set_aspect("equal")
        ax.set_xlim(-0.2, 1.0)
        ax.set_ylim(-0.1, 1.1)
        ax.set_xlabel("$x_1$")
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("$x_2$")
    fig.tight_layout()
    page.figure(fig, "robot-arm", "Figure 5.18: the book draws the two elbow solutions of one "
                "position; here, for three held-out target positions, the arm drawn at the two "
                "MDN component means (solid) — the two elbow solutions the network found — and "
                "at the least-squares prediction (dashed), which averages them. Equal scales "
                "on both axes.",
                "Three panels, each with a star for the target and three two-segment arms: "
                "two that reach the star with the elbow bent either way, and a dashed one "
                "that misses it.")
    page.text(describe_reach(err_mode, err_mean, err_ls, len(Xa_test)))
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import MDNRegressor, datasets

X, t = datasets.toy_inverse(300, rng=0)                  # Figure 5.19's inverse problem
mdn = MDNRegressor(n_components=3, hidden_layer_sizes=(5,), standardize=True, max_iter=300,
                   random_state=0).fit(X, t.ravel())     # K = 3 components, M = 5 hidden
x = np.linspace(0, 1, 200)[:, None]
mix = mdn.predict_mixture(x)
plt.plot(X, t, "k.", ms=2)
plt.plot(x, mix.mu[:, :, 0], "-")                         # the three branches
plt.xlabel("x"); plt.ylabel("t")
plt.show()
""")
