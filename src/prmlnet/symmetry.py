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
"""

from __future__ import annotations

from math import factorial

import numpy as np

from .layers import Dense

__all__ = ["equivalent_weights", "symmetry_count"]


def _flippable(act):
    return act.odd or act.name == "logistic"


def symmetry_count(net) -> int:
    """Number of equivalent weight vectors produced by permutations and sign flips:
    the product over hidden layers of M!·2^M (M! where signs cannot flip)."""
    count = 1
    for layer in net.layers[:-1]:
        M = layer.n_out
        count *= factorial(M) * (2 ** M if _flippable(layer.activation) else 1)
    return count


def equivalent_weights(net, w, layer=0, perm=None, signs=None):
    """A weight vector with the same network function, hidden units rearranged.

    Parameters
    ----------
    net : Network (dense layers)
    w : ndarray of shape (W,)
    layer : int
        Index of the hidden layer (0 is the first hidden layer).
    perm : sequence of int, optional
        New order of the layer's M units: unit ``j`` of the result is unit
        ``perm[j]`` of ``w``.
    signs : sequence of ±1, optional
        Units (after permutation) whose signs are flipped where ``-1``. Allowed
        for odd activations (tanh, identity) and for the logistic sigmoid (the
        next layer's biases compensate).

    Returns
    -------
    ndarray of shape (W,): a new vector; ``w`` is not modified.
    """
    w = net.check_weights(w)
    n_hidden = len(net.layers) - 1
    if not 0 <= layer < n_hidden:
        raise ValueError(f"layer must index a hidden layer, 0..{n_hidden - 1}; got {layer}")
    this, nxt = net.layers[layer], net.layers[layer + 1]
    if not (isinstance(this, Dense) and isinstance(nxt, Dense)):
        raise ValueError("equivalent_weights handles dense layers only")
    M = this.n_out
    perm = np.arange(M) if perm is None else np.asarray(perm)
    if sorted(perm.tolist()) != list(range(M)):
        raise ValueError(f"perm must be a permutation of 0..{M - 1}; got {perm.tolist()}")
    signs = np.ones(M) if signs is None else np.asarray(signs, dtype=float)
    if signs.shape != (M,) or not np.all(np.abs(signs) == 1):
        raise ValueError(f"signs must hold {M} values, each +1 or -1")
    act = this.activation
    if np.any(signs < 0) and not _flippable(act):
        raise ValueError(f"sign flips are not a symmetry of the {act.name!r} activation; "
                         "only tanh, identity and logistic allow them")
    out = w.copy()
    (W1, b1), (W2, b2) = net.unpack(w)[layer:layer + 2]
    (V1, c1), (V2, c2) = net.unpack(out)[layer:layer + 2]
    V1[...] = signs[:, None] * W1[perm]
    c1[...] = signs * b1[perm]
    V2[...] = W2[:, perm] * signs[None, :]
    if act.name == "logistic":                         # σ(-a) = 1 - σ(a)
        c2[...] = b2 + W2[:, perm] @ (signs < 0)
    return out
