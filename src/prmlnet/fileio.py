r"""Files on disk, safely: outputs that never destroy a file, archives read within bounds.

Writing
-------
:func:`output_plan` decides how an output path is written and refuses what
would destroy a file; :func:`write_output` writes accordingly. A regular file
(or a path that does not exist) is replaced atomically (:func:`atomic_write`:
a temporary file beside it, ``fsync``, :func:`os.replace`), so a crash,
Ctrl-C or ``kill -9`` mid-write leaves the old file intact, and the next write
removes the temporary a killed writer left. A symbolic link is followed and its
target replaced; a named pipe or a terminal is written in place; ``/dev/stdout``
and ``/dev/fd/N`` go where the shell redirected them; anything else is refused.
An output path that is one of the command's inputs (the same resolved path, or
the same device and inode) is refused before any work.

Reading
-------
:func:`open_regular` opens a file for reading only if it is a regular file (a
named pipe would block forever). :class:`NpzReader` reads a ``.npz`` archive
without trusting it: the zip's central directory is bounded before it is
parsed; each member's declared size, and its ``.npy`` header's dtype and shape,
are checked before anything is decompressed or allocated; arrays are read in
chunks straight into their final buffer with the SHA-256 digest computed on the
way (no copy); object arrays (pickles) are refused.
"""

from __future__ import annotations

import errno
import hashlib
import io
import math
import os
import re
import stat
import struct
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["output_plan", "check_output", "write_output", "atomic_write", "open_regular",
           "NpzReader", "ArchiveError"]


def _kind_of(st) -> str:
    m = st.st_mode
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(m):
            return name
    return "a special file"


def _probe_folder(target, path):
    """Raise ValueError unless a temporary file can be created beside ``target``
    (a real probe: permission bits say nothing for root or read-only mounts).
    The probe is named like :func:`atomic_write`'s temporaries, so one that a
    killed process left is removed by the next write."""
    folder = os.path.dirname(target) or "."
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.{os.getpid()}.",
                                     suffix=_TMP_SUFFIX, dir=folder)
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
        folder = os.path.dirname(target) or "."
        if not os.path.isdir(folder):
            raise ValueError(f"cannot write {path}: folder {folder} does not exist")
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
    """Raise ValueError unless ``path`` can be written (see :func:`output_plan`),
    probing that its folder accepts a new file; the command line calls it before
    reading or training anything."""
    how, target = output_plan(path, inputs)
    if how == "replace":
        _probe_folder(target, path)


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


# -- reading ---------------------------------------------------------------------
class ArchiveError(ValueError):
    """An archive refused or unreadable; the message says why (one line)."""


def open_regular(path, what="file"):
    """Open ``path`` for binary reading if it is a regular file, else raise.

    The file is opened without blocking (a named pipe with no writer would
    otherwise hang) and checked with ``fstat`` on the open descriptor, so the
    check and the read concern the same file.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ArchiveError
        When it is a folder, a pipe, a device or a socket.
    """
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ArchiveError(f"{path} is a folder, not a {what}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ArchiveError(f"{path} is {_kind_of(st)}, not a regular file; a {what} must be "
                           "a regular file (copy it into one first)")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _fmt_bytes(n) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


_CHUNK = 2 ** 20                       # bytes read at a time
_ALLOWED_KINDS = "biufU"               # numbers, booleans, fixed-width strings
_MAX_NPY_HEADER = 10_000               # numpy's own default bound on a .npy header


