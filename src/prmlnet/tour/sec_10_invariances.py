"""§5.5.3–5.5.5: invariances — transformed data, tangent propagation and the Tikhonov
regularizer (Figures 5.14, 5.15 and 5.16, and a table on the digits)."""

import warnings

import matplotlib.pyplot as plt
import numpy as np

from prmlnet import MLPClassifier, Network
from prmlnet.datasets import digits
from prmlnet.invariance import (ElasticWarp, Tikhonov, image_tangents, tikhonov_penalty,
                                transform_images, upsample)
from prmlnet.objective import Objective
from prmlnet.optim import minimize

TITLE = ("5.5.3–5.5.5 Invariances: transformed data, tangent propagation and Tikhonov "
         "(Figures 5.14–5.16)")
SECTION = "5.5.3"

DIGIT = 3           # the row of prmlnet.datasets.digits() shown in the figures (a "3")
ZOOM = 4            # the 8×8 digits are enlarged to 32×32 for the figures


def run(page):
    page.text(
        "A classifier of handwritten digits should give the same answer when a digit is "
        "shifted a little, rotated, drawn larger or with a thicker pen. §5.5.3 lists four "
        "ways to build such invariance in: train on transformed copies of the patterns, add "
        "a regularizer that penalises changes of the output under the transformations "
        "(tangent propagation), extract invariant features first, or build the invariance "
        "into the network's structure (convolutional networks, §5.5.6). This section shows "
        "the first two on scikit-learn's 8×8 digits, and the Tikhonov regularizer that "
        "training with input noise amounts to."
    )
    X, y = digits()
    img, shape = upsample(X[DIGIT:DIGIT + 1], (8, 8), ZOOM)
    _figure_5_14(page, img, shape)
    _figure_5_15(page)
    _figure_5_16(page, img, shape)
    _digits_table(page, X, y)
    _tikhonov(page)
    page.try_it(
        "import numpy as np\n"
        "from prmlnet import MLPClassifier\n"
        "from prmlnet.datasets import digits\n"
        "from prmlnet.invariance import image_tangents, transform_images\n"
        "X, y = digits()                                   # 8x8 images as rows in [0, 1]\n"
        "tau = image_tangents(X[:1], (8, 8), ['rotate'])  # (1, 1, 64): d image / d angle\n"
        "moved = transform_images(X[:1], (8, 8), 'rotate', np.deg2rad(10))\n"
        "clf = MLPClassifier(hidden_layer_sizes=(20,), alpha=0.1, max_iter=30, random_state=0,\n"
        "                    image_shape=(8, 8), invariances=('translate',), tangent_prop=10.0,\n"
        "                    augment='affine', n_augment=1).fit(X[:200], y[:200])\n"
        "print('test error', 1 - clf.score(X[200:], y[200:]))"
    )


# -- Figure 5.14: synthetic warping ----------------------------------------------------------
def _figure_5_14(page, img, shape):
    sigmas = (1.0, 3.0, 8.0)
    alpha = 1.5
    fig, axes = plt.subplots(2, 4, figsize=(10, 5.2))
    H, W = shape[1:]
    axes[0, 0].imshow(img.reshape(H, W), cmap="gray_r", vmin=0, vmax=1)
    axes[0, 0].set_title("original")
    axes[1, 0].axis("off")
    every = 4 if page.quick else 2
    r, c = np.mgrid[0:H:every, 0:W:every]
    for k, sigma in enumerate(sigmas, start=1):
        warp = ElasticWarp(shape, alpha=alpha, sigma=sigma)
        field = warp.displacement(page.rng)
        axes[0, k].imshow(warp.warp(img, field).reshape(H, W), cmap="gray_r", vmin=0, vmax=1)
        axes[0, k].set_title(f"σ = {sigma:g} px")
        # the arrows point from each output pixel to where it reads the input
        axes[1, k].quiver(c, r, field[1, ::every, ::every], field[0, ::every, ::every],
                          angles="xy", scale_units="xy", scale=0.5, width=0.006, color="k")
        axes[1, k].set_xlim(-1, W)
        axes[1, k].set_ylim(H, -1)
        axes[1, k].set_aspect("equal")
        axes[1, k].set_xlabel("column")
        page.record(f"elastic_rms_sigma{sigma:g}",
                    float(np.sqrt(np.mean(np.sum(field ** 2, axis=0)))))
    axes[1, 1].set_ylabel("row")
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    page.figure(fig, "warping",
                f"Figure 5.14: a digit (enlarged from 8×8 to {H}×{W} pixels with "
                f"scipy.ndimage.zoom) and three elastic warps of it (top) with their displacement "
                f"fields (bottom, arrows at every {every}th pixel, drawn twice their length). "
                f"Each "
                f"pixel's displacement is drawn at random, the field smoothed by a Gaussian of "
                f"width σ and scaled to a root-mean-square length of {alpha:g} pixels; the book's "
                f"widths are not known to us.",
                "A digit three and three warped versions: jittery for a narrow smoothing "
                "Gaussian, gently bent for a wide one, each above its field of displacement "
                "arrows.")
    page.text(
        "Training with transformed data (§5.5.3) copies every training pattern many times, "
        "each copy transformed at random: small shifts and rotations, or the elastic warps "
        "above (Simard et al. 2003), whose smoothing width decides whether the strokes "
        "jitter or bend. prmlnet.invariance.RandomAffine, ElasticWarp and InputNoise do it; "
        "batch methods get a fixed augmented set (augment), online methods a fresh "
        "transformation of every mini-batch (train_online(..., transform=...))."
    )


