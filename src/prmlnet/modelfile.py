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

Loading is bounded before anything is decompressed (:class:`prmlnet.archive.NpzReader`):
the zip directory may list at most a few thousand members; the header member
at most :data:`MAX_HEADER_BYTES`; the arrays the header describes at most
``max_bytes`` together (:data:`DEFAULT_MAX_BYTES`, 1 GiB, or
``$PRMLNET_MAX_MODEL_BYTES``), and each array's ``.npy`` header must agree with
its description before it is read. The header is then validated field by field
(in :mod:`prmlnet._header`: types of every known field, the network, each array's
dtype, shape and meaning), and the values that would make predictions NaN or
wrong (non-finite weights, zero scales, repeated labels) are refused.

Files are written atomically: into a temporary file in the destination's
folder, flushed and ``fsync``-ed, then renamed over the destination with
:func:`os.replace`. A crash (or Ctrl-C, or ``kill -9``) mid-write leaves the
old file intact, and the next write of the same file removes the temporary
file a killed writer left. Only a regular file (or a path that does not exist)
is replaced: a symbolic link is followed and its target replaced, a named pipe
or a terminal is written in place, and anything else is refused
(:func:`output_plan`). An output path that is one of a command's inputs is
refused before any work. A round trip reproduces the weights, the standardisation and therefore every
prediction bit for bit.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._header import (DEFAULT_MAX_BYTES, FORMAT_NAME, FORMAT_VERSION, MAX_ARRAYS, MAX_BYTES_ENV,
                      MAX_HEADER_BYTES, ModelFileError, _bad, _check_header, _check_values,
                      max_model_bytes, network_config, network_from_config)
from .archive import ArchiveError, NpzReader, _fmt_bytes, open_regular
from .fileio import atomic_write, check_output, output_plan, write_output
from .network import Network

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "ModelFile", "ModelFileError", "save", "load",
    "network_config", "network_from_config", "atomic_write", "write_output", "output_plan",
    "check_output", "max_model_bytes", "DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "MAX_HEADER_BYTES",
]

_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


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
    """SHA-256 of the array's bytes in C order, without copying a contiguous array."""
    return hashlib.sha256(np.ascontiguousarray(a).reshape(-1).view(np.uint8)).hexdigest()


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


# -- writing ---------------------------------------------------------------------
def save(path, model: ModelFile, *, inputs=()) -> Path:
    """Write ``model`` to ``path`` (the name is used as given): atomically for a
    regular file, in place for a named pipe or a terminal (:func:`write_output`);
    ``inputs`` are files that must not be overwritten (the training data)."""
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
    return write_output(path, lambda f: np.savez(f, **stored), inputs)


# -- reading ---------------------------------------------------------------------
def _sniff(f, path):
    """Refuse what is plainly not a model file before parsing it as a zip archive."""
    head = f.read(8)
    f.seek(0)
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


def _read_header(z, path):
    if "header" not in z.members:
        raise ModelFileError(f"{path} is a .npz archive but not a prmlnet model file "
                             "(it has no 'header' member)")
    dtype, shape = z.header("header")
    if dtype != np.uint8 or len(shape) != 1:
        raise _bad(path, "the header", f"is {dtype} of shape {shape}, not UTF-8 bytes")
    if shape[0] > MAX_HEADER_BYTES:
        raise ModelFileError(f"model file {path} has a header of {_fmt_bytes(shape[0])}, more "
                             f"than the {_fmt_bytes(MAX_HEADER_BYTES)} a header may have; "
                             "refusing it")
    raw, _ = z.read("header", dtype=np.uint8, shape=shape)
    try:
        return json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad(path, "the header", f"is not JSON text ({type(e).__name__})") from None


def load(path, *, max_bytes=None) -> ModelFile:
    """Read a model file written by :func:`save`, refusing anything that could run
    code, exhaust memory or load with a wrong meaning.

    The header is validated against the format (every field's type, the
    network, each array's dtype, shape and meaning) and the arrays' sizes are
    bounded *before* any array is decompressed; each array's SHA-256 digest is
    checked while it is read.

    Parameters
    ----------
    path : str or path-like
        A regular file (a named pipe or a device is refused, never waited on).
    max_bytes : int, optional
        Bound on the array data the file may hold (default
        ``$PRMLNET_MAX_MODEL_BYTES`` or :data:`DEFAULT_MAX_BYTES`, 1 GiB); a
        larger file is refused with a message saying how to raise the bound.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError (a ValueError)
        If the file is empty, not a regular file, not a model file, a pickle, from
        a newer format version, too large, malformed, truncated or corrupted —
        with a one-line message.
    """
    limit = max_model_bytes(max_bytes)
    path = os.fspath(path)
    try:
        with open_regular(path, "model file") as f:
            _sniff(f, path)
            with NpzReader(f, path, max_members=4 * MAX_ARRAYS) as z:
                header = _read_header(z, path)
                net, described = _check_header(path, header, limit)
                arrays = {}
                for name, (dtype, shape, sha256, was_object) in described.items():
                    if name not in z.members:
                        raise ModelFileError(f"model file {path} lacks its array {name!r}; "
                                             "it is truncated or corrupted")
                    a, digest = z.read(name, dtype=dtype, shape=shape)
                    if digest != sha256:
                        raise ModelFileError(f"model file {path} is corrupted: array {name!r} "
                                             "does not match its recorded checksum; re-create "
                                             "it or restore a backup")
                    arrays[name] = a.astype(object) if was_object else a
    except ModelFileError:
        raise
    except ArchiveError as e:
        raise ModelFileError(str(e)) from None
    _check_values(path, arrays)
    extra = {k[len("extra."):]: v for k, v in arrays.items() if k.startswith("extra.")}
    return ModelFile(
        kind=header["kind"], network=net, w=arrays["w"],
        x_mean=arrays.get("x_mean"), x_scale=arrays.get("x_scale"),
        classes=arrays.get("classes"),
        params=header.get("params", {}), training=header.get("training", {}),
        arrays=extra, meta=header.get("meta", {}),
        format_version=header["format_version"],
        prmlnet_version=header.get("prmlnet_version", ""),
        created=header.get("created", ""),
    )
