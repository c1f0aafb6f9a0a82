"""§5.5.1: consistent Gaussian priors, and functions drawn from the prior (Figure 5.11)."""

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import Network
from prmlnet.objective import Objective
from prmlnet.optim import minimize
from prmlnet.priors import gaussian_prior

TITLE = "5.5.1 Consistent Gaussian priors and samples from the prior (Figure 5.11)"
SECTION = "5.5.1"

# Figure 5.11: the base setting and one precision raised at a time (the book's panel
# values are not reproduced: these show each effect on one window of inputs).
BASE = {"W1": 1.0, "b1": 0.01, "W2": 1.0, "b2": 0.1}
FACTOR = 100.0
NAMES = {"W1": "α_w1", "b1": "α_b1", "W2": "α_w2", "b2": "α_b2"}
STATS = {"V": "vertical scale", "O": "vertical offset", "ell": "horizontal scale",
         "R": "input range of variation"}


def transformed_fit(net, X, T, alpha, beta, w0, a=1.0, b=0.0, c=1.0, d=0.0, scaled=True):
    """Train on (a x + b, c t + d) from the mapped start; return the network function
    mapped back to the original units, as a callable of x.

    ``scaled``: the first layer's α times a², the second layer's divided by c² and
    β by c² (§5.5.1); otherwise the same α for both layers' weights.
    """
    Wn = net.unpack(np.array(w0))
    (W1, b1), (W2, b2) = [(Wl.copy(), bl.copy()) for Wl, bl in Wn]
    start = np.concatenate([(W1 / a).ravel(), b1 - W1.sum(1) * b / a,
                            (c * W2).ravel(), c * b2 + d])
    if scaled:
        alpha = {"W1": alpha["W1"] * a * a, "W2": alpha["W2"] / (c * c)}
    prior = gaussian_prior(net, "layers", {**alpha, "b1": 1.0, "b2": 1.0}, biases=False)
    obj = Objective(net, a * X + b, c * T + d, prior=prior, beta=beta / (c * c))
    w = minimize(obj, start, "bfgs", max_iter=3000, gtol=1e-10).x
    return lambda x: (net.predict(w, a * x + b) - d) / c


def prior_statistics(net, alpha, x, n_samples, seed):
    """The four measured properties of functions drawn from the prior, and the draws
    (the same seed gives the same standard normals, scaled by each setting's 1/√α)."""
    prior = gaussian_prior(net, "layers", alpha)
    Y = np.stack([net.predict(w, x)[:, 0] for w in prior.sample(seed, n_samples)])
    dY = np.gradient(Y, x[1, 0] - x[0, 0], axis=1)
    mass = np.cumsum(np.abs(dY), axis=1)
    mass /= mass[:, -1:]
    lo, hi = x[np.argmax(mass > 0.05, axis=1), 0], x[np.argmax(mass > 0.95, axis=1), 0]
    return {"V": float(np.median(Y.std(1))),                       # spread of y along x
            "O": float(np.std(0.5 * (Y[:, 0] + Y[:, -1]))),        # level far from the middle
            "ell": float(np.median(Y.std(1) / np.sqrt(np.mean(dY ** 2, axis=1)))),
            "R": float(np.median(hi - lo))}, Y                     # 90 % of the variation


