r"""Archives read within bounds: nothing is trusted before it is checked.

:func:`open_regular` opens a file for reading only if it is a regular file (a
named pipe would block forever). :class:`NpzReader` reads a ``.npz`` archive
without trusting it: the zip's central directory is bounded before it is
parsed; each member's declared size, and its ``.npy`` header's dtype and shape,
are checked before anything is decompressed or allocated; arrays are read in
chunks straight into their final buffer with the SHA-256 digest computed on the
way (no copy); object arrays (pickles) are refused.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import struct
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from .fileio import _kind_of

__all__ = ["open_regular", "NpzReader", "ArchiveError"]


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
