r"""The JSON header of a model file: its format, the architecture as JSON, and its
validation field by field (the layout is described in :mod:`prmlnet.modelfile`).
"""

from __future__ import annotations

import json
import math
import os
import re
from importlib import import_module

import numpy as np

from .activations import ACTIVATIONS
from .archive import _fmt_bytes
from .layers import Dense
from .network import Network
from .outputs import output_from_config

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "network_config", "network_from_config",
           "max_model_bytes", "DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "MAX_HEADER_BYTES", "MAX_ARRAYS"]

FORMAT_NAME = "prmlnet-model"
FORMAT_VERSION = 1



class ModelFileError(ValueError):
    """A file that cannot be loaded as a model: the message says why and what to do."""


# -- the architecture as JSON ---------------------------------------------------
def network_config(net: Network) -> dict:
    """The JSON description of ``net``'s architecture (no weights).

    A network with other layers than dense ones (convolution, subsampling,
    pooling) also gets ``"layers"``: one description per layer
    (:func:`prmlnet.convolution.layer_config`), which rebuilds it exactly.
    """
    layers = None
    if not all(type(layer) is Dense for layer in net.layers):
        from .convolution import layer_config
        layers = [layer_config(layer) for layer in net.layers]       # ValueError if unknown
    output = net.output.config()
    try:
        json.dumps(output)
    except TypeError as e:
        raise ValueError(f"output model {net.output!r} has a configuration that is not "
                         f"JSON ({e}); make OutputModel.config() return plain values") from None
    config = {
        "sizes": [int(s) for s in net.sizes],
        "hidden": [layer.activation.name for layer in net.layers[:-1]],
        "output": output,
        "dtype": np.dtype(net.dtype).name,
    }
    if layers is not None:
        config["layers"] = layers
    return config


def network_from_config(config: dict) -> Network:
    """Rebuild a :class:`~prmlnet.Network` from :func:`network_config`."""
    try:
        sizes = [int(s) for s in config["sizes"]]
        hidden = list(config["hidden"])
        try:
            output = output_from_config(config["output"])
        except ValueError:
            # output models outside the core (the MDN) register themselves on import
            try:
                import_module("prmlnet.mdn")
            except ImportError:
                raise ValueError(f"unknown output model {config['output']!r}") from None
            output = output_from_config(config["output"])
        dtype = np.dtype(config.get("dtype", "float64"))
        if "layers" in config:
            from .convolution import layer_from_config
            return Network.from_layers([layer_from_config(c) for c in config["layers"]],
                                       output=output, dtype=dtype)
    except (KeyError, TypeError) as e:
        raise ValueError(f"the network description is incomplete or malformed ({e!r})") from None
    return Network(sizes, hidden=hidden, output=output, dtype=dtype)


#: default bound on the array data a model file may hold, in bytes (1 GiB)
DEFAULT_MAX_BYTES = 2 ** 30
#: environment variable with another bound, in bytes (``4e9``, say), for trusted big models
MAX_BYTES_ENV = "PRMLNET_MAX_MODEL_BYTES"
#: bound on the JSON header, in bytes (real headers are a few kilobytes)
MAX_HEADER_BYTES = 4 * 2 ** 20
#: most arrays a model file may hold
MAX_ARRAYS = 1024


def max_model_bytes(max_bytes=None) -> int:
    """The bound on a model file's array data: ``max_bytes`` when given, else
    ``$PRMLNET_MAX_MODEL_BYTES``, else :data:`DEFAULT_MAX_BYTES`."""
    source = "max_bytes"
    if max_bytes is None:
        env = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not env:
            return DEFAULT_MAX_BYTES
        max_bytes, source = env, MAX_BYTES_ENV
    try:
        v = float(max_bytes)
    except (TypeError, ValueError):
        v = math.nan
    if isinstance(max_bytes, bool) or not (math.isfinite(v) and v >= 1):
        raise ValueError(f"{source} must be a positive number of bytes; got {max_bytes!r}")
    return int(v)


def _too_big(path, what, need, limit):
    return ModelFileError(
        f"model file {path} {what} {_fmt_bytes(need)}, more than the {_fmt_bytes(limit)} "
        f"allowed; if you trust the file, raise the limit with {MAX_BYTES_ENV}=<bytes> "
        "(or load(path, max_bytes=...))")


