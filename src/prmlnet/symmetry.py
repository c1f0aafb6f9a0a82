r"""Weight-space symmetries (PRML §5.1.1).

Many weight vectors give the same network function. In a layer of M hidden
units, any permutation of the units — moving each unit's incoming weights and
bias and its outgoing weights together — leaves the outputs unchanged: M!
choices. For an odd activation (tanh, identity), flipping the signs of a unit's
incoming weights and bias and of its outgoing weights also leaves them
unchanged, since h(-a) = -h(a): 2^M choices. A layer of M tanh units therefore
has M!·2^M equivalent weight vectors, and a network has the product over its
hidden layers.

The logistic sigmoid is not odd, but σ(-a) = 1 - σ(a), so a sign flip is still
a symmetry when the next layer's bias absorbs the constant: b_k ← b_k + w_kj.

In a convolutional network (§5.5.6) the units that move are the **feature
maps**: permuting the maps of a convolution permutes its kernels and biases,
the per-map weights of the subsampling (or pooling) layers that follow it map
by map, and the input channels of the next convolution or the blocks of
columns of the next dense layer. A sign flip of a map is absorbed by the next
layer's weights on that map (a subsampling weight :math:`w_c`, the kernels
:math:`K_{:,c}`, or the dense columns). It is *not* a symmetry when max
pooling follows (max(−z) ≠ −max(z)), nor for a logistic map followed by a
zero-padded convolution, whose border units see only part of the kernel, so the
constant of σ(−a) = 1 − σ(a) cannot go into one bias per map. The layers take
part through ``channelwise``, ``unit_params`` and ``input_params``
(:mod:`prmlnet.layers`).
"""

from __future__ import annotations

from math import factorial

import numpy as np

__all__ = ["equivalent_weights", "symmetry_count"]


def _flippable(act):
    return act.odd or act.name == "logistic"


def _tied(net, l):
    """Layer l's maps are those of the layer below (subsampling, pooling): no
    permutation of their own."""
    return net.layers[l].channelwise


def _mixer(net, l):
    """Index of the layer that mixes layer l's units (after the channelwise layers that
    carry them map by map), or a string saying why none does."""
    M = net.layers[l].n_units
    m = l + 1
    while m < len(net.layers) and net.layers[m].channelwise:
        if net.layers[m].n_units != M:
            return f"layer {m} does not carry the {M} units of layer {l} map by map"
        m += 1
    if m == len(net.layers):
        return "the maps reach the outputs unmixed; permuting them would permute the outputs"
    if net.layers[m].input_params(M) is None:
        return (f"layer {m} ({type(net.layers[m]).__name__}) does not read the {M} units "
                f"of layer {l} as channels; no permutation applies")
    return m


def _flip_obstacle(net, l):
    """Why sign flips of layer l's units are no symmetry, or None if they are."""
    this, nxt = net.layers[l], net.layers[l + 1]
    act = this.activation
    if not _flippable(act):
        return (f"sign flips are not a symmetry of the {act.name!r} activation; "
                "only tanh, identity and logistic allow them")
    if this.unit_params().shape[1] == 0:
        return f"layer {l} ({type(this).__name__}) has no weights whose signs could flip"
    if nxt.input_params(this.n_units) is None:
        return (f"sign flips are not a symmetry here: layer {l + 1} "
                f"({type(nxt).__name__}) is not linear in its input")
    if act.name == "logistic" and _logistic_shift(net, l, np.ones(this.n_units, bool),
                                                  net.init_weights(0)) is None:
        return (f"sign flips of logistic units are not a symmetry here: layer {l + 1} "
                f"({type(nxt).__name__}) cannot take the constant of σ(-a) = 1 - σ(a) "
                "into its biases (a zero-padded convolution, say)")
    return None