# -- Figure 5.15: a transformation sweeps a curve, locally along the tangent ---------------------
def _figure_5_15(page):
    xn = np.array([1.4, 0.5])
    centre = np.array([0.3, -0.2])
    xis = np.linspace(-1.2, 1.2, 200)

    def s(x, xi):                                  # rotation by ξ about the centre
        c, si = np.cos(xi), np.sin(xi)
        d = x - centre
        return centre + np.array([c * d[0] - si * d[1], si * d[0] + c * d[1]])

    curve = np.array([s(xn, xi) for xi in xis])
    tau = np.array([-(xn - centre)[1], (xn - centre)[0]])       # ∂s/∂ξ at ξ = 0
    eps = 1e-6
    numeric = (s(xn, eps) - s(xn, -eps)) / (2 * eps)
    page.record("figure_5_15_tangent_error", float(np.linalg.norm(numeric - tau)))
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.plot(curve[:, 0], curve[:, 1], color="tab:red", lw=2, label="ℳ: s(xₙ, ξ), |ξ| < 1.2")
    tip = xn + 0.5 * tau
    ax.annotate("", xy=tip, xytext=xn, arrowprops=dict(arrowstyle="-|>", color="tab:blue", lw=2))
    ax.text(tip[0] - 0.2, tip[1] + 0.05, "τₙ", color="tab:blue", fontsize=12)
    ax.plot(*xn, "o", color="k")
    ax.text(xn[0] + 0.06, xn[1] - 0.12, "xₙ", fontsize=12)
    ax.plot(*centre, "+", color="k", ms=10)
    ax.text(centre[0] + 0.05, centre[1] - 0.15, "centre of rotation", fontsize=8)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    pts = np.vstack([curve, tip, centre])
    ax.set_xlim(pts[:, 0].min() - 0.3, pts[:, 0].max() + 0.3)
    ax.set_ylim(pts[:, 1].min() - 0.3, pts[:, 1].max() + 0.3)
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower left")
    page.figure(fig, "manifold",
                "Figure 5.15: a two-dimensional input space. Rotating xₙ about a point by an "
                "angle ξ moves it along a curve ℳ (red), a one-dimensional manifold; for small ξ "
                "the move is along the tangent vector τₙ = ∂s(xₙ, ξ)/∂ξ at ξ = 0 (blue, drawn "
                "at half its length). The book sketches a general transformation; this one is a "
                "real rotation.",
                "A curved red arc through a black point with a blue arrow tangent to it at the "
                "point.")


