"""§5.6: mixture density networks on multi-valued inverse problems (Figures 5.18–5.21)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network, datasets
from prmlnet.mdn import MixtureDensity, init_weights, predict_mixture
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.6 Mixture density networks: when the target has several values"

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


def run(page):
    rng = page.rng
    quick = page.quick
    N = 300 if quick else 1000
    restarts = 1 if quick else 3
    iters = 150 if quick else 1000

    page.text(
        "Least squares predicts the conditional average of t given x. For a forward problem "
        "with a single-valued map that is what we want; for its inverse — swap the roles of "
        "input and target — the map is multi-valued and the average of the branches is no "
        "solution at all. Below, the book's toy problem: t uniform on (0, 1), "
        "x = t + 0.3 sin(2πt) + uniform noise on (−0.1, 0.1) (prmlnet.datasets.toy_inverse)."
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
    xs_grid = np.linspace(-0.1, 1.1, 301)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(Xf[:, 0], Tf[:, 0], "o", ms=3, mfc="none", color="tab:green")
    axes[0].plot(xs_grid, net_f.predict(w_f, (xs_grid - xf_m) / xf_s), "r", lw=2)
    axes[0].set_title("forward problem: least squares works")
    axes[1].plot(X[:, 0], T[:, 0], "o", ms=3, mfc="none", color="tab:green")
    axes[1].plot(xs_grid, net_ls.predict(w_ls, (xs_grid - xm) / xs), "r", lw=2)
    axes[1].set_title("inverse problem: least squares averages the branches")
    for ax in axes:
        ax.set_xlabel("x")
        ax.set_ylabel("t")
        ax.set_xlim(-0.1, 1.1)
        ax.set_ylim(-0.1, 1.1)
    page.figure(fig, "least-squares", "Figure 5.19: a 1-6-1 tanh network trained by least "
                "squares (red) on the forward problem (left) and on its inverse (right).")

    # -- Figures 5.20–5.21: the mixture density network --------------------------------
    page.text(
        "A mixture density network lets the network outputs parameterise a Gaussian mixture "
        "p(t|x) = Σ_k π_k(x) N(t|μ_k(x), σ_k²(x)). Here 1 input, 5 tanh hidden units and "
        "3 components (9 outputs), trained on the summed negative log-likelihood plus weight "
        "decay α = 0.01 with BFGS; the error is evaluated by log-sum-exp and its gradient "
        "starts from the output deltas below, then backpropagates unchanged."
    )
    page.equation("π_k = exp(a^π_k) / Σ_l exp(a^π_l),   σ_k = exp(a^σ_k),   μ_kj = a^μ_kj",
                  "5.150–5.152")
    page.equation("E(w) = −Σ_n ln Σ_k π_k(x_n) N(t_n | μ_k(x_n), σ_k²(x_n) I)", "5.153")
    page.equation("∂E_n/∂a^π_k = π_k − γ_k,   ∂E_n/∂a^μ_kl = γ_k (μ_kl − t_l)/σ_k²,   "
                  "∂E_n/∂a^σ_k = −γ_k (‖t − μ_k‖²/σ_k² − K)", "5.155–5.157")
    page.text("Here L is the number of components and K the dimension of t (the book writes "
              "K for the components and L for the target dimension). The responsibilities "
              "γ_k = π_k N_k / Σ_l π_l N_l (5.154) are the posterior probabilities of the "
              "components given t.")
    md = MixtureDensity(3, 1)
    net = Network((1, 5, md.n_outputs), output=md)
    w = _best_fit(net, Z, T, rng, restarts, iters, lambda r: init_weights(net, T, r))
    mix = predict_mixture(net, w, (xs_grid - xm) / xs)
    order = np.argsort(mix.mu[len(xs_grid) // 2, :, 0])      # colour the components bottom-up
    tg = np.linspace(-0.1, 1.1, 121 if quick else 241)
    dens = mix.pdf_grid(tg[:, None])                          # (x, t)
    mode, mean = mix.mode()[:, 0], mix.mean()[:, 0]
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    x1 = xs_grid[:, 0]
    for j, (c, k) in enumerate(zip(["tab:blue", "tab:green", "tab:red"], order)):
        axes[0, 0].plot(x1, mix.pi[:, k], color=c, label=f"π_{j + 1}(x)")
        axes[0, 1].plot(x1, mix.mu[:, k, 0], color=c, label=f"μ_{j + 1}(x)")
        axes[0, 1].fill_between(x1, mix.mu[:, k, 0] - mix.sigma[:, k],
                                mix.mu[:, k, 0] + mix.sigma[:, k], color=c, alpha=0.2)
    axes[0, 0].set_title("(a) mixing coefficients π_k(x)")
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].set_title("(b) means μ_k(x) ± σ_k(x)")
    axes[1, 0].contourf(x1, tg, np.log(np.maximum(dens.T, 1e-3)), levels=20, cmap="viridis")
    axes[1, 0].set_title("(c) conditional density p(t|x) (log scale)")
    axes[1, 1].plot(X[:, 0], T[:, 0], "o", ms=2, mfc="none", color="tab:green")
    axes[1, 1].plot(x1, mode, "r.", ms=3, label="conditional mode")
    axes[1, 1].plot(x1, mean, "k", lw=1.5, label="conditional mean (5.158)")
    axes[1, 1].legend(fontsize=8)
    axes[1, 1].set_title("(d) mode against mean")
    for ax in axes.ravel():
        ax.set_xlabel("x")
    for ax in (axes[0, 1], axes[1, 0], axes[1, 1]):
        ax.set_ylabel("t")
        ax.set_ylim(-0.1, 1.1)
    page.figure(fig, "mdn-toy", "Figures 5.20–5.21: the trained MDN's mixing coefficients "
                "(a), component means with one width either side (b), the conditional density "
                "(c), and the conditional mode — the most probable branch, which jumps between "
                "branches — against the conditional mean, which runs between them (d).")

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
        "θ1 in (0.3, 1.2), θ2 in (π/2, 3π/2); from the end-effector position (x1, x2) predict "
        "the joint angles. Most positions are reached by two configurations, elbow one way or "
        "the other (prmlnet.datasets.robot_arm). An MDN with 2 components over the 2-D target "
        "(θ1, θ2) finds both; the least-squares network returns their average, which puts "
        "the hand somewhere else."
    )
    Xa, Ta = datasets.robot_arm(N if quick else 2000, rng)
    Xa_test, Ta_test = datasets.robot_arm(500, rng)
    am, asd = Xa.mean(0), Xa.std(0)
    Za, Za_test = (Xa - am) / asd, (Xa_test - am) / asd
    md2 = MixtureDensity(2, 2)
    net_a = Network((2, 10 if quick else 20, md2.n_outputs), output=md2)
    w_a = _best_fit(net_a, Za, Ta, rng, restarts, iters, lambda r: init_weights(net_a, Ta, r))
    lsa, w_lsa, _ = _least_squares(Za, Ta, 10 if quick else 20, rng, restarts, iters)
    mix_a = predict_mixture(net_a, w_a, Za_test)
    reach = lambda theta: np.linalg.norm(datasets.robot_arm_forward(theta) - Xa_test, axis=1)  # noqa: E731
    err_mode = reach(mix_a.mode())
    err_mean = reach(mix_a.mean())
    err_ls = reach(lsa.predict(w_lsa, Za_test))
    page.table(["prediction of (θ1, θ2)", "median distance of the hand from the target"],
               [["MDN conditional mode", float(np.median(err_mode))],
                ["MDN conditional mean", float(np.median(err_mean))],
                ["least-squares network", float(np.median(err_ls))]])
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
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    axes[0].legend(fontsize=7, loc="upper left")
    page.figure(fig, "robot-arm", "The robot arm (Figure 5.18): for three target positions, "
                "the arm drawn at the two MDN component means (solid) — the two elbow "
                "solutions — and at the least-squares prediction (dashed), which averages them.")
    page.text(
        f"On 500 held-out positions the hand lands a median {np.median(err_mode):.3f} from "
        f"the target with the MDN's conditional mode, {np.median(err_mean):.3f} with its "
        f"conditional mean, and {np.median(err_ls):.3f} with the least-squares network."
    )