def _bad(path, field, what):
    return ModelFileError(f"model file {path} is malformed: {field} {what} (the file was not "
                          "written by prmlnet, or was edited)")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_strs(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_CHECKS = {
    "int": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "num": (_is_num, "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "strs": (_is_strs, "a list of strings"),
    "strs?": (lambda v: v is None or _is_strs(v), "a list of strings or null"),
    "obj": (lambda v: isinstance(v, dict), "an object"),
}
_TOP_FIELDS = {"prmlnet_version": "str", "created": "str", "kind": "str", "params": "obj",
               "training": "obj", "meta": "obj", "network": "obj", "arrays": "obj"}
_TRAINING_FIELDS = {"n_samples": "int", "n_features": "int", "n_iter": "int", "nfev": "int",
                    "error": "num", "error_per_pattern": "num", "seconds": "num",
                    "status": "str", "message": "str", "method": "str", "interrupted": "bool",
                    "feature_names": "strs?"}
_CLI_FIELDS = {"train_file": "str", "targets": "strs", "features": "strs", "task": "str"}
_ARRAY_FIELDS = {"dtype": "str", "sha256": "str", "object": "bool"}
_ARRAY_NAME = re.compile(r"^(w|x_mean|x_scale|classes|extra\.[A-Za-z0-9_]+)$")


def _check_fields(path, where, obj, spec, required=()):
    for key in required:
        if key not in obj:
            raise _bad(path, where + key, "is missing")
    for key, kind in spec.items():
        if key in obj and not _CHECKS[kind][0](obj[key]):
            raise _bad(path, where + key, f"is {str(json.dumps(obj[key]))[:40]}, not "
                                          f"{_CHECKS[kind][1]}")


def _check_network(path, config, limit) -> Network:
    sizes = config.get("sizes")
    if not (isinstance(sizes, list) and 2 <= len(sizes) <= 64
            and all(_is_int(s) and 1 <= s <= 2 ** 31 for s in sizes)):
        raise _bad(path, "network.sizes", f"is {str(json.dumps(sizes))[:40]}, not a list of "
                                          "2 to 64 layer sizes >= 1")
    W = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if 8 * W > limit:
        raise _too_big(path, f"describes a network of W = {W:,} weights, which would take",
                       8 * W, limit)
    hidden = config.get("hidden")
    if not (_is_strs(hidden) and len(hidden) == len(sizes) - 2
            and all(h in ACTIVATIONS for h in hidden)):
        raise _bad(path, "network.hidden", f"is {str(json.dumps(hidden))[:40]}, not one known "
                                           f"activation per hidden layer ({len(sizes) - 2})")
    if not (isinstance(config.get("output"), dict) and isinstance(config["output"].get("name"), str)):
        raise _bad(path, "network.output", "is not an output-model description")
    if config.get("dtype", "float64") not in ("float64", "float32"):
        raise _bad(path, "network.dtype", f"is {config.get('dtype')!r}, not float64 or float32")
    try:
        return network_from_config(config)
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        raise _bad(path, "network", f"does not describe a network ({e})") from None


def _array_dtype(path, name, d):
    try:
        dtype = np.dtype(d["dtype"])
    except (TypeError, ValueError, SyntaxError):
        raise _bad(path, f"arrays.{name}.dtype", f"is {d['dtype'][:20]!r}, not a dtype") from None
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "biufU":
        raise _bad(path, f"arrays.{name}.dtype", f"is {dtype}, not numbers, booleans or strings")
    return dtype


def _check_arrays(path, described, net, limit):
    """The array descriptions, checked against each other and the network;
    returns ``{name: (dtype, shape, sha256, object)}``."""
    if len(described) > MAX_ARRAYS:
        raise _bad(path, "arrays", f"lists {len(described)} arrays, more than {MAX_ARRAYS}")
    out, total = {}, 0
    for name, d in described.items():
        if not _ARRAY_NAME.match(name):
            raise _bad(path, "arrays", f"names an unknown array {name[:40]!r}")
        if not isinstance(d, dict):
            raise _bad(path, f"arrays.{name}", "is not an object")
        _check_fields(path, f"arrays.{name}.", d, _ARRAY_FIELDS, required=("dtype", "shape",
                                                                           "sha256"))
        shape = d["shape"]
        if not (isinstance(shape, list) and len(shape) <= 8
                and all(_is_int(n) and 0 <= n <= 2 ** 62 for n in shape)):
            raise _bad(path, f"arrays.{name}.shape", f"is {str(json.dumps(shape))[:40]}, not "
                                                     "a list of sizes")
        if not re.fullmatch(r"[0-9a-f]{64}", d["sha256"]):
            raise _bad(path, f"arrays.{name}.sha256", "is not a SHA-256 hex digest")
        dtype = _array_dtype(path, name, d)
        if d.get("object", False) and dtype.kind != "U":
            raise _bad(path, f"arrays.{name}.object", "is true for an array that is not strings")
        total += math.prod(shape) * dtype.itemsize
        out[name] = (dtype, tuple(shape), d["sha256"], bool(d.get("object", False)))
    if total > limit:
        raise _too_big(path, "holds arrays of", total, limit)
    # what each array means, checked before reading it (a cast or a broadcast would hide it)
    if "w" not in out:
        raise ModelFileError(f"model file {path} has no weight vector 'w'")
    dtype, shape = out["w"][:2]
    if dtype.kind != "f" or dtype.itemsize != net.dtype.itemsize:
        raise _bad(path, "arrays.w.dtype", f"is {dtype}, not the network's {net.dtype}")
    if shape != (net.n_weights,):
        raise ModelFileError(f"model file {path} is inconsistent: weights of shape {shape} for "
                             f"a network that needs ({net.n_weights},)")
    if ("x_mean" in out) != ("x_scale" in out):
        raise _bad(path, "arrays", "hold only one of x_mean and x_scale")
    for name in ("x_mean", "x_scale"):
        if name in out and (out[name][0].kind != "f" or out[name][1] != (net.n_inputs,)):
            raise _bad(path, f"arrays.{name}", f"is {out[name][0]} of shape {out[name][1]}, not "
                                               f"float of shape ({net.n_inputs},)")
    if "classes" in out:
        dtype, shape = out["classes"][:2]
        K, output = net.n_outputs, net.output.name
        fits = len(shape) == 1 and shape[0] >= 2 and (
            output not in ("logistic", "softmax") or shape[0] == K
            or (output == "logistic" and K == 1 and shape[0] == 2))
        if not fits:
            raise _bad(path, "arrays.classes", f"has shape {shape}, which does not fit a network "
                                               f"with {K} {output} output{'s' * (K > 1)}")
    return out


def _check_header(path, header, limit):
    """Validate the JSON header (format version 1); returns (network, arrays)."""
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path} is not a prmlnet model file (unknown header format)")
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFileError(f"{path} has an invalid format version {str(version)[:20]!r}")
    if version > FORMAT_VERSION:
        from . import __version__
        raise ModelFileError(
            f"{path} has model-file format version {version}, newer than this "
            f"prmlnet {__version__} reads (version {FORMAT_VERSION}); upgrade prmlnet "
            f"(the file was written by prmlnet {str(header.get('prmlnet_version', '?'))[:20]})")
    _check_fields(path, "", header, _TOP_FIELDS, required=("kind", "network", "arrays"))
    if not header["kind"] or len(header["kind"]) > 100:
        raise _bad(path, "kind", "is empty or too long")
    _check_fields(path, "training.", header.get("training", {}), _TRAINING_FIELDS)
    cli = header.get("meta", {}).get("cli")
    if cli is not None:
        _check_fields(path, "meta.", {"cli": cli}, {"cli": "obj"})
        _check_fields(path, "meta.cli.", cli, _CLI_FIELDS)
    net = _check_network(path, header["network"], limit)
    names = (header.get("training", {}).get("feature_names")
             or (cli or {}).get("features"))
    if names and len(names) != net.n_inputs:
        raise _bad(path, "the input names", f"are {len(names)} for a network with "
                                            f"{net.n_inputs} inputs")
    return net, _check_arrays(path, header["arrays"], net, limit)


def _check_values(path, arrays):
    """Values that would make predictions NaN or wrong."""
    if not np.all(np.isfinite(arrays["w"])):
        raise _bad(path, "the weights w", "hold NaN or infinite values")
    if "x_mean" in arrays:
        if not (np.all(np.isfinite(arrays["x_mean"])) and np.all(np.isfinite(arrays["x_scale"]))
                and np.all(arrays["x_scale"] > 0)):
            raise _bad(path, "the input standardisation", "holds NaN, infinite or "
                                                          "non-positive scales")
    c = arrays.get("classes")
    if c is not None:
        if c.dtype.kind == "f" and not np.all(np.isfinite(c)):
            raise _bad(path, "the class labels", "hold NaN or infinite values")
        if np.unique(c).size != c.size:
            raise _bad(path, "the class labels", "repeat a label")
