"""What the image layers share: image shapes, equality, pickling."""

from __future__ import annotations

import numpy as np

from ..layers import Layer

__all__ = ["ImageLayer"]


def _shape(in_shape, name="in_shape"):
    try:
        shape = tuple(int(s) for s in in_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name} must be three positive integers (C, H, W); got {in_shape!r}")
    return shape


def _same_view(a, b):
    """Whether ``a`` and ``b`` are the same view of the same memory (start, shape, strides,
    dtype), so that what was computed from one holds for the other: a reshaped view
    handed on is recognised, not only the very object. (The memo that holds ``a``
    keeps its memory alive, so no other array can have taken it.)"""
    if a is b:
        return True
    return (type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape
            and a.strides == b.strides and a.dtype == b.dtype
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _flat(a, n):
    """``a`` (..., n) as (M, n) and the leading shape to restore."""
    return a.reshape(-1, n), a.shape[:-1]


class ImageLayer(Layer):
    """What the image layers share: shapes, equality, pickling, repr."""

    in_shape: tuple
    out_shape: tuple

    def _key(self):
        raise NotImplementedError

    def __eq__(self, other):
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self):
        return hash((type(self).__name__,) + self._key())

    def __reduce__(self):
        from .spec import layer_config, layer_from_config
        return (layer_from_config, (layer_config(self),))

    @property
    def n_units(self):
        """Feature maps: what a weight-space symmetry (§5.1.1) permutes."""
        return self.out_shape[0]

    @property
    def n_biases(self):
        """One bias per map (none for max pooling), at the end of the layer's slice."""
        return 0 if self.n_weights == 0 else self.out_shape[0]


