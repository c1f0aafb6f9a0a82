"""§5.5.6: convolutional networks — Figure 5.17 from a trained network, its kernels and
feature maps, and its test error on the digits beside a multilayer perceptron, each
trained plainly, with tangent propagation and with transformed data."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import ConnectionPatch, Rectangle

from prmlnet import ConvNetClassifier, MLPClassifier, datasets

TITLE = "5.5.6 Convolutional networks (Figure 5.17)"
SECTION = "5.5.6"

SPEC = "conv:6x3x3-sub-dense:20"      # 6 feature maps of 3×3 kernels, 2×2 subsampling
MLP_UNITS = 18                        # 64-18-10: about as many weights as the CNN

TRY_IT = """\
from prmlnet import ConvNetClassifier, datasets
X, y = datasets.digits()                      # 8×8 images as flat (1, 8, 8) rows
clf = ConvNetClassifier("conv:6x3x3-sub-dense:20", alpha=0.1, max_iter=60,
                        random_state=0).fit(X[:300], y[:300])
c = clf.net_.forward(clf.w_, X[300:301])      # the activations of one digit
maps = c.inputs[1].reshape(clf.net_.layers[0].out_shape)   # its 6 feature maps, 6×6
print(maps.shape, 1 - clf.score(X[300:], y[300:]))
"""


#: the invariances of §5.5.3-5.5.5 for both models, as in the invariances section
TANGENT_PROP = dict(invariances=("translate", "rotate"), tangent_prop=3.0)
TRAININGS = ("plain", "tangent propagation", "transformed data")


def describe_comparison(mean, W_cnn, W_mlp, n_train, n_test, max_iter, n_seeds):
    """The sentence comparing the mean test errors of plain training, from the numbers."""
    cnn, mlp = mean["CNN"], mean["MLP"]
    if abs(cnn - mlp) < 0.0005:
        verdict = f"the same as the {mlp:.3f} of"
    else:
        verdict = f"{'lower' if cnn < mlp else 'higher'} than the {mlp:.3f} of"
    return (f"Trained on {n_train} digits (α = 0.1, scaled conjugate gradients, {max_iter} "
            f"iterations, {n_seeds} seed{'s' if n_seeds > 1 else ''}) and tested on the other "
            f"{n_test}, the convolutional network with W = {W_cnn} weights has a mean test "
            f"error of {cnn:.3f}, {verdict} a two-layer perceptron with W = {W_mlp}.")


def describe_invariances(change, spread, n_augment, lam):
    """The sentence on what the invariances change, from the mean paired changes (in
    points of test error) of each model and the split-to-split spread of plain training
    (None for a single split)."""
    tp, tr = change["tangent propagation"], change["transformed data"]
    text = (f"Tangent propagation (translations and rotation, λ = {lam:g}) changes the test "
            f"error by {tp['CNN']:+.1f} points for the convolutional network and by "
            f"{tp['MLP']:+.1f} for the perceptron; training on the originals and {n_augment} "
            f"elastically warped cop{'ies' if n_augment > 1 else 'y'} of each changes it by "
            f"{tr['CNN']:+.1f} and {tr['MLP']:+.1f} points")
    if spread is None:
        return text + (" on this one split; benchmarks/bench_invariance.py --cnn runs "
                       "several.")
    return text + (f" (means of the changes on the same splits), while plain training's "
                   f"error itself varies by {spread['CNN']:.1f} and {spread['MLP']:.1f} "
                   f"points (standard deviation) from split to split; "
                   f"benchmarks/bench_invariance.py --cnn runs more splits.")


def train_pair(X, y, seed, max_iter, training, n_augment):
    """The CNN and the MLP of one seed, trained plainly or with one invariance (one of
    :data:`TRAININGS`); benchmarks/bench_invariance.py --cnn calls it too."""
    extra = {"plain": {}, "tangent propagation": TANGENT_PROP,
             "transformed data": dict(augment="elastic", n_augment=n_augment)}[training]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # max_iter reached: expected here
        cnn = ConvNetClassifier(SPEC, alpha=0.1, max_iter=max_iter, random_state=seed,
                                **extra).fit(X, y)
        mlp = MLPClassifier((MLP_UNITS,), alpha=0.1, max_iter=max_iter, random_state=seed,
                            image_shape=(8, 8), **extra).fit(X, y)
    return cnn, mlp


def _image(ax, img, label, cmap="gray_r", lim=None):
    cm = plt.get_cmap(cmap).with_extremes(bad="white")
    ax.imshow(img, cmap=cm, vmin=None if lim is None else -lim, vmax=lim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(label, fontsize=8)
    ax.set_frame_on(not np.isnan(img).any())        # a mosaic of maps needs no frame


def _mosaic(maps, vertical=True):
    """Maps (M, h, w) side by side in one image, a blank line between them (one axes
    draws fast). Returns the image and the offset of each map."""
    M, h, w = maps.shape
    if vertical:
        out = np.full((M * (h + 1) - 1, w), np.nan)
        for k in range(M):
            out[k * (h + 1):k * (h + 1) + h] = maps[k]
        return out, [(k * (h + 1), 0) for k in range(M)]
    out = np.full((h, M * (w + 1) - 1), np.nan)
    for k in range(M):
        out[:, k * (w + 1):k * (w + 1) + w] = maps[k]
    return out, [(0, k * (w + 1)) for k in range(M)]


def _box(ax, row, col, h, w, color, **kw):
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), w, h, fill=False, ec=color, lw=2, **kw))


def _figure_5_17(net, w, x, label):
    """Input image, feature maps, subsampled maps and outputs of one digit."""
    conv, sub = net.layers[0], net.layers[1]
    c = net.forward(w, x[None])
    M = conv.n_maps
    kh, kw = conv.kernel_size
    feat, f_off = _mosaic(c.inputs[1].reshape(conv.out_shape))
    pooled, p_off = _mosaic(c.inputs[2].reshape(sub.out_shape))
    fig, (inp, fa, pa, out) = plt.subplots(1, 4, figsize=(10, 5.2),
                                          gridspec_kw={"width_ratios": [2.4, 1.2, 0.8, 2.2]})
    _image(inp, x.reshape(conv.in_shape[1:]), f"input image (digit {label}), 8 × 8")
    _image(fa, feat, f"convolutional layer:\n{M} maps of {kh}×{kw} kernels", "RdBu_r", 1)
    _image(pa, pooled, "subsampling\nlayer: 2×2", "RdBu_r", 1)
    m, y0, x0 = 1, 2, 3                         # one unit of feature map 2 ...
    r0, c0 = f_off[m]
    _box(inp, y0, x0, kh, kw, "tab:red")
    _box(fa, r0 + y0, c0 + x0, 1, 1, "tab:red")
    yb, xb = y0 // 2, x0 // 2                  # ... and the subsampling unit above it
    _box(fa, r0 + 2 * yb, c0 + 2 * xb, 2, 2, "tab:orange", ls="--")
    _box(pa, p_off[m][0] + yb, p_off[m][1] + xb, 1, 1, "tab:orange")
    for dy in (-0.5, kh - 0.5):
        fig.add_artist(ConnectionPatch((x0 + kw - 0.5, y0 + dy), (c0 + x0 - 0.5, r0 + y0 + (dy > 0) - 0.5),
                                       "data", "data", axesA=inp, axesB=fa, color="tab:red", lw=0.8))
    fig.add_artist(ConnectionPatch((c0 + 2 * xb + 1.5, r0 + 2 * yb - 0.5),
                                   (p_off[m][1] + xb - 0.5, p_off[m][0] + yb - 0.5), "data", "data",
                                   axesA=fa, axesB=pa, color="tab:orange", lw=0.8))
    out.barh(np.arange(10), c.y[0], color="tab:red")
    out.set_yticks(range(10))
    out.invert_yaxis()
    out.set_xlim(0, 1)
    out.set_xlabel("output y_k (softmax)", fontsize=8)
    out.set_ylabel("class k", fontsize=8)
    out.set_title(f"after a dense layer of {net.layers[2].n_out} units", fontsize=8)
    return fig


def _kernels_and_maps(net, w, x):
    conv = net.layers[0]
    K, b = conv.unpack(w[net.layer_slices()[0]])
    c = net.forward(w, x[None])
    fig, axes = plt.subplots(3, 1, figsize=(8, 4.2))
    _image(axes[0], _mosaic(K[:, 0], vertical=False)[0],
           "kernels K_m (biases " + ", ".join(f"{v:+.2f}" for v in b) + ")",
           "RdBu_r", np.abs(K).max())
    _image(axes[1], _mosaic(c.inputs[1].reshape(conv.out_shape), vertical=False)[0],
           "feature maps z of the digit", "RdBu_r", 1)
    _image(axes[2], _mosaic(c.inputs[2].reshape(net.layers[1].out_shape), vertical=False)[0],
           "after 2×2 subsampling", "RdBu_r", 1)
    fig.tight_layout()
    return fig


def run(page):
    quick = page.quick
    X, y = datasets.digits()
    # the tour's settings; benchmarks/bench_invariance.py --cnn runs them with more seeds
    n_train, seeds = (80, [0]) if quick else (200, [0, 1, 2])
    max_iter, n_augment = (20, 1) if quick else (150, 2)
    page.text(
        "A convolutional network builds the invariance to small translations into its "
        "structure (§5.5.6). Units of a convolutional layer are organised in feature maps; "
        "each unit sees a small patch of the image (its receptive field), and all units of a "
        "map share one kernel and one bias, so every map detects one pattern wherever it "
        "occurs. A subsampling layer averages non-overlapping 2×2 blocks of each map, "
        "scales the average by one adaptive weight and adds one bias per map. The layers "
        "here are prmlnet.convolution.Conv2D and Subsampling, written against the same "
        "layer primitives as the dense layers, so backpropagation, the R-operator, the "
        "exact Hessian and the Laplace approximation apply to them unchanged."
    )
    page.equation(r"a_{m y x} = \sum_{c, i, j} K_{m c i j}\, z_{c,\, y+i,\, x+j} + b_m, "
                  r"\qquad a^{\mathrm{sub}}_{m y x} = w_m \frac{1}{4} \sum_{(i,j) \in \mathrm{block}(y,x)}"
                  r" z_{m i j} + b'_m", "§5.5.6")
    errors = {(m, t): [] for t in TRAININGS for m in ("CNN", "MLP")}
    nets = {}
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(X.shape[0])
        train, test = order[:n_train], order[n_train:]
        for training in TRAININGS:
            cnn, mlp = train_pair(X[train], y[train], seed, max_iter, training, n_augment)
            errors["CNN", training].append(1.0 - cnn.score(X[test], y[test]))
            errors["MLP", training].append(1.0 - mlp.score(X[test], y[test]))
            if training == "plain":
                nets.setdefault("cnn", (cnn, test))
                nets.setdefault("mlp", mlp)
    cnn, test = nets["cnn"]
    net, w = cnn.net_, cnn.w_
    # a test digit whose last column is empty, so that a shift right loses nothing
    k = int(page.rng.choice([i for i in test if not X[i].reshape(8, 8)[:, -1].any()]))
    page.figure(_figure_5_17(net, w, X[k], y[k]), "figure-5-17",
                "Figure 5.17: drawn from a trained network, the receptive field (red) of one unit "
                "of feature map 2, that unit, and the 2×2 block (orange) that one subsampling "
                "unit averages; then the class probabilities after a dense layer. The book's "
                "figure is a diagram with 5×5 fields on a larger image; here every panel holds "
                "the network's own values for one test digit.",
                "A digit, six 6×6 feature maps, six 3×3 subsampled maps and ten class "
                "probabilities, with one receptive field and one 2×2 block outlined.")
    page.figure(_kernels_and_maps(net, w, X[k]), "kernels",
                "Not a figure of the book: what the trained network learned, its six 3×3 kernels "
                "(top, with their biases), the feature maps they give for the digit of Figure "
                "5.17 (middle), and the maps after subsampling (bottom). Red is positive, blue "
                "negative.",
                "Six small kernels in red and blue above the six feature maps and six "
                "subsampled maps of one digit.")
    # translation equivariance, measured on the same digit shifted one pixel to the right
    img = X[k].reshape(8, 8)
    moved = np.zeros_like(img)
    moved[:, 1:] = img[:, :-1]
    a0 = net.forward(w, img.reshape(1, -1)).a[0].reshape(net.layers[0].out_shape)
    a1 = net.forward(w, moved.reshape(1, -1)).a[0].reshape(net.layers[0].out_shape)
    interior = np.abs(a1[:, :, 1:] - a0[:, :, :-1]).max()
    page.text(
        f"Shifting the digit one pixel to the right (its last column is empty, so nothing "
        f"falls off the image) shifts every feature map by one unit: the pre-activations of "
        f"the shifted maps differ from the original ones moved by one unit by at most "
        f"{interior:.1e}, while the maps at fixed positions change by up to "
        f"{np.abs(a1 - a0).max():.2f}."
    )
    W_cnn, W_mlp = net.n_weights, nets["mlp"].net_.n_weights
    conn = net.layers[0].n_out * net.layers[0].fan_in()       # units × (inputs + bias)
    mean = {k: float(np.mean(e)) for k, e in errors.items()}
    names = {"CNN": f"CNN {SPEC}", "MLP": f"MLP 64-{MLP_UNITS}-10"}
    weights = {"CNN": W_cnn, "MLP": W_mlp}
    page.table(["model", "weights W", "training", "mean test error", "std over seeds",
                "test error per seed"],
               [[names[m], weights[m], t, mean[m, t], float(np.std(errors[m, t])),
                 ", ".join(f"{e:.3f}" for e in errors[m, t])]
                for m in ("CNN", "MLP") for t in TRAININGS])
    page.text(describe_comparison({m: mean[m, "plain"] for m in ("CNN", "MLP")}, W_cnn, W_mlp,
                                  n_train, X.shape[0] - n_train, max_iter, len(seeds))
              + f" Its convolutional layer has {net.layers[0].n_weights} adaptive parameters "
              f"for {conn} connections (weight sharing).")
    change = {t: {m: 100 * float(np.mean(np.subtract(errors[m, t], errors[m, "plain"])))
                  for m in ("CNN", "MLP")} for t in TRAININGS[1:]}
    spread = ({m: 100 * float(np.std(errors[m, "plain"])) for m in ("CNN", "MLP")}
              if len(seeds) > 1 else None)
    page.text("The structure builds in only part of the invariance: a shift of the input "
              "shifts the feature maps, but the dense layer above the subsampled maps still "
              "sees where a stroke lies, and nothing is built in for rotations or for shifts "
              "by less than a pixel. Tangent propagation and transformed data (§5.5.3–5.5.5, "
              "the previous section) apply to the convolutional network as to the perceptron: "
              "ConvNetClassifier takes the same invariances, tangent_prop and augment "
              "parameters, and the tangents travel through the convolution, subsampling and "
              "max pooling layers by each layer's own hooks, as the R-operator's directions "
              "do. "
              + describe_invariances(change, spread, n_augment, TANGENT_PROP["tangent_prop"]))
    page.try_it(TRY_IT)
    keys = {"plain": "", "tangent propagation": "_tangent_prop", "transformed data": "_transformed"}
    for (m, t), v in mean.items():
        page.record(f"test_error_{m.lower()}{keys[t]}", v)
    page.record("n_weights_cnn", W_cnn)
    page.record("n_weights_mlp", W_mlp)
    page.record("shift_error", interior)
    page.record("n_train", n_train)
