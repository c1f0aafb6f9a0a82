"""Network diagrams drawn from a :class:`~prmlnet.Network` object (Figures 5.1, 5.2, 5.20).

The sizes come from the network, the links from its weight vector: a link's width
grows with |w|, its colour gives the sign, and a weight that is exactly zero is no
link at all (so a pruned network shows its sparse topology).
"""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch

__all__ = ["draw_network", "node_positions", "POSITIVE", "NEGATIVE"]

POSITIVE, NEGATIVE = "#8b1a1a", "#1f4e9c"     # link colours: w > 0, w < 0


def node_positions(sizes, bias=True, spacing=1.0, layer_gap=2.2):
    """Centres of the nodes, per layer: ``[(x, y) array (n_l [+1 bias], 2)]``.

    With ``bias`` every layer but the last gets one more node on top, the bias
    unit (x_0 or z_0, fixed at 1).
    """
    out = []
    for l, n in enumerate(sizes):
        m = n + (1 if bias and l < len(sizes) - 1 else 0)
        ys = (np.arange(m)[::-1] - (m - 1) / 2.0) * spacing
        out.append(np.column_stack([np.full(m, float(l) * layer_gap), ys]))
    return out


def _label(l, i, n_layers):
    """Node label: x_i for inputs, z_j for hidden units, y_k for outputs; 0 for bias."""
    if l == 0:
        return f"$x_{{{i}}}$"
    if l == n_layers - 1:
        return f"$y_{{{i}}}$"
    sup = f"^{{({l})}}" if n_layers > 3 else ""
    return f"$z{sup}_{{{i}}}$"


def draw_network(ax, net, w=None, *, bias=True, values=False, output_labels=None, spacing=1.0,
                 layer_gap=2.2, radius=0.28, max_width=4.5, fontsize=10):
    """Draw ``net`` on ``ax``: nodes per layer, a link per weight, arrows forward.

    Parameters
    ----------
    ax : matplotlib Axes
    net : Network
    w : ndarray of shape (W,), optional
        Weights shown by link width and colour; without them every link is drawn
        thin and grey.
    bias : bool
        Draw the bias units x_0, z_0 (= 1) and their links.
    values : bool
        Write each weight's value beside its link (for small networks).
    output_labels : list of str, optional
        Labels for the output nodes instead of y_k (an MDN's π, σ, μ).
    spacing, layer_gap : float
        Distance between the nodes of a layer, and between layers.

    Returns
    -------
    list of (x, y) arrays: the node centres per layer (bias node first).
    """
    sizes = net.sizes
    pos = node_positions(sizes, bias=bias, spacing=spacing, layer_gap=layer_gap)
    views = net.unpack(w) if w is not None else None
    scale = max(float(np.max(np.abs(w))), 1e-12) if w is not None else 1.0
    n_layers = len(sizes)
    for l in range(n_layers - 1):
        src, dst = pos[l], pos[l + 1]
        off_src = 1 if bias else 0
        off_dst = 1 if bias and l + 1 < n_layers - 1 else 0
        W, b = views[l] if views is not None else (np.ones((sizes[l + 1], sizes[l])),
                                                    np.ones(sizes[l + 1]))
        for j in range(sizes[l + 1]):
            inputs = [(b[j], src[0])] if bias else []
            inputs += [(W[j, i], src[off_src + i]) for i in range(sizes[l])]
            for value, p in inputs:
                if w is not None and value == 0.0:
                    continue                                  # a missing connection
                q = dst[off_dst + j]
                if w is None:
                    color, lw = "0.55", 0.9
                else:
                    color = POSITIVE if value > 0 else NEGATIVE
                    lw = 0.4 + max_width * abs(value) / scale
                p, q = np.asarray(p), np.asarray(q)
                u = (q - p) / np.linalg.norm(q - p)
                arrow = FancyArrowPatch(p + radius * u, q - 1.05 * radius * u, arrowstyle="-|>",
                                        mutation_scale=9, lw=lw, color=color, shrinkA=0,
                                        shrinkB=0, alpha=0.85, zorder=1)
                ax.add_patch(arrow)
                if values:
                    t = 0.72
                    mid = (1 - t) * np.asarray(p) + t * np.asarray(q)
                    ax.text(*mid, f"{value:+.2f}", fontsize=fontsize - 3, ha="center",
                            va="center", color=color, zorder=3,
                            bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    for l, centres in enumerate(pos):
        has_bias = bias and l < n_layers - 1
        for idx, (x, y) in enumerate(centres):
            is_bias = has_bias and idx == 0
            face = "0.85" if is_bias else "white"
            ax.add_patch(Circle((x, y), radius, fc=face, ec="black", lw=1.2, zorder=2))
            if is_bias:
                text = "$x_0$" if l == 0 else "$z_0$"
            elif l == n_layers - 1 and output_labels is not None:
                text = output_labels[idx]
            else:
                text = _label(l, idx if has_bias else idx + 1, n_layers)
            ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)
    names = ["inputs"] + [f"hidden layer {l}" if n_layers > 3 else "hidden units"
                          for l in range(1, n_layers - 1)] + ["outputs"]
    top = max(float(np.max(c[:, 1])) for c in pos)
    for l, name in enumerate(names):
        ax.text(pos[l][0, 0], top + 0.75, name, ha="center", va="bottom", fontsize=fontsize - 1)
    ax.set_aspect("equal")
    xs = np.concatenate([c[:, 0] for c in pos])
    ys = np.concatenate([c[:, 1] for c in pos])
    ax.set_xlim(xs.min() - 0.7, xs.max() + 0.7)
    ax.set_ylim(ys.min() - 0.6, top + 1.3)
    ax.axis("off")
    return pos