class NpzReader:
    """A ``.npz`` archive opened for bounded reading (use as a context manager).

    Parameters
    ----------
    f : binary file object
        A seekable regular file (:func:`open_regular`).
    name : str
        The file's name, for messages.
    max_members : int
        Most members the archive may list; its central directory is bounded by
        this before it is parsed.

    Attributes
    ----------
    members : dict of str -> zipfile.ZipInfo
        The ``.npy`` members by array name (without ``.npy``).
    """

    def __init__(self, f, name, max_members=4096):
        self.name = name
        entries, size = self._directory(f)
        if entries > max_members or size > max_members * 1024:
            raise ArchiveError(f"{name} lists {entries:,} members in a directory of "
                               f"{_fmt_bytes(size)}, more than the {max_members:,} members "
                               "an archive of arrays may have; refusing it")
        try:
            self.zip = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError,
                struct.error, NotImplementedError) as e:
            raise self.corrupt(e) from None
        self.members = {}
        for info in self.zip.infolist():
            if not info.filename.endswith(".npy"):
                continue                          # not an array: never read
            key = info.filename[:-4]
            if key in self.members:
                raise ArchiveError(f"{name} holds the array {key!r} twice; refusing an "
                                   "ambiguous archive")
            self.members[key] = info

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()
        return False

    def corrupt(self, e):
        return ArchiveError(f"{self.name} is truncated or corrupted ({type(e).__name__}: {e}); "
                            "re-create it or restore a backup")

    @staticmethod
    def _directory(f):
        """``(entries, bytes)`` of the central directory, from the zip's end record."""
        f.seek(0, os.SEEK_END)
        end = f.tell()
        n = min(end, 22 + 65535)
        f.seek(end - n)
        tail = f.read(n)
        i = tail.rfind(b"PK\x05\x06")
        if i < 0 or n - i < 22:
            return 0, 0                         # not a zip: zipfile says so below
        entries, size = struct.unpack("<HI", tail[i + 10:i + 16])
        if (entries == 0xFFFF or size == 0xFFFFFFFF) and i >= 20 and \
                tail[i - 20:i - 16] == b"PK\x06\x07":             # the zip64 end record
            (offset,) = struct.unpack("<Q", tail[i - 12:i - 4])
            f.seek(offset)
            rec = f.read(56)
            if rec[:4] == b"PK\x06\x06" and len(rec) == 56:
                entries, size = struct.unpack("<QQ", rec[32:48])
        return entries, size

    def header(self, key):
        """``(dtype, shape)`` from the ``.npy`` header of member ``key``, read
        without decompressing the data."""
        with self._open(key) as m:
            return self._npy_header(m, key)[:2]

    def _open(self, key):
        info = self.members[key]
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{self.name}: array {key!r} is encrypted; refusing it")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveError(f"{self.name}: array {key!r} uses zip compression method "
                               f"{info.compress_type}; only stored and deflated members are read")
        try:
            return self.zip.open(info)
        except (zipfile.BadZipFile, ValueError, EOFError, OSError, struct.error,
                NotImplementedError) as e:
            raise self.corrupt(e) from None

    def _npy_header(self, m, key):
        try:
            version = npy_format.read_magic(m)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(m, _MAX_NPY_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(m, _MAX_NPY_HEADER)
            else:
                raise ValueError(f".npy format version {version} is not read")
        except (ValueError, EOFError, zipfile.BadZipFile, OSError, struct.error,
                SyntaxError, TypeError) as e:
            raise self.corrupt(e) from None
        if dtype.hasobject:
            raise ArchiveError(f"refusing to load {self.name}: it holds pickled Python objects "
                               f"(array {key!r}), which can run code when loaded; prmlnet "
                               "files never contain pickles")
        if dtype.names is not None or dtype.subdtype is not None or \
                dtype.kind not in _ALLOWED_KINDS:
            raise ArchiveError(f"{self.name}: array {key!r} has dtype {dtype}; only numbers, "
                               "booleans and fixed-width strings are read")
        if fortran and len(shape) > 1:
            raise ArchiveError(f"{self.name}: array {key!r} is stored in Fortran order; "
                               "prmlnet writes C order only")
        return dtype, tuple(shape), m.tell()

    def read(self, key, dtype=None, shape=None, max_bytes=None):
        """Array ``key`` and the SHA-256 hex digest of its bytes.

        ``dtype`` and ``shape``, when given, are what the array must be; its
        size is checked against ``max_bytes`` and against the member's
        declared size before any data are decompressed or allocated.
        """
        with self._open(key) as m:
            dt, sh, offset = self._npy_header(m, key)
            if dtype is not None and dt != np.dtype(dtype):
                raise ArchiveError(f"{self.name}: array {key!r} is {dt}, not the {np.dtype(dtype)} "
                                   "its description says; the file is corrupted or crafted")
            if shape is not None and sh != tuple(shape):
                raise ArchiveError(f"{self.name}: array {key!r} has shape {sh}, not the "
                                   f"{tuple(shape)} its description says; the file is "
                                   "corrupted or crafted")
            nbytes = math.prod(sh) * dt.itemsize
            if max_bytes is not None and nbytes > max_bytes:
                raise ArchiveError(f"{self.name}: array {key!r} would take {_fmt_bytes(nbytes)}, "
                                   f"more than the {_fmt_bytes(max_bytes)} allowed")
            if self.members[key].file_size != offset + nbytes:
                raise ArchiveError(
                    f"{self.name}: array {key!r} declares {self.members[key].file_size:,} bytes "
                    f"but its shape {sh} and dtype {dt} need {offset + nbytes:,}; the file is "
                    "corrupted or crafted")
            a = np.empty(sh, dtype=dt)
            buf = memoryview(a.reshape(-1).view(np.uint8))
            digest = hashlib.sha256()
            try:
                pos = 0
                while pos < nbytes:
                    n = m.readinto(buf[pos:pos + _CHUNK])
                    if not n:
                        raise EOFError(f"array {key!r} ends after {pos:,} of {nbytes:,} bytes")
                    digest.update(buf[pos:pos + n])
                    pos += n
                if m.read(1):                    # also makes zipfile check the CRC-32
                    raise ValueError(f"array {key!r} has data after its end")
            except (zipfile.BadZipFile, EOFError, ValueError, OSError, struct.error) as e:
                raise self.corrupt(e) from None
        return a, digest.hexdigest()