# -- Figure 5.16: the rotation tangent vector of a digit ---------------------------------------
def _figure_5_16(page, img, shape):
    angle = np.deg2rad(15.0)
    tau = -image_tangents(img, shape, ["rotate"])[:, 0]        # clockwise: minus anticlockwise
    approx = img + angle * tau
    rotated = transform_images(img, shape, "rotate", -angle)
    H, W = shape[1:]
    lim = float(np.max(np.abs(tau)))
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2))
    panels = [(img, "(a) the digit x", "gray_r", 0, 1),
              (tau, "(b) tangent τ (clockwise)", "RdBu_r", -lim, lim),
              (approx, "(c) x + ε τ, ε = 15°", "gray_r", 0, 1),
              (rotated, "(d) x rotated by 15°", "gray_r", 0, 1)]
    for ax, (v, title, cmap, lo, hi) in zip(axes, panels):
        ax.imshow(v.reshape(H, W), cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    err = float(np.linalg.norm(approx - rotated) / np.linalg.norm(rotated - img))
    page.record("tangent_vs_rotation_15deg", err)
    small = np.deg2rad(3.0)
    err_small = float(np.linalg.norm(img + small * tau - transform_images(img, shape, "rotate",
                                                                          -small))
                      / np.linalg.norm(transform_images(img, shape, "rotate", -small) - img))
    page.record("tangent_vs_rotation_3deg", err_small)
    page.figure(fig, "tangent",
                f"Figure 5.16: (a) a digit, enlarged from 8×8 to {H}×{W} pixels with "
                "scipy.ndimage.zoom (at 8×8 a rotation moves strokes by fractions of a "
                "pixel); (b) the tangent vector of a small clockwise rotation, by central "
                "differences of rotated images (red brighter, blue darker); (c) the image "
                "plus 15° (in radians) times the tangent; (d) the image truly rotated by 15°.",
                "Four panels: a digit, its rotation tangent as a red and blue image, the digit "
                "plus that tangent, and the rotated digit, which (c) resembles.")
    page.text(
        f"The tangent is the first-order part of the transformation: x + ετ differs from the "
        f"truly rotated image by {err:.0%} of the change the rotation makes at 15°, and by "
        f"{err_small:.0%} at 3°, {err / err_small:.1f} times less for an angle 5 times "
        f"smaller. Tangent propagation sees only this first-order part, so it is about "
        f"small transformations; larger ones are the business of transformed data."
    )


# -- the table: test error on the digits --------------------------------------------------------
def _digits_table(page, X, y):
    page.equation(r"\Omega = \frac12 \sum_n \sum_k \Big(\sum_i J_{nki}\tau_{ni}\Big)^2, "
                  r"\qquad J_{nki} = \frac{\partial y_{nk}}{\partial x_{ni}}, \qquad "
                  r"\widetilde{E} = E + \lambda\Omega", "5.127–5.128")
    page.text(
        "Tangent propagation (§5.5.4) adds λΩ to the error: Ω sums, over the patterns and "
        "the transformations, the squared rate at which the outputs y change along each "
        "pattern's tangent vector τ. Its exact gradient comes from carrying J·τ forwards "
        "beside the activations — the R-operator's forward pass with a direction in input "
        "space instead of weight space — and one backward pass (prmlnet.invariance)."
    )
    quick = page.quick
    n_train, seeds = (100, 1) if quick else (200, 3)
    max_iter, n_test = (10, 200) if quick else (150, None)
    settings = dict(hidden_layer_sizes=(20,), alpha=0.1, max_iter=max_iter, image_shape=(8, 8))
    tp = dict(invariances=("translate", "rotate"), tangent_prop=3.0)
    aug = dict(augment="elastic", n_augment=1 if quick else 2)
    rows = [("plain training", {}), ("tangent propagation", tp), ("transformed data", aug),
            ("both", {**tp, **aug})]
    errors = {name: [] for name, _ in rows}
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(X))
        train, test = order[:n_train], order[n_train:][:n_test]
        for name, extra in rows:
            clf = MLPClassifier(random_state=seed, **settings, **extra)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")              # max_iter reached: by design
                clf.fit(X[train], y[train])
            errors[name].append(float(np.mean(clf.predict(X[test]) != y[test])))
    page.table(["training", "mean test error", "std over seeds", "per seed"],
               [[name, float(np.mean(e)), float(np.std(e)), " ".join(f"{v:.3f}" for v in e)]
                for name, e in errors.items()])
    keys = ["plain", "tangent_prop", "transformed", "both"]
    for key, (name, _) in zip(keys, rows):
        page.record(f"test_error_{key}", float(np.mean(errors[name])))
    m = {k: 100 * float(np.mean(errors[name])) for k, (name, _) in zip(keys, rows)}
    plain = np.array(errors[rows[0][0]])
    d = {k: 100 * float(np.mean(np.array(errors[name]) - plain))
         for k, (name, _) in zip(keys, rows)}
    page.text(
        f"Test error on the {len(X) - n_train if n_test is None else n_test} digits left out, "
        f"after training a 64-20-10 softmax network (α = 0.1, {max_iter} scaled conjugate "
        f"gradient iterations) on {n_train}, averaged over {seeds} random split"
        f"{'s' if seeds > 1 else ''}: {m['plain']:.1f} % with plain training, "
        f"{m['tangent_prop']:.1f} % with tangent propagation (translations and rotation, "
        f"λ = 3), "
        f"{m['transformed']:.1f} % on the originals and {aug['n_augment']} elastically warped "
        f"copies of each (prmlnet's 'elastic': 0.5 pixels rms, σ = 1.5 pixels), and "
        f"{m['both']:.1f} % with both. On the same splits the changes from plain training are "
        f"{d['tangent_prop']:+.1f}, {d['transformed']:+.1f} and {d['both']:+.1f} points, while "
        f"plain training's error itself varies by {100 * float(np.std(plain)):.1f} points "
        f"(standard deviation) from split to split; benchmarks/bench_invariance.py runs more "
        f"splits."
    )


