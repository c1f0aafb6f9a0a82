"""§5.2: a small network for two-class classification beside the Bayes boundary (as Figure 5.4)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import two_class, two_class_posterior
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.2 Two-class classification: network boundary and Bayes-optimal boundary (as Figure 5.4)"


def run(page):
    page.text(
        "As in Figure 5.4: a network with two inputs, two tanh hidden units and a single "
        "logistic-sigmoid output, trained by minimising the cross-entropy error (5.21) with "
        "scaled conjugate gradients. The data come from two classes whose densities are "
        "known mixtures of Gaussians, so the Bayes-optimal decision boundary "
        "p(C1|x) = 0.5 can be drawn exactly beside the network's y(x, w) = 0.5."
    )
    page.equation("E(w) = −Σ_n { t_n ln y_n + (1 − t_n) ln(1 − y_n) }", "5.21")
    n_train = 200
    X, T = two_class(n_train, page.rng)
    Xt, Tt = two_class(2000 if page.quick else 20000, page.rng)
    net = Network((2, 2, 1), hidden="tanh", output="logistic")
    obj = Objective(net, X, T, alpha=0.01)
    best = None
    for _ in range(2 if page.quick else 5):
        res = minimize(obj, net.init_weights(page.rng), "scg", max_iter=200 if page.quick else 2000)
        if best is None or res.fun < best.fun:
            best = res
    err_net = float(np.mean((net.predict(best.x, Xt)[:, 0] > 0.5) != (Tt[:, 0] > 0.5)))
    err_bayes = float(np.mean((two_class_posterior(Xt) > 0.5) != (Tt[:, 0] > 0.5)))
    n_grid = 120 if page.quick else 250
    g1, g2 = np.meshgrid(np.linspace(-2.6, 2.6, n_grid), np.linspace(-2.2, 2.8, n_grid))
    G = np.column_stack([g1.ravel(), g2.ravel()])
    y = net.predict(best.x, G)[:, 0].reshape(g1.shape)
    post = two_class_posterior(G).reshape(g1.shape)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot(*X[T[:, 0] == 0].T, "o", ms=4, mfc="none", color="tab:blue", label="class C2 (t = 0)")
    ax.plot(*X[T[:, 0] == 1].T, "x", ms=4, color="tab:red", label="class C1 (t = 1)")
    ax.contour(g1, g2, y, levels=[0.5], colors="tab:red", linewidths=2)
    ax.contour(g1, g2, post, levels=[0.5], colors="tab:green", linewidths=2)
    ax.plot([], [], color="tab:red", lw=2, label="network y = 0.5")
    ax.plot([], [], color="tab:green", lw=2, label="Bayes p(C1|x) = 0.5")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    page.figure(fig, "boundary", "Training data, the network's decision boundary (red) and the "
                "Bayes-optimal boundary (green).")
    page.table(["", "test error rate"], [["network 2-2-1", err_net], ["Bayes optimal", err_bayes]])
    page.record("error_rate_network", err_net)
    page.record("error_rate_bayes", err_bayes)
    page.record("final_E", best.fun)
    page.text(
        f"On {len(Xt)} test points the network misclassifies {100 * err_net:.1f}% against "
        f"{100 * err_bayes:.1f}% for the Bayes-optimal rule, the lowest rate any classifier "
        "can reach on these densities."
    )
