r"""Model files: one safe, documented format for networks and estimators.

A model file is a NumPy ``.npz`` archive (a zip file of ``.npy`` arrays) that is
read with ``np.load(..., allow_pickle=False)``: loading an untrusted file never
executes code. A Python pickle, or an archive holding an object array, is
refused with a clear message.

Format, version 1
-----------------
Members of the archive (all plain numeric, boolean or fixed-width string arrays):

``header``        uint8 array: UTF-8 JSON text, described below
``w``             float64 (or float32) flat weight vector, length ``W``
``x_mean``        (D,) input means subtracted before the network (optional)
``x_scale``       (D,) input scales divided after that (optional)
``classes``       (C,) class labels of a classifier (optional)
``extra.NAME``    any extra named array a model needs (optional; for example
                  the Cholesky factor of a Laplace posterior, or an MDN's
                  mixture settings)

The JSON header holds::

    {"format": "prmlnet-model",
     "format_version": 1,                  # checked on load
     "prmlnet_version": "0.1.0",
     "created": "2026-01-01T00:00:00+00:00",
     "kind": "MLPClassifier",              # estimator class, or "Network"
     "network": {"sizes": [D, M1, ..., K], # architecture (Network.sizes)
                 "hidden": ["tanh", ...],  # one activation per hidden layer
                 "output": {...},          # OutputModel.config()
                 "dtype": "float64",
                 "layers": [{...}, ...]},  # only for convolutional networks: each layer's
                                           # description (type, shapes, activation)
     "params": {...},                      # hyperparameters (JSON values)
     "training": {...},                    # metadata: data shape, error, iterations, time, ...
     "meta": {...},                        # extra JSON metadata of later estimators
     "arrays": {NAME: {"dtype", "shape", "sha256", "object"}}}

Every array is listed in ``arrays`` with its SHA-256 digest, checked on load
on top of the zip's CRC-32, so a truncated or corrupted file is reported as
such rather than loaded.

Files are written atomically: into a temporary file in the destination's
folder, flushed and ``fsync``-ed, then renamed over the destination with
:func:`os.replace`. A crash (or Ctrl-C) mid-write leaves the old file intact.
A round trip reproduces the weights, the standardisation and therefore every
prediction bit for bit.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from importlib import import_module
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .layers import Dense
from .network import Network
from .outputs import output_from_config

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "ModelFile", "ModelFileError", "save", "load",
    "network_config", "network_from_config", "atomic_write",
]

FORMAT_NAME = "prmlnet-model"
FORMAT_VERSION = 1

_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


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


# -- the in-memory form -----------------------------------------------------------
@dataclass
class ModelFile:
    """Everything a model file holds.

    Attributes
    ----------
    kind : str
        The estimator class name (``"MLPRegressor"``, ...) or ``"Network"``.
    network : Network
    w : ndarray of shape (W,)
    x_mean, x_scale : ndarray of shape (D,) or None
        Input standardisation: the network sees ``(X - x_mean) / x_scale``.
    classes : ndarray of shape (C,) or None
        Class labels, in the order of the network's outputs.
    params : dict
        Hyperparameters (JSON values).
    training : dict
        Training metadata (JSON values): data shape, final error, iterations, ...
    arrays : dict of str -> ndarray
        Extra named arrays (numeric, boolean or strings).
    meta : dict
        Extra JSON metadata.
    format_version, prmlnet_version, created : as read from (or written to) the file.
    """

    kind: str
    network: Network
    w: np.ndarray
    x_mean: np.ndarray | None = None
    x_scale: np.ndarray | None = None
    classes: np.ndarray | None = None
    params: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    prmlnet_version: str = ""
    created: str = ""


def _storable(name, a):
    """``(array, was_object)`` ready for np.save without pickle, or ValueError."""
    a = np.asarray(a)
    if a.dtype.kind == "O":
        if all(isinstance(v, str) for v in a.ravel()):
            return a.astype(str), True
        raise ValueError(f"array {name!r} holds Python objects; model files store only "
                         "numbers, booleans and strings (no pickle)")
    if a.dtype.kind not in "biufU":
        raise ValueError(f"array {name!r} has dtype {a.dtype}; model files store only "
                         "numbers, booleans and strings")
    return np.ascontiguousarray(a), False


def _digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


# -- writing ---------------------------------------------------------------------
def atomic_write(path, write) -> Path:
    """Call ``write(fileobj)`` on a temporary file, then move it onto ``path``.

    The temporary file lives in the destination's folder (so the final
    :func:`os.replace` is an atomic rename on POSIX and Windows), is flushed and
    ``fsync``-ed before the rename, and is removed if anything fails — the old
    file at ``path``, if any, is then left untouched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        mode = (path.stat().st_mode & 0o777) if path.exists() else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                   # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
    return path


