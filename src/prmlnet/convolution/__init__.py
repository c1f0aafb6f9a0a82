r"""Convolutional networks (PRML §5.5.6): convolution, subsampling and pooling layers.

An image travels through the network as one flat row in (C, H, W) order — the
flattened NCHW layout of PyTorch — so patterns stay rows of ``X`` and the
weights stay one flat vector ``w``. Each layer below declares the image shape
it takes (``in_shape``) and gives (``out_shape``); a :class:`~prmlnet.Dense`
layer after them simply reads the flat row.

``Conv2D``       several feature maps; each unit sees a small patch (its local
                 receptive field) of every input map, and all units of a map
                 share one kernel and one bias (weight sharing). Stride 1,
                 "valid" borders, zero padding as an option.
``Subsampling``  the book's subsampling layer: each unit averages a
                 non-overlapping 2×2 block of one map, multiplies by the map's
                 one adaptive weight, adds its one adaptive bias, then applies
                 its activation.
``MaxPool``      beyond the book: the largest value of each block, no weights.

Layouts follow PyTorch's: a convolution's slice of ``w`` holds the kernels
(n_maps, C, kh, kw) row-major (= ``torch.nn.Conv2d.weight``), then one bias per
map; a subsampling layer's holds its C weights, then its C biases.

Every layer implements the primitives of :mod:`prmlnet.layers`, so the passes
of :class:`~prmlnet.layers.Layer` (forward, backward, R-forward, R-backward)
and with them the gradient, H·v, the exact and approximate Hessians, the
Jacobian, the Laplace posterior and the evidence work unchanged. A convolution
is a matrix product: the input patches are gathered into a column matrix
("im2col", :func:`numpy.lib.stride_tricks.sliding_window_view`) and multiplied
by the kernels; no Python loop runs over pixels or patterns.

Modules: :mod:`.conv2d` (the convolution), :mod:`.pooling` (subsampling and max
pooling), :mod:`.spec` (the one-line spec, and layers as JSON for model files).

A network is typed as a short spec, parsed by :func:`network_from_spec`::

    "conv:6x5x5-sub-conv:16x5x5-sub-dense:120-dense:84"

(see :func:`parse_spec`).
"""

from .conv2d import Conv2D
from .pooling import MaxPool, Subsampling
from .spec import (layer_config, layer_from_config, layers_from_spec, network_from_spec,
                   parse_spec, spec_of)

__all__ = ["Conv2D", "Subsampling", "MaxPool", "parse_spec", "layers_from_spec",
           "network_from_spec", "spec_of", "layer_config", "layer_from_config"]
