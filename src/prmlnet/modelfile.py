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
                 "dtype": "float64"},
     "params": {...},                      # hyperparameters (JSON values)
     "training": {...},                    # metadata: data shape, error, iterations, time, ...
     "meta": {...},                        # extra JSON metadata of later estimators
     "arrays": {NAME: {"dtype", "shape", "sha256", "object"}}}

Every array is listed in ``arrays`` with its SHA-256 digest, checked on load
on top of the zip's CRC-32, so a truncated or corrupted file is reported as
such rather than loaded.

Files are written atomically: into a temporary file in the destination's
folder, flushed and ``fsync``-ed, then renamed over the destination with
:func:`os.replace`. A crash (or Ctrl-C, or ``kill -9``) mid-write leaves the
old file intact, and the next write of the same file removes the temporary
file a killed writer left. Only a regular file (or a path that does not exist)
is replaced: a symbolic link is followed and its target replaced, a named pipe
or a terminal is written in place, and anything else is refused
(:func:`output_plan`). An output path that is one of a command's inputs is
refused before any work.
A round trip reproduces the weights, the standardisation and therefore every
prediction bit for bit.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import io
import json
import os
import re
import stat
import tempfile
import time
from importlib import import_module
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .layers import Dense
from .network import Network
from .outputs import output_from_config

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "ModelFile", "ModelFileError", "save", "load",
    "network_config", "network_from_config", "atomic_write", "write_output", "output_plan",
    "check_output",
]

FORMAT_NAME = "prmlnet-model"
FORMAT_VERSION = 1

_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"


class ModelFileError(ValueError):
    """A file that cannot be loaded as a model: the message says why and what to do."""


# -- the architecture as JSON ---------------------------------------------------
def network_config(net: Network) -> dict:
    """The JSON description of ``net``'s architecture (no weights)."""
    if not all(type(layer) is Dense for layer in net.layers):
        raise ValueError("only networks of dense layers can be saved in format version "
                         f"{FORMAT_VERSION}; got {[type(l).__name__ for l in net.layers]}")
    output = net.output.config()
    try:
        json.dumps(output)
    except TypeError as e:
        raise ValueError(f"output model {net.output!r} has a configuration that is not "
                         f"JSON ({e}); make OutputModel.config() return plain values") from None
    return {
        "sizes": [int(s) for s in net.sizes],
        "hidden": [layer.activation.name for layer in net.layers[:-1]],
        "output": output,
        "dtype": np.dtype(net.dtype).name,
    }


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
def _kind_of(st) -> str:
    m = st.st_mode
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(m):
            return name
    return "a special file"


def _writable_folder(folder, path):
    """Raise ValueError unless a temporary file can be created in ``folder``
    (a real probe: permission bits say nothing for root or read-only mounts)."""
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: folder {folder} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".prmlnet-probe.", dir=folder)
    except OSError as e:
        raise ValueError(f"cannot write {path}: folder {folder} is not writable "
                         f"({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


def _same_file(st, other) -> bool:
    try:
        o = os.stat(other)
    except (OSError, ValueError):
        return False
    return (o.st_dev, o.st_ino) == (st.st_dev, st.st_ino)


def output_plan(path, inputs=()):
    """Decide how an output ``path`` is written, refusing what would destroy a file.

    Returns ``("descriptor", N)`` for a name of this process's open file
    descriptor N (``/dev/stdout``, ``/dev/fd/N``): the output goes where the shell
    redirected it, appending after ``>>``. Returns ``("replace", target)`` — write a temporary file beside ``target``
    and rename it over it (:func:`atomic_write`) — for a path that does not
    exist or is a regular file; a symbolic link is resolved and its target is
    replaced (the link stays). Returns ``("direct", path)`` — open and write in
    place — for a named pipe (only while a process reads it) or a character
    device such as a terminal or ``/dev/null``: these are never replaced by a
    regular file. Anything else (a folder, a block device, a socket) is refused.

    Parameters
    ----------
    path : str or path-like
    inputs : sequence of paths
        Files the command reads. A ``path`` that is one of them — the same
        resolved path, or the same file (device and inode) under another name
        or through a link — is refused, so an output never overwrites an input.

    Raises
    ------
    ValueError
        With a one-line message, before any work is done.
    """
    path = os.fspath(path)
    if path == "":
        raise ValueError("the output path is empty")
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        lst = None
    except OSError as e:
        raise ValueError(f"cannot write {path}: {e.strerror or e}") from None
    link = lst is not None and stat.S_ISLNK(lst.st_mode)
    st = lst
    if link:
        try:
            st = os.stat(path)
        except FileNotFoundError:           # a dangling link: create what it points to
            st = None
        except OSError as e:                # a loop of links, a component not a folder
            raise ValueError(f"cannot write {path}: {e.strerror or e}") from None
    real = os.path.realpath(path)
    for source in inputs:
        source = os.fspath(source)
        same = os.path.realpath(source) == real or (
            st is not None and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode))
            and _same_file(st, source))
        if same:
            raise ValueError(f"the output {path} is the input file {source}: writing it would "
                             "destroy the input; choose another output name")
    fd = _own_descriptor(path)
    if fd is not None and st is not None:   # /dev/stdout, /dev/fd/N: keep the shell's redirection
        return "descriptor", fd
    if st is None or stat.S_ISREG(st.st_mode):
        target = path
        if link:
            target = real
            if st is not None and not _same_file(st, real):   # e.g. /proc/self/fd/N of a
                return "direct", path                          # deleted file: write through it
        _writable_folder(os.path.dirname(target) or ".", path)
        return "replace", target
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        if not os.access(path, os.W_OK):
            raise ValueError(f"cannot write {path}: {_kind_of(st)} without write permission")
        return "direct", path
    what = _kind_of(st) + (f" (through the link {path})" if link else "")
    raise ValueError(f"cannot write {path}: it is {what}; write the output to a regular "
                     "file, a named pipe or a terminal")