def save(path, model: ModelFile) -> Path:
    """Write ``model`` to ``path`` atomically (the name is used as given)."""
    from . import __version__

    net = model.network
    w = net.check_weights(model.w)
    arrays = {"w": w}
    D = net.n_inputs
    for name in ("x_mean", "x_scale"):
        a = getattr(model, name)
        if a is not None:
            a = np.asarray(a, dtype=np.float64)
            if a.shape != (D,) or not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be a finite vector of length {D}; "
                                 f"got shape {a.shape}")
            arrays[name] = a
    if model.classes is not None:
        arrays["classes"] = model.classes
    for name, a in model.arrays.items():
        if not isinstance(name, str) or not name.replace("_", "").isalnum():
            raise ValueError(f"extra array names must be letters, digits and '_'; got {name!r}")
        arrays[f"extra.{name}"] = a
    described, stored = {}, {}
    for name, a in arrays.items():
        a, was_object = _storable(name, a)
        stored[name] = a
        described[name] = {"dtype": a.dtype.str, "shape": list(a.shape),
                           "sha256": _digest(a), "object": was_object}
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "prmlnet_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "kind": str(model.kind),
        "network": network_config(net),
        "params": model.params,
        "training": model.training,
        "meta": model.meta,
        "arrays": described,
    }
    try:
        text = json.dumps(header, default=_json_default, allow_nan=True, indent=1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model metadata is not JSON serialisable: {e}") from None
    stored["header"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **stored))


# -- reading ---------------------------------------------------------------------
def _sniff(path):
    """Refuse what is plainly not a model file before handing it to np.load."""
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise ModelFileError(f"model file {path} is empty")
    if head[:1] == b"\x80":
        raise ModelFileError(
            f"refusing to load {path}: it looks like a Python pickle, which can run code "
            "when loaded; prmlnet model files never contain pickles (save models with "
            "prmlnet's save or `prmlnet fit`)")
    if head.startswith(_NPY_MAGIC):
        raise ModelFileError(f"{path} is a single .npy array, not a prmlnet model file (.npz)")
    if not head.startswith(_ZIP_MAGIC):
        raise ModelFileError(f"{path} is not a prmlnet model file (expected a .npz archive "
                             "written by prmlnet)")


def _corrupt(path, e):
    return ModelFileError(f"model file {path} is truncated or corrupted "
                          f"({type(e).__name__}: {e}); re-create it or restore a backup")


def load(path) -> ModelFile:
    """Read a model file written by :func:`save`, refusing anything that could run code.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is empty, not a model file, a pickle, from a newer format
        version, truncated or corrupted — with a one-line message.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file {path} does not exist")
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a folder, not a model file")
    _sniff(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if "header" not in names:
                raise ModelFileError(f"{path} is a .npz archive but not a prmlnet model file "
                                     "(it has no 'header' member)")
            header = json.loads(bytes(z["header"]).decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
                raise ModelFileError(f"{path} is not a prmlnet model file (unknown header format)")
            version = header.get("format_version")
            if not isinstance(version, int) or version < 1:
                raise ModelFileError(f"{path} has an invalid format version {version!r}")
            if version > FORMAT_VERSION:
                from . import __version__
                raise ModelFileError(
                    f"{path} has model-file format version {version}, newer than this "
                    f"prmlnet {__version__} reads (version {FORMAT_VERSION}); upgrade prmlnet "
                    f"(the file was written by prmlnet {header.get('prmlnet_version', '?')})")
            described = header.get("arrays", {})
            arrays = {}
            for name, info in described.items():
                if name not in names:
                    raise ModelFileError(f"model file {path} lacks its array {name!r}; "
                                         "it is truncated or corrupted")
                a = z[name]
                if _digest(a) != info.get("sha256") or list(a.shape) != info.get("shape"):
                    raise ModelFileError(f"model file {path} is corrupted: array {name!r} does "
                                         "not match its recorded checksum; re-create it or "
                                         "restore a backup")
                arrays[name] = a.astype(object) if info.get("object") else a
    except ModelFileError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise ModelFileError(f"refusing to load {path}: it holds pickled Python objects, "
                                 "which can run code when loaded; prmlnet model files never "
                                 "contain pickles") from None
        raise _corrupt(path, e) from None
    except FileNotFoundError:
        raise
    except Exception as e:      # BadZipFile, EOFError, zlib.error, NotImplementedError, ...
        raise _corrupt(path, e) from None
    if "w" not in arrays:
        raise ModelFileError(f"model file {path} has no weight vector 'w'")
    try:
        net = network_from_config(header["network"])
        kind = str(header["kind"])
    except KeyError as e:
        raise ModelFileError(f"model file {path} lacks the header field {e}") from None
    w = arrays.pop("w")
    if w.shape != (net.n_weights,):
        raise ModelFileError(f"model file {path} is inconsistent: {w.shape[0]} weights for a "
                             f"network that needs {net.n_weights}")
    extra = {k[len("extra."):]: v for k, v in arrays.items() if k.startswith("extra.")}
    return ModelFile(
        kind=kind, network=net, w=w,
        x_mean=arrays.get("x_mean"), x_scale=arrays.get("x_scale"),
        classes=arrays.get("classes"),
        params=header.get("params", {}), training=header.get("training", {}),
        arrays=extra, meta=header.get("meta", {}),
        format_version=header["format_version"],
        prmlnet_version=header.get("prmlnet_version", ""),
        created=header.get("created", ""),
    )
