"""§5.2: a small network for two-class classification beside the Bayes boundary (as Figure 5.4)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.datasets import two_class, two_class_posterior
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = "5.2 Network training: a two-class boundary beside the Bayes-optimal one (Figure 5.4)"
SECTION = "5.2"


def run(page):
    page.text(
        "As in Figure 5.4: a network with two inputs, two tanh hidden units and a single "
        "logistic-sigmoid output, trained by minimising the cross-entropy error with scaled "
        "conjugate gradients and a small weight decay. The two classes have known "
        "Gaussian-mixture densities, so the Bayes-optimal boundary $p(C_1|\\mathbf{x}) = 0.5$ "
        "can be drawn exactly beside the network's $y(\\mathbf{x}, \\mathbf{w}) = 0.5$.")
    page.equation(r"E(\mathbf{w}) = -\sum_{n=1}^{N} \big\{ t_n \ln y_n + (1 - t_n) \ln(1 - y_n) \big\}",
                  "5.21")
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
    cache = net.forward(best.x, G)
    y = cache.y[:, 0].reshape(g1.shape)
    a_hidden = cache.a[0]                                   # (n_grid², 2): a_j of the hidden units
    post = two_class_posterior(G).reshape(g1.shape)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.plot(*X[T[:, 0] == 1].T, "x", ms=5, color="tab:red", label="class $C_1$ ($t = 1$)")
    ax.plot(*X[T[:, 0] == 0].T, "o", ms=4, mfc="none", color="tab:blue", label="class $C_2$ ($t = 0$)")
    for j in range(2):
        ax.contour(g1, g2, a_hidden[:, j].reshape(g1.shape), levels=[0.0], colors="tab:blue",
                   linestyles="--", linewidths=1.2)
    ax.contour(g1, g2, y, levels=[0.5], colors="tab:red", linewidths=2)
    ax.contour(g1, g2, post, levels=[0.5], colors="tab:green", linewidths=2)
    ax.plot([], [], "--", color="tab:blue", lw=1.2, label="hidden unit $a_j = 0$ ($z_j = 0$)")
    ax.plot([], [], color="tab:red", lw=2, label="network $y = 0.5$")
    ax.plot([], [], color="tab:green", lw=2, label="Bayes $p(C_1|x) = 0.5$")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    page.figure(fig, "boundary",
                "Figure 5.4: training data, the network's decision boundary (red), the "
                "Bayes-optimal boundary (green) and, dashed, where each hidden unit switches "
                "sign. The book draws the $z = 0.5$ contours of logistic hidden units; for tanh "
                "units the same half-way line is $z_j = 0$, i.e. $a_j = 0$.",
                "Scatter of two classes, red crosses and blue circles, with the network's red "
                "boundary close to the green optimal boundary and two dashed straight lines, "
                "one per hidden unit.")
    page.table(["", "test error rate"], [["network 2-2-1", err_net], ["Bayes optimal", err_bayes]])
    page.record("error_rate_network", err_net)
    page.record("error_rate_bayes", err_bayes)
    page.record("final_E", best.fun)
    page.text(
        f"On {len(Xt)} test points the network misclassifies {100 * err_net:.1f}% against "
        f"{100 * err_bayes:.1f}% for the Bayes-optimal rule, the lowest rate any classifier "
        "can reach on these densities: "
        + (f"{100 * (err_net - err_bayes):.1f} percentage points above it."
           if err_net > err_bayes else "the network matches it on this test set."))
    page.try_it("""
import matplotlib.pyplot as plt
import numpy as np
from prmlnet import Network
from prmlnet.datasets import two_class
from prmlnet.objective import Objective
from prmlnet.optim import minimize

X, T = two_class(200, np.random.default_rng(0))               # N = 200 points
net = Network((2, 2, 1), hidden="tanh", output="logistic")    # M = 2 hidden units
res = minimize(Objective(net, X, T, alpha=0.01), net.init_weights(0), "scg")   # alpha: weight decay
g1, g2 = np.meshgrid(np.linspace(-2.6, 2.6, 100), np.linspace(-2.2, 2.8, 100))
y = net.predict(res.x, np.column_stack([g1.ravel(), g2.ravel()])).reshape(g1.shape)
plt.scatter(X[:, 0], X[:, 1], c=T[:, 0], cmap="coolwarm", s=8)
plt.contour(g1, g2, y, levels=[0.5], colors="red")
plt.xlabel("x1"); plt.ylabel("x2")
plt.show()
""")
