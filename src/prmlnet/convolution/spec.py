"""A convolutional network typed in one line, and layers as JSON for model files."""

from __future__ import annotations

import re

import numpy as np

from ..activations import get_activation
from ..layers import Dense
from ._base import _shape
from .conv2d import Conv2D
from .pooling import MaxPool, Subsampling

__all__ = ["parse_spec", "layers_from_spec", "network_from_spec", "spec_of", "layer_config",
           "layer_from_config"]


_ITEM = re.compile(r"^(conv|sub|max|dense)(?::([0-9x]+))?((?::[a-z0-9=]+)*)$")


def parse_spec(spec):
    """Parse a layer spec into a list of ``(kind, sizes, options)``.

    Items are separated by ``-``:

    ``conv:MxK`` or ``conv:MxKHxKW``   M feature maps, K×K (or KH×KW) kernels
    ``sub`` or ``sub:S``               the book's subsampling, S×S blocks (default 2)
    ``max`` or ``max:S``               max pooling, S×S blocks (default 2)
    ``dense:M``                        M fully connected hidden units

    Each item may end in options ``:pad=P`` (conv only) and ``:ACTIVATION``
    (``tanh``, ``relu``, ...; otherwise the network's hidden activation, and
    identity for ``max``). Example: ``"conv:6x5x5-sub-conv:16x5x5:relu-max-dense:84"``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a layer spec is a string like 'conv:6x5x5-sub-dense:30'; got {spec!r}")
    items = []
    for raw in spec.strip().lower().split("-"):
        m = _ITEM.match(raw.strip())
        if not m:
            raise ValueError(f"cannot read {raw!r} in the layer spec {spec!r}; items are "
                             "conv:MxK[xK], sub[:S], max[:S], dense:M, each optionally "
                             "followed by :pad=P or :ACTIVATION")
        kind, size, opts = m.group(1), m.group(2), m.group(3)
        nums = [int(s) for s in size.split("x") if s] if size else []
        want = {"conv": (2, 3), "dense": (1,), "sub": (0, 1), "max": (0, 1)}[kind]
        if len(nums) not in want or (size and "" in size.split("x")) or min(nums, default=1) < 1:
            raise ValueError(f"{raw!r} in the layer spec {spec!r}: {kind} takes "
                             + {"conv": "M x K or M x KH x KW (positive integers)",
                                "dense": "a positive number of units",
                                "sub": "at most a block size", "max": "at most a block size"}[kind])
        options = {}
        for o in filter(None, opts.split(":")):
            if o.startswith("pad="):
                if kind != "conv" or not o[4:].isdigit():
                    raise ValueError(f"{raw!r} in the layer spec {spec!r}: pad=P (an integer) "
                                     "belongs to conv items only")
                options["padding"] = int(o[4:])
            else:
                get_activation(o)                      # raises on an unknown name
                options["activation"] = o
        items.append((kind, nums, options))
    return items


def layers_from_spec(spec, input_shape, n_outputs, hidden="tanh"):
    """The layers of a spec on images of ``input_shape``, then a dense output layer.

    Parameters
    ----------
    spec : str
        See :func:`parse_spec`.
    input_shape : (C, H, W)
    n_outputs : int
        Units of the final (identity) layer, whose outputs the output model reads.
    hidden : str
        Activation of the items that name none (``max`` items default to identity).
    """
    shape = _shape(input_shape, "input_shape")
    n_outputs = int(n_outputs)
    if n_outputs < 1:
        raise ValueError(f"n_outputs must be >= 1; got {n_outputs}")
    layers, flat = [], None
    for kind, nums, opts in parse_spec(spec):
        act = opts.get("activation", "identity" if kind == "max" else hidden)
        if kind == "dense":
            n_in = int(np.prod(shape)) if flat is None else flat
            layers.append(Dense(n_in, nums[0], act))
            flat = nums[0]
            continue
        if flat is not None:
            raise ValueError(f"in the layer spec {spec!r} a {kind} item follows a dense one; "
                             "image layers come first")
        try:
            if kind == "conv":
                kernel = nums[1] if len(nums) == 2 else tuple(nums[1:])
                layer = Conv2D(shape, nums[0], kernel, act, opts.get("padding", 0))
            else:
                cls = Subsampling if kind == "sub" else MaxPool
                layer = cls(shape, nums[0] if nums else 2, act)
        except ValueError as e:
            raise ValueError(f"layer {len(layers) + 1} of {spec!r} on {shape} maps: {e}") from None
        layers.append(layer)
        shape = layer.out_shape
    n_in = int(np.prod(shape)) if flat is None else flat
    layers.append(Dense(n_in, n_outputs, "identity"))
    return layers


def network_from_spec(spec, input_shape, n_outputs, *, hidden="tanh", output="linear",
                      dtype=np.float64):
    """A :class:`~prmlnet.Network` from a layer spec (see :func:`parse_spec`).

    Examples
    --------
    >>> from prmlnet.convolution import network_from_spec
    >>> net = network_from_spec("conv:6x3x3-sub-dense:30", (1, 8, 8), 10, output="softmax")
    >>> [type(l).__name__ for l in net.layers], net.n_weights
    (['Conv2D', 'Subsampling', 'Dense', 'Dense'], 2032)
    """
    from ..network import Network

    return Network.from_layers(layers_from_spec(spec, input_shape, n_outputs, hidden),
                               output=output, dtype=dtype)


def spec_of(net):
    """The spec string of a network's hidden layers (the inverse of :func:`network_from_spec`,
    activations always written out)."""
    items = []
    for layer in net.layers[:-1]:
        act = layer.activation.name
        if isinstance(layer, Conv2D):
            kh, kw = layer.kernel_size
            k = f"{kh}" if kh == kw else f"{kh}x{kw}"
            pad = f":pad={layer.padding}" if layer.padding else ""
            items.append(f"conv:{layer.n_maps}x{k}{pad}:{act}")
        elif isinstance(layer, (Subsampling, MaxPool)):
            kind = "sub" if isinstance(layer, Subsampling) else "max"
            items.append(f"{kind}:{layer.size}:{act}")
        elif isinstance(layer, Dense):
            items.append(f"dense:{layer.n_out}:{act}")
        else:
            raise ValueError(f"no spec item for a {type(layer).__name__} layer")
    return "-".join(items)


# -- layers as JSON (model files) ----------------------------------------------
def layer_config(layer):
    """A layer's description as plain JSON values (no weights)."""
    act = layer.activation.name
    if isinstance(layer, Conv2D):
        return {"type": "conv2d", "in_shape": list(layer.in_shape), "n_maps": layer.n_maps,
                "kernel_size": list(layer.kernel_size), "padding": layer.padding,
                "activation": act}
    if isinstance(layer, (Subsampling, MaxPool)):
        return {"type": "subsampling" if isinstance(layer, Subsampling) else "maxpool",
                "in_shape": list(layer.in_shape), "size": layer.size, "activation": act}
    if type(layer) is Dense:
        return {"type": "dense", "n_in": layer.n_in, "n_out": layer.n_out, "activation": act}
    raise ValueError(f"no configuration for a {type(layer).__name__} layer")


def layer_from_config(config):
    """Rebuild a layer from :func:`layer_config`."""
    try:
        kind, act = config["type"], config["activation"]
        if kind == "conv2d":
            return Conv2D(config["in_shape"], config["n_maps"], tuple(config["kernel_size"]),
                          act, config.get("padding", 0))
        if kind in ("subsampling", "maxpool"):
            cls = Subsampling if kind == "subsampling" else MaxPool
            return cls(config["in_shape"], config["size"], act)
        if kind == "dense":
            return Dense(config["n_in"], config["n_out"], act)
    except (KeyError, TypeError) as e:
        raise ValueError(f"the layer description {config!r} is incomplete ({e!r})") from None
    raise ValueError(f"unknown layer type {config.get('type')!r} in {config!r}")
