r"""Outputs that never destroy a file.

Reading archives within bounds is :mod:`prmlnet.archive`.

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
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import tempfile
import time
from pathlib import Path


__all__ = ["output_plan", "check_output", "write_output", "atomic_write"]


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
