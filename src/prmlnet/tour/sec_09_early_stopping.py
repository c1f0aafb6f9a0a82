"""§5.5.2: early stopping (Figures 5.12 and 5.13)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import sinusoidal
from prmlnet.objective import Objective
from prmlnet.optim import EarlyStopping, minimize

TITLE = "5.5.2 Early stopping (Figures 5.12 and 5.13)"
SECTION = "5.5.2"


def run(page):
    quick, rng = page.quick, page.rng
    page.text(
        "Training a flexible network drives the training error down steadily, while the "
        "error on independent validation data typically falls at first and then rises as "
        "the network starts to fit the noise. Stopping at the minimum of the validation "
        "error gives a network with good generalisation without choosing a regulariser; "
        "prmlnet's EarlyStopping callback watches the validation error during any batch "
        "method and keeps the weights where it was lowest."
    )

    # -- Figure 5.12 --------------------------------------------------------------------
    X, T = sinusoidal(12, rng, noise=0.3)
    Xv, Tv = sinusoidal(50, rng, noise=0.3)
    net = Network((1, 10, 1))
    stopper = EarlyStopping(lambda w: net.error(w, Xv, Tv) / len(Xv), patience=10 ** 9)
    n_iter = 400 if quick else 1500
    res = minimize(Objective(net, X, T), net.init_weights(rng), "scg", max_iter=n_iter,
                   gtol=1e-12, ftol=0, callback=stopper)
    it = np.arange(len(res.history.fun))
    train = res.history.fun / len(X)
    val_it, val = np.array(stopper.history).T
    best = stopper.best_iter
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax1.plot(it, train, color="tab:red")
    ax2.plot(val_it, val, color="tab:blue")
    for ax in (ax1, ax2):
        ax.axvline(best, color="k", ls="--", lw=0.8)
        ax.set_xlabel("iteration τ")
        ax.set_xscale("log")
    ax1.set_ylabel("training error per pattern")
    ax2.set_ylabel("validation error per pattern")
    ax1.set_yscale("log")
    fig.tight_layout()
    page.figure(fig, "curves",
                f"Figure 5.12: training (left) and validation (right) sum-of-squares error per "
                f"pattern of a 1-10-1 tanh network trained by scaled conjugate gradients on 12 "
                f"points of the sinusoidal data, validation on 50 more; the dashed line marks "
                f"the validation minimum (iteration {best}). Log axes, unlike the book's.",
                "Two curves against iterations: the training error falls throughout; the "
                "validation error falls to a minimum, marked by a dashed line, and then rises.")
    end_val = float(val[-1])
    page.text(
        f"Here the validation error per pattern is lowest at iteration {best} "
        f"({stopper.best_error:.3g}; the noise alone gives ½σ² = {0.5 * 0.3 ** 2:.3g} on "
        f"average); by "
        f"iteration {int(val_it[-1])} it has risen to {end_val:.3g} while the training error "
        f"fell from {train[best]:.3g} to {train[-1]:.3g}. The weights kept are those at "
        f"iteration {best} (stopper.best_w)."
    )
    page.record("best_iter", best)
    page.record("best_validation_error", stopper.best_error)
    page.record("final_validation_error", end_val)
    page.record("final_training_error", float(train[-1]))
    page.record("training_error_at_best", float(train[best]))

    # -- Figure 5.13 --------------------------------------------------------------------
    page.text(
        "Why early stopping behaves like weight decay (§5.5.2): near a minimum w* the error "
        "is quadratic, and gradient descent with step η from w = 0 moves along each "
        "eigenvector u_i of the Hessian as 1 − (1 − ηλ_i)^τ of the way to w*. Directions of "
        "high curvature are fitted within a few steps; directions of low curvature still "
        "sit near zero when training stops — just what weight decay does, which shrinks the "
        "i-th component of w* by λ_i / (λ_i + α). The two agree roughly for α = 1/(ητ), so "
        "ητ plays the part of 1/α, and the effective number of parameters grows with the "
        "iterations."
    )
    page.equation(r"w_i^{(\tau)} = \{1 - (1 - \eta\lambda_i)^\tau\}\, w_i^\star, \qquad "
                  r"w_i(\alpha) = \frac{\lambda_i}{\lambda_i + \alpha}\, w_i^\star, \qquad "
                  r"\alpha \simeq (\eta\tau)^{-1}")
    lam = np.array([0.05, 1.0])                    # unequal curvatures: w1 poorly determined
    w_star = np.array([2.0, 1.5])
    eta = 0.5 / lam.max()
    tau = int(round(1.0 / (eta * lam.min())))      # ητλ_1 = 1

    def quadratic(w):
        d = w - w_star
        return 0.5 * float(d @ (lam * d)), lam * d

    path = [np.zeros(2)]
    minimize(quadratic, np.zeros(2), "gd", learning_rate=eta, max_iter=tau, gtol=0.0, ftol=0.0,
             callback=lambda info: path.append(np.array(info.x)) and False)
    path = np.array(path)
    w_es = path[-1]
    alpha = 1.0 / (eta * tau)
    alphas = np.geomspace(1e-3, 1e2, 200)
    decay = (lam / (lam + alphas[:, None])) * w_star
    w_wd = lam / (lam + alpha) * w_star
    gamma_es = float(np.sum(1 - (1 - eta * lam) ** tau))
    gamma_wd = float(np.sum(lam / (lam + alpha)))
    fig, ax = plt.subplots(figsize=(6, 5))
    n = 60 if quick else 200
    g1, g2 = np.meshgrid(np.linspace(-0.5, 3, n), np.linspace(-0.5, 2.5, n))
    E = 0.5 * (lam[0] * (g1 - w_star[0]) ** 2 + lam[1] * (g2 - w_star[1]) ** 2)
    ax.contour(g1, g2, E, levels=[0.02, 0.1, 0.3, 0.6], colors="tab:red", linewidths=0.8)
    ax.plot(*decay.T, color="tab:green", lw=1.5, label="weight-decay minima w(α)")
    ax.plot(*path.T, ".-", color="k", ms=3, lw=0.8, label="gradient descent from 0")
    ax.plot(*w_es, "o", mfc="none", color="tab:blue", ms=10, label=f"stopped, τ = {tau}")
    ax.plot(*w_wd, "x", color="tab:green", ms=10, mew=2, label=f"w(α), α = 1/(ητ) = {alpha:.3g}")
    ax.plot(*w_star, "*", color="tab:red", ms=12, label="w* (minimum)")
    ax.set_xlabel("w₁ (curvature λ₁ = 0.05)")
    ax.set_ylabel("w₂ (curvature λ₂ = 1)")
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower right")
    page.figure(fig, "quadratic",
                "Figure 5.13 on a real two-weight quadratic error: contours of E, the path of "
                "gradient descent with a fixed step from the origin, the point where it is "
                "stopped after τ steps, and the curve of weight-decay minima w(α) with the "
                "point for α = 1/(ητ). The book sketches one stopped point beside the "
                "weight-decay solution; here both are computed.",
                "Elliptical contours around the minimum, a gradient-descent path that first "
                "moves along the steep direction, and a stopped point lying next to the "
                "weight-decay curve.")
    dist = float(np.linalg.norm(w_es - w_wd))
    page.text(
        f"With η = {eta:g} and τ = {tau} steps, early stopping leaves w at "
        f"({w_es[0]:.3f}, {w_es[1]:.3f}); weight decay with α = 1/(ητ) = {alpha:.3g} gives "
        f"({w_wd[0]:.3f}, {w_wd[1]:.3f}), {dist:.3f} away, against |w*| = "
        f"{np.linalg.norm(w_star):.3f}. The well-determined weight w₂ is fitted "
        f"({w_es[1] / w_star[1]:.0%} of w₂*), the poorly determined w₁ is held back "
        f"({w_es[0] / w_star[0]:.0%} of w₁*). Effective number of parameters: "
        f"Σ{{1 − (1 − ηλ_i)^τ}} = {gamma_es:.3f} for early stopping, Σ λ_i/(λ_i + α) = "
        f"{gamma_wd:.3f} for weight decay, of 2."
    )
    page.record("quadratic_distance", dist)
    page.record("quadratic_norm", float(np.linalg.norm(w_star)))
    page.record("gamma_early_stopping", gamma_es)
    page.record("gamma_weight_decay", gamma_wd)
    page.record("fraction_w1", float(w_es[0] / w_star[0]))
    page.record("fraction_w2", float(w_es[1] / w_star[1]))
    page.try_it(
        "import numpy as np\n"
        "from prmlnet import Network\n"
        "from prmlnet.datasets import sinusoidal\n"
        "from prmlnet.objective import Objective\n"
        "from prmlnet.optim import EarlyStopping, minimize\n"
        "X, T = sinusoidal(12, rng=0); Xv, Tv = sinusoidal(50, rng=1)\n"
        "net = Network((1, 10, 1))\n"
        "stop = EarlyStopping(lambda w: net.error(w, Xv, Tv), patience=50)\n"
        "res = minimize(Objective(net, X, T), net.init_weights(0), 'scg', max_iter=1000,\n"
        "               callback=stop)\n"
        "w = stop.best_w        # the weights at the validation minimum\n"
    )