# -- Tikhonov: training with noise ------------------------------------------------------------
def _tikhonov(page):
    page.equation(r"\widetilde{E} = E + \xi^2\Omega + O(\xi^4), \qquad "
                  r"\Omega = \frac12 \sum_n \|\nabla_{\mathbf{x}}\mathbf{y}(\mathbf{x}_n)\|^2",
                  "§5.5.5")
    quick = page.quick
    teacher = Network((1, 3, 1))
    w_true = 1.5 * teacher.init_weights(4)
    N = 20 if quick else 40
    X = np.linspace(-1, 1, N)[:, None]
    T = teacher.predict(w_true, X)                 # noise-free: y = E[t|x] on the data
    xis = (0.2, 0.1) if quick else (0.2, 0.1, 0.05, 0.025)
    grid = np.linspace(-1, 1, 201)[:, None]
    y0 = teacher.predict(w_true, grid)
    Omega, dOmega = tikhonov_penalty(teacher, w_true, X)
    level, slope, gap, effect, fits = [], [], [], [], {}
    for xi in xis:
        # input noise ε = ±ξ with equal probability (mean 0, variance ξ²), both signs used,
        # so the expected error is computed exactly; β = ½ averages over the two
        noisy = Objective(teacher, np.vstack([X - xi, X + xi]), np.vstack([T, T]), beta=0.5)
        E_noise, g_noise = noisy(w_true)           # at the regression function E = 0, ∇E = 0
        level.append(abs(E_noise / (xi ** 2 * Omega) - 1.0))
        slope.append(float(np.linalg.norm(g_noise - xi ** 2 * dOmega)
                           / np.linalg.norm(xi ** 2 * dOmega)))
        tik = Objective(teacher, X, T, terms=[Tikhonov(teacher, xi ** 2)])
        w_noise = minimize(noisy, w_true, "bfgs", max_iter=2000, gtol=1e-9).x
        w_tik = minimize(tik, w_true, "bfgs", max_iter=2000, gtol=1e-9).x
        yn, yt = teacher.predict(w_noise, grid), teacher.predict(w_tik, grid)
        gap.append(float(np.sqrt(np.mean((yn - yt) ** 2))))
        effect.append(float(np.sqrt(np.mean((yn - y0) ** 2))))
        fits[xi] = (yn, yt)
    for xi, l, d, g, e in zip(xis, level, slope, gap, effect):
        page.record(f"tikhonov_error_level_xi{xi:g}", l)
        page.record(f"tikhonov_gradient_mismatch_xi{xi:g}", d)
        page.record(f"noise_tikhonov_gap_xi{xi:g}", g)
        page.record(f"noise_effect_xi{xi:g}", e)
    xi2 = np.array(xis) ** 2
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8))
    yn, yt = fits[xis[0]]
    ax0.plot(grid[:, 0], y0[:, 0], color="tab:green", lw=1.5, label="regression function")
    ax0.plot(grid[:, 0], yn[:, 0], color="tab:red", lw=2,
             label=f"trained with noise, ξ = {xis[0]:g}")
    ax0.plot(grid[:, 0], yt[:, 0], "--", color="tab:blue", lw=2, label="Tikhonov, λ = ξ²")
    ax0.plot(X[:, 0], T[:, 0], ".", color="k", label="training data")
    ax0.set_xlabel("x")
    ax0.set_ylabel("y")
    ax0.legend(fontsize=7)
    ax1.loglog(xi2, level, "o-", color="k", label="|Ẽ/(ξ²Ω) − 1| at the regression function")
    ax1.loglog(xi2, slope, "d:", color="0.5", label="‖∇Ẽ − ξ²∇Ω‖/‖ξ²∇Ω‖ there")
    ax1.loglog(xi2, gap, "s-", color="tab:red", label="rms gap: noise fit − Tikhonov fit")
    ax1.loglog(xi2, effect, "^--", color="tab:blue", label="rms gap: noise fit − regression fn")
    ax1.set_xlabel("ξ²")
    ax1.set_ylabel("relative or rms difference")
    ax1.legend(fontsize=7)
    page.figure(fig, "tikhonov",
                "Not a figure of the book. Left: a 1-3-1 network fitted to noise-free values of "
                "a network of the same "
                f"shape (green) at {N} inputs, trained with input noise (red) and with the "
                "Tikhonov term instead (blue), both started from the true weights. Right: "
                "against ξ², at the true weights how far the noise error departs from E + ξ²Ω "
                "(black) and its gradient from ξ²∇Ω (grey); and how far the trained functions "
                "lie from each other (red) and from the regression function (blue).",
                "Left, three close curves over the data points; right, on log-log axes three "
                "falling lines and one flat line.")
    rate = lambda v: float(v[-2] / v[-1])          # noqa: E731  (drop per halving of ξ)
    page.record("error_level_drop_per_halving", rate(level))
    page.record("gap_drop_per_halving", rate(gap))
    ratio = [g / e for g, e in zip(gap, effect)]
    page.record("gap_over_effect_smallest_xi", ratio[-1])
    shrinks = ratio[-1] < 0.5 * ratio[0]
    page.text(
        f"Training with input noise of variance ξ² minimises the expected error Ẽ, which "
        f"expands as E + ξ²Ω plus a term in (y − t)∇²y that vanishes where y is the "
        f"regression function E[t|x] (§5.5.5). Here the targets are noise-free outputs of a "
        f"network of the same shape, so at its weights E = 0 and the expansion can be checked "
        f"alone: Ẽ/(ξ²Ω) − 1 falls from {level[0]:.2g} to {level[-1]:.2g} as ξ goes from "
        f"{xis[0]:g} to {xis[-1]:g}, {rate(level):.1f} times per halving of ξ — the O(ξ⁴) "
        f"remainder. Trained with the noise and with the Tikhonov term λ = ξ², the two "
        f"networks converge to the same function: the rms gap between them falls from "
        f"{gap[0]:.2g} to {gap[-1]:.2g}, {rate(gap):.1f} times per halving. Relative to "
        f"each fit's distance from the regression function, though, the gap "
        f"{'shrinks' if shrinks else 'does not shrink'}: the ratio is {ratio[0]:.2f} at "
        f"ξ = {xis[0]:g} and {ratio[-1]:.2f} at ξ = {xis[-1]:g}. The dropped term is zero at "
        f"the regression function, but its gradient is not: there ∇Ẽ differs from ξ²∇Ω by "
        f"{slope[0]:.0%} at ξ = {xis[0]:g} and by {slope[-1]:.0%} at ξ = {xis[-1]:g}, so the "
        f"term moves the minimum at order ξ², as the Tikhonov term itself does. The "
        f"expansion of the error holds to order ξ²; the trained networks agree only as "
        f"closely as each stays near the regression function."
    )