def _own_descriptor(path):
    """N when ``path`` names this process's open file descriptor N (``/dev/stdout``,
    ``/dev/fd/N``, ``/proc/self/fd/N``, followed through links), else None."""
    p = os.path.abspath(path)
    for _ in range(40):
        m = re.match(r"^/(?:dev/fd|proc/(?:self|thread-self|\d+)/fd)/(\d+)$", p)
        if m and (not p.startswith("/proc/") or p.split("/")[2] in
                  ("self", "thread-self", str(os.getpid()))):
            return int(m.group(1))
        if p in ("/dev/stdout", "/dev/stderr") and not os.path.islink(p):
            return 1 if p == "/dev/stdout" else 2
        if not os.path.islink(p):
            return None
        p = os.path.normpath(os.path.join(os.path.dirname(p), os.readlink(p)))
    return None


def check_output(path, inputs=()) -> None:
    """Raise ValueError unless ``path`` can be written (see :func:`output_plan`);
    the command line calls it before reading or training anything."""
    output_plan(path, inputs)


def _write_direct(path, write):
    """Write into a named pipe or a character device in place (never replacing it)."""
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)   # non-blocking: a pipe nobody reads fails now, not hangs
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise ValueError(f"cannot write {path}: it is a named pipe that no process is "
                             "reading; start the reader first") from None
        raise
    try:
        st = os.fstat(fd)
        if not (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            raise ValueError(f"cannot write {path}: it became {_kind_of(st)}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "wb") as f:
        write(_ForwardOnly(f))
        f.flush()
    return Path(path)


class _ForwardOnly(io.RawIOBase):
    """A file that can only be written forwards (a pipe, a terminal, /dev/null):
    ``tell`` counts the bytes written and ``seek`` fails, so that :mod:`zipfile`
    streams the archive instead of seeking back to patch its headers."""

    def __init__(self, f):
        self._f, self._pos = f, 0

    def writable(self):
        return True

    def seekable(self):
        return False

    def write(self, b):
        n = self._f.write(b)
        self._pos += n
        return n

    def tell(self):
        return self._pos

    def seek(self, *args):
        raise io.UnsupportedOperation("seek")

    def flush(self):
        self._f.flush()


def write_output(path, write, inputs=()) -> Path:
    """Call ``write(fileobj)`` to produce the output ``path``, the safe way for what
    ``path`` is (:func:`output_plan`): atomically for a regular file, in place for
    a named pipe or a terminal. Returns the path written."""
    how, target = output_plan(path, inputs)
    if how == "descriptor":                 # write where the shell redirected it (>, >>, |)
        with os.fdopen(os.dup(target), "wb") as f:
            write(_ForwardOnly(f))
            f.flush()
        return Path(path)
    if how == "direct":
        return _write_direct(target, write)
    return atomic_write(target, write)


_TMP_SUFFIX = ".tmp"


def _stale_temporaries(folder, name):
    """Temporary files that an earlier, killed write of ``name`` left in ``folder``.

    A temporary is ``.NAME.PID.RANDOM.tmp``; it is stale when process PID no
    longer runs. One without a process id (older prmlnet versions) is stale
    when it is more than an hour old.
    """
    prefix = f".{name}."
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    stale = []
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(_TMP_SUFFIX)):
            continue
        middle = entry[len(prefix):-len(_TMP_SUFFIX)]
        pid = middle.split(".", 1)[0] if "." in middle else ""
        full = os.path.join(folder, entry)
        if pid.isdigit():
            if int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
                continue                    # that writer is still running
            except ProcessLookupError:
                pass
            except (PermissionError, OSError):
                continue
        else:
            try:
                if time.time() - os.lstat(full).st_mtime < 3600:
                    continue
            except OSError:
                continue
        stale.append(full)
    return stale


def atomic_write(path, write) -> Path:
    """Call ``write(fileobj)`` on a temporary file, then move it onto ``path``.

    The temporary file ``.NAME.PID.RANDOM.tmp`` lives in the destination's
    folder (so the final :func:`os.replace` is an atomic rename on POSIX and
    Windows), is flushed and ``fsync``-ed before the rename, and is removed if
    anything fails — the old file at ``path``, if any, is then left untouched.
    Temporaries of the same destination left by a writer that was killed
    (``kill -9``, a power cut) are removed first. Use :func:`write_output` for a
    path that may be a link, a pipe or a device: this function is only for a
    path that is a regular file or does not exist.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    for old in _stale_temporaries(folder, path.name):
        try:
            os.unlink(old)
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=_TMP_SUFFIX,
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise ValueError(f"cannot write {path}: it is {_kind_of(st)} now, and only a "
                             "regular file is replaced")
        os.chmod(tmp, (st.st_mode & 0o777) if st is not None else 0o644)
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