def _logistic_shift(net, l, flipped, w):
    """Bias change of layer l + 1 that absorbs σ(-a) = 1 - σ(a) on the flipped units:
    its pre-activations for an input of ones on those units' outputs (None if that is
    not one constant per bias)."""
    this, nxt = net.layers[l], net.layers[l + 1]
    s = net.layer_slices()[l + 1]
    ones = np.repeat(flipped.astype(w.dtype), this.n_out // this.n_units)[None, :]
    shift = nxt.linear(w[s], ones, bias=False)[0].reshape(nxt.n_biases, -1)
    if not np.allclose(shift, shift[:, :1], rtol=1e-12, atol=1e-14 * (1 + np.abs(shift).max())):
        return None
    return shift[:, 0]


def symmetry_count(net) -> int:
    """Number of equivalent weight vectors produced by permutations and sign flips:
    the product over hidden layers of M!·2^M (M! where signs cannot flip; no M! for a
    subsampling or pooling layer, whose maps are those of the layer below)."""
    count = 1
    for l, layer in enumerate(net.layers[:-1]):
        M = layer.n_units
        if not _tied(net, l) and not isinstance(_mixer(net, l), str):
            count *= factorial(M)
        if _flip_obstacle(net, l) is None:
            count *= 2 ** M
    return count


def equivalent_weights(net, w, layer=0, perm=None, signs=None):
    """A weight vector with the same network function, hidden units rearranged.

    Parameters
    ----------
    net : Network
        Dense, convolutional, subsampling and pooling layers; for the image
        layers a unit is a feature map.
    w : ndarray of shape (W,)
    layer : int
        Index of the hidden layer (0 is the first hidden layer).
    perm : sequence of int, optional
        New order of the layer's M units: unit ``j`` of the result is unit
        ``perm[j]`` of ``w``. The maps of a subsampling or pooling layer follow
        those of the layer below and cannot be permuted on their own.
    signs : sequence of ±1, optional
        Units (after permutation) whose signs are flipped where ``-1``. Allowed
        for odd activations (tanh, identity) and for the logistic sigmoid (the
        next layer's biases compensate), unless max pooling follows (see the
        module docstring).

    Returns
    -------
    ndarray of shape (W,): a new vector; ``w`` is not modified.
    """
    w = net.check_weights(w)
    n_hidden = len(net.layers) - 1
    if not 0 <= layer < n_hidden:
        raise ValueError(f"layer must index a hidden layer, 0..{n_hidden - 1}; got {layer}")
    this = net.layers[layer]
    M = this.n_units
    perm = np.arange(M) if perm is None else np.asarray(perm)
    if sorted(perm.tolist()) != list(range(M)):
        raise ValueError(f"perm must be a permutation of 0..{M - 1}; got {perm.tolist()}")
    signs = np.ones(M) if signs is None else np.asarray(signs, dtype=float)
    if signs.shape != (M,) or not np.all(np.abs(signs) == 1):
        raise ValueError(f"signs must hold {M} values, each +1 or -1")
    if np.any(perm != np.arange(M)) and _tied(net, layer):
        below = f"layer {layer - 1}; permute that layer instead" if layer else "the input image"
        raise ValueError(f"the maps of layer {layer} ({type(this).__name__}) are those of "
                         f"{below}")
    if np.any(signs < 0):
        why = _flip_obstacle(net, layer)
        if why is not None:
            raise ValueError(why)
    slices = net.layer_slices()
    out = w.copy()
    # Permutation: this layer's units, the maps of the channelwise layers above it,
    # then the input channels of the first layer that mixes them.
    if np.any(perm != np.arange(M)):
        m = _mixer(net, layer)
        if isinstance(m, str):
            raise ValueError(m)
        for l in range(layer, m):
            idx = slices[l].start + net.layers[l].unit_params()
            out[idx] = w[idx[perm]]
        idx = slices[m].start + net.layers[m].input_params(M)
        out[idx] = w[idx[perm]]
    # Sign flips: the units' own weights, and the next layer's weights on them.
    flip = signs < 0
    if flip.any():
        own = slices[layer].start + this.unit_params()[flip]
        reads = slices[layer + 1].start + net.layers[layer + 1].input_params(M)[flip]
        shift = (_logistic_shift(net, layer, flip, out) if this.activation.name == "logistic"
                 else None)
        out[own] *= -1.0
        out[reads] *= -1.0
        if shift is not None:                           # σ(-a) = 1 - σ(a)
            nb = net.layers[layer + 1].n_biases
            out[slices[layer + 1].stop - nb:slices[layer + 1].stop] += shift
    return out