def run(page):
    quick, rng = page.quick, page.rng
    page.text(
        "Simple weight decay treats every weight alike, and that is inconsistent with a "
        "property a network should have: if the inputs are linearly rescaled, x → a x + b, "
        "a network whose first-layer weights are divided by a and whose biases are shifted "
        "computes the same function, so training on the rescaled data should find it. The "
        "data term is unchanged by that mapping of the weights, but a single α penalises "
        "the rescaled first-layer weights differently. A regulariser with one precision per "
        "layer's weights, biases left out, is invariant provided the precisions are rescaled "
        "with the data (§5.5.1):"
    )
    page.equation(r"\frac{\alpha_1}{2}\sum_{w \in \mathcal{W}_1} w^2 + \frac{\alpha_2}{2}"
                  r"\sum_{w \in \mathcal{W}_2} w^2, \qquad x \to a x + b:\ \alpha_1 \to a^2 "
                  r"\alpha_1, \qquad t \to c t + d:\ \alpha_2 \to \alpha_2 / c^2,\ "
                  r"\beta \to \beta / c^2")

    # -- the invariance, measured ---------------------------------------------------
    N = 12
    x = np.linspace(0.0, 1.0, N)[:, None]
    t = np.sin(2 * np.pi * x) + 0.2 * rng.standard_normal((N, 1))
    net = Network((1, 4, 1))
    w0 = net.init_weights(rng)
    alpha, beta = {"W1": 0.5, "W2": 0.5}, 10.0
    grid = np.linspace(-0.1, 1.1, 61)[:, None]
    ref = transformed_fit(net, x, t, alpha, beta, w0)(grid)
    cases = {"inputs": dict(a=10.0, b=-3.0), "targets": dict(c=5.0, d=2.0)}
    diff = {}
    for name, tr in cases.items():
        for scaled in (True, False):
            y = transformed_fit(net, x, t, alpha, beta, w0, scaled=scaled, **tr)(grid)
            diff[name, scaled] = float(np.max(np.abs(y - ref)))
    page.table(["transformation", "max |Δy|, α per layer rescaled", "max |Δy|, one α unchanged"],
               [["x → 10x − 3", diff["inputs", True], diff["inputs", False]],
                ["t → 5t + 2", diff["targets", True], diff["targets", False]]], fmt="{:.2e}")
    page.text(
        f"Measured on a 1-{net.sizes[1]}-1 network fitted by BFGS to {N} points: trained on "
        f"x → 10x − 3 with α_1 multiplied by 100, the network function, mapped back to the "
        f"original units, differs from the original fit by at most {diff['inputs', True]:.1e} "
        f"over the inputs (optimizer tolerance); keeping the same α for both layers it differs "
        f"by {diff['inputs', False]:.2g}. For targets t → 5t + 2 with α_2 and β divided by 25 "
        f"the difference is {diff['targets', True]:.1e}; with the α unchanged "
        f"{diff['targets', False]:.2g}. The biases are left out of the prior (α = 0): they "
        "absorb the shifts b and d."
    )
    for (name, scaled), v in diff.items():
        page.record(f"diff_{name}_{'scaled' if scaled else 'shared'}", v)

    # -- Figure 5.11: functions drawn from the prior --------------------------------------
    page.text(
        "Leaving the biases unpenalised makes the prior improper, so it cannot be sampled. "
        "With a precision for each layer's biases too — four in all, α_w1, α_b1, α_w2, α_b2 — "
        "it is a proper Gaussian over w, and drawing w from it and plotting y(x, w) shows "
        "what each precision says about the functions the network is expected to compute."
    )
    fig_net = Network((1, 12, 1))
    L = 20.0
    xs = np.linspace(-L, L, 241 if quick else 1201)[:, None]
    n_samples = 40 if quick else 300
    settings = [("base", BASE)] + [(k, {**BASE, k: BASE[k] * FACTOR}) for k in
                                   ("W2", "W1", "b1", "b2")]
    stats, draws = {}, {}
    seed = int(rng.integers(2 ** 31))
    for key, alpha in settings:
        stats[key], draws[key] = prior_statistics(fig_net, alpha, xs, n_samples, seed)
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    for ax, key in zip(axes.ravel(), ["base", "W2", "W1", "b1"]):
        alpha = dict(settings)[key]
        for y in draws[key][:10]:
            ax.plot(xs[:, 0], y, color="tab:red", lw=1)
        ax.set_title(", ".join(f"{NAMES[k]} = {alpha[k]:g}" for k in ("W1", "b1", "W2", "b2")),
                     fontsize=9)
        ax.set_xlabel("x")
        ax.set_ylabel("y(x, w)")
    fig.tight_layout()
    page.figure(fig, "prior-samples",
                "Figure 5.11: ten functions y(x, w) of a 1-12-1 tanh network with w drawn "
                "from the prior (GaussianPrior.sample), for a base setting and each of α_w2, "
                "α_w1, α_b1 raised 100-fold. The book's panel values are not reproduced; "
                "these show each effect on one window of inputs, with its own vertical axis.",
                "Four panels of ten random network functions each: the base setting, smaller "
                "amplitude when α_w2 is raised, slower variation when α_w1 is raised, and "
                "variation confined to a narrower range of x when α_b1 is raised.")
    ratio = {k: {s: stats[k][s] / stats["base"][s] for s in STATS} for k in NAMES}
    page.table(["raised ×100"] + list(STATS.values()),
               [[NAMES[k]] + [ratio[k][s] for s in STATS] for k in NAMES], fmt="{:.2f}")
    moved = {k: [s for s in STATS if abs(np.log(ratio[k][s])) > np.log(1.1)] for k in NAMES}
    lines = []
    for k in NAMES:
        parts = [f"the {STATS[s]} ×{ratio[k][s]:.2f}" for s in moved[k]]
        lines.append(f"raising {NAMES[k]} ×100 changes " + (", ".join(parts) or "nothing")
                     + (" and nothing else" if parts else ""))
    governs = {s: max(NAMES, key=lambda k: abs(np.log(ratio[k][s]))) for s in STATS}
    alone = [k for k in NAMES if moved[k] == ["O"]]
    page.text(
        f"Measured on {n_samples} draws per setting — the same standard normal draws, "
        f"scaled by each setting's 1/√α — over x in [−{L:g}, {L:g}] (the table gives each "
        "property relative to the base setting): " + "; ".join(lines) + ". "
        f"So the vertical scale is set by {NAMES[governs['V']]}, the horizontal scale of "
        f"the variations by {NAMES[governs['ell']]} and the range of inputs over which they "
        f"happen by {NAMES[governs['R']]}"
        + (f"; {', '.join(NAMES[k] for k in alone)} moves the vertical offset and nothing "
           "else." if alone else ".")
        + " Here the vertical scale is the median standard deviation of y along x, the "
        "offset the spread of the level midway between the two ends, the horizontal scale "
        "the ratio of the standard deviation of y to that of dy/dx, and the range the width "
        "of the interval holding 90 % of the variation ∫|dy/dx| dx."
    )
    for s in STATS:
        page.record(f"governs_{s}", list(NAMES).index(governs[s]))
        for k in NAMES:
            page.record(f"ratio_{k}_{s}", ratio[k][s])
    page.try_it(
        "import numpy as np, matplotlib.pyplot as plt\n"
        "from prmlnet import Network\n"
        "from prmlnet.priors import gaussian_prior\n"
        "net = Network((1, 12, 1))\n"
        "prior = gaussian_prior(net, 'layers', {'W1': 1.0, 'b1': 0.01, 'W2': 1.0, 'b2': 0.1})\n"
        "x = np.linspace(-20, 20, 400)[:, None]\n"
        "for w in prior.sample(np.random.default_rng(0), size=10):\n"
        "    plt.plot(x, net.predict(w, x))\n"
    )
