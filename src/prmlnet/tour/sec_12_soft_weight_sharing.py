"""§5.5.7: soft weight sharing — a mixture prior over the weights, learned with them."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import EarlyStopping, minimize
from prmlnet.priors import GaussianPrior
from prmlnet.soft_weight_sharing import SharedObjective, SoftWeightSharing

TITLE = "5.5.7 Soft weight sharing"
SECTION = "5.5.7"


def run(page):
    quick, rng = page.quick, page.rng
    page.text(
        "Hard weight sharing forces chosen weights to be equal. Soft weight sharing "
        "encourages groups of weights to take similar values without saying which: the "
        "prior over each weight is a mixture of Gaussians whose mixing coefficients, "
        "centres and widths are learned together with the weights (§5.5.7). A weight is "
        "pulled towards the centres in proportion to their responsibilities for it; each "
        "centre moves to the mean of the weights it is responsible for."
    )
    page.equation(r"\widetilde{E}(\mathbf{w}) = E(\mathbf{w}) + \lambda\Omega(\mathbf{w}),"
                  r"\qquad \Omega(\mathbf{w}) = -\sum_i \ln\Big(\sum_{j=1}^J \pi_j\,"
                  r"\mathcal{N}(w_i \mid \mu_j, \sigma_j^2)\Big)")
    page.equation(r"\frac{\partial\widetilde{E}}{\partial w_i} = \frac{\partial E}{\partial w_i}"
                  r" + \lambda\sum_j \gamma_j(w_i)\,\frac{w_i - \mu_j}{\sigma_j^2}, \qquad "
                  r"\gamma_j(w) = \frac{\pi_j\mathcal{N}(w \mid \mu_j, \sigma_j^2)}"
                  r"{\sum_k \pi_k\mathcal{N}(w \mid \mu_k, \sigma_k^2)}")

    # -- one small problem, three regularisers, the same validation data ------------------
    N = 25
    X, T = sinusoidal(N, rng, noise=0.2)
    Xv, Tv = sinusoidal(N, rng, noise=0.2)
    Xt, Tt = sinusoidal(400 if quick else 2000, rng, noise=0.2)
    net = Network((1, 8, 1))
    groups = net.weight_groups()
    conn = np.concatenate([groups["W1"], groups["W2"]])
    biases = np.concatenate([groups["b1"], groups["b2"]])
    w0 = net.init_weights(rng)
    max_iter = 400 if quick else 2000
    lambdas = [0.01, 0.1] if quick else [0.003, 0.01, 0.03, 0.1, 0.3]

    def mse(w, X_, T_):
        return float(np.mean((net.predict(w, X_) - T_) ** 2))

    decay, sharing = {}, {}
    for a in lambdas:
        obj = Objective(net, X, T, alpha=a)
        w = minimize(obj, w0, "bfgs", max_iter=max_iter, gtol=1e-8).x
        decay[a] = (mse(w, Xv, Tv), w)
        mix0 = SoftWeightSharing.initial(w0, 4, indices=conn, pin_zero=True, lam=a)
        joint = SharedObjective(Objective(net, X, T, prior=GaussianPrior({"b": biases}, a,
                                                                         net.n_weights)), mix0)
        w, mix = joint.split(minimize(joint, joint.join(w0), "bfgs", max_iter=max_iter,
                                      gtol=1e-8).x)
        sharing[a] = (mse(w, Xv, Tv), w, mix)
    stopper = EarlyStopping(lambda w: mse(w, Xv, Tv), patience=10 ** 9)
    minimize(Objective(net, X, T), w0, "scg", max_iter=max_iter, gtol=1e-12, ftol=0,
             callback=stopper)
    a_wd = min(decay, key=lambda a: decay[a][0])
    a_sw = min(sharing, key=lambda a: sharing[a][0])
    w_sw, mix = sharing[a_sw][1], sharing[a_sw][2]
    test = {"weight decay": mse(decay[a_wd][1], Xt, Tt),
            "soft weight sharing": mse(w_sw, Xt, Tt),
            "early stopping": mse(stopper.best_w, Xt, Tt)}

    # -- the histogram of the learned weights with the learned mixture ---------------------
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    wc = w_sw[conn]
    lim = 1.1 * max(np.abs(wc).max(), 1e-3)
    bins = np.linspace(-lim, lim, 41)
    counts, _, _ = ax1.hist(wc, bins=bins, color="tab:blue", alpha=0.6, label="learned weights")
    grid = np.linspace(-lim, lim, 800)            # and fine around each narrow component:
    grid = np.unique(np.r_[grid, (mix.mu[:, None] + mix.sigma[:, None]
                                  * np.linspace(-5, 5, 101)).ravel()])
    grid = grid[np.abs(grid) <= lim]
    ax1.plot(grid, mix.density(grid) * wc.size * (bins[1] - bins[0]), color="tab:red",
             label="learned mixture × n × bin width")
    ax1.set_ylim(0, 1.5 * counts.max())          # narrow components peak far above
    for m, p in zip(mix.mu, mix.pi):
        if p > 0.02:
            ax1.annotate(f"π={p:.2f}", (m, 1.38 * counts.max()), ha="center", fontsize=8)
    ax1.set_xlabel("weight value")
    ax1.set_ylabel("count")
    ax1.legend(fontsize=8, loc="center left")
    xs = np.linspace(0, 1, 200)[:, None]
    ax2.plot(xs[:, 0], np.sin(2 * np.pi * xs[:, 0]), color="tab:green", lw=1)
    ax2.plot(X[:, 0], T[:, 0], "k.", label="training data")
    ax2.plot(xs[:, 0], net.predict(w_sw, xs)[:, 0], color="tab:red", label="soft weight sharing")
    ax2.plot(xs[:, 0], net.predict(decay[a_wd][1], xs)[:, 0], color="tab:purple", ls="--",
             label="weight decay")
    ax2.set_xlabel("x")
    ax2.set_ylabel("t")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    page.figure(fig, "mixture",
                f"Left: histogram of the {wc.size} connection weights of a 1-8-1 tanh network "
                f"trained with soft weight sharing (4 components, μ₀ pinned at 0, λ = {a_sw:g} "
                f"chosen on validation data), and the learned mixture density scaled to the "
                f"histogram. Right: that network and the weight-decay one (α = {a_wd:g}) on "
                f"the training data. Narrow components rise far above the axis, cut at 1.5 times the "
                f"largest count and labelled with their mixing coefficients. The book shows no "
                f"figure here.",
                "A histogram of network weights gathered in a few narrow clusters with the "
                "fitted mixture of Gaussians drawn over it, and the fitted curves beside.")
    used = mix.pi > 0.02
    comps = sorted(zip(mix.mu[used], mix.sigma[used], mix.pi[used]))
    page.text(
        f"The learned mixture gives {int(used.sum())} of its 4 components a mixing "
        "coefficient above 0.02: " + "; ".join(f"π = {p:.2f} at μ = {m:.3g} (σ = {s:.2g})"
                                             for m, s, p in comps)
        + f". {int(np.sum(np.abs(wc) < 3 * mix.sigma[0]))} of the {wc.size} weights lie "
        "within three widths of the pinned centre at 0 — the compression view: those "
        "connections could be removed."
    )
    page.table(["method", "hyperparameter (validation)", "test mean squared error"],
               [["weight decay", f"α = {a_wd:g}", test["weight decay"]],
                ["soft weight sharing", f"λ = {a_sw:g}", test["soft weight sharing"]],
                ["early stopping", f"τ = {stopper.best_iter}", test["early stopping"]]])
    order = sorted(test, key=test.get)
    page.text(
        f"On this problem ({N} training and {N} validation points, test on {Xt.shape[0]}, "
        f"noise variance {0.2 ** 2:.3g}, each method's hyperparameter chosen on the same "
        f"validation data) the test errors rank {order[0]} ({test[order[0]]:.4f}), "
        f"{order[1]} ({test[order[1]]:.4f}), {order[2]} ({test[order[2]]:.4f}). One data set "
        "decides little: benchmarks/bench_regularizers.py repeats the comparison over "
        "seeds and problems."
    )
    for k, v in test.items():
        page.record("test_" + k.replace(" ", "_"), v)
    page.record("n_components_used", int(used.sum()))
    page.record("mixture_mu0", float(mix.mu[0]))
    page.record("density_integral", float(np.trapezoid(mix.density(grid), grid)))
    page.try_it(
        "import numpy as np, matplotlib.pyplot as plt\n"
        "from prmlnet import MLPRegressor\n"
        "from prmlnet.datasets import sinusoidal\n"
        "X, t = sinusoidal(25, rng=0, noise=0.2)\n"
        "reg = MLPRegressor(hidden_layer_sizes=(8,), weight_prior='mixture',\n"
        "                   n_prior_components=4, alpha=0.03, method='bfgs', max_iter=2000,\n"
        "                   random_state=0).fit(X, t.ravel())\n"
        "w = reg.w_[reg.mixture_.indices]\n"
        "grid = np.linspace(w.min(), w.max(), 400)\n"
        "plt.hist(w, bins=40, density=True); plt.plot(grid, reg.mixture_.density(grid))\n"
    )
