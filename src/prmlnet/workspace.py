r"""Workspaces: the buffers of a network's passes, kept from one call to the next.

Forward propagation, backpropagation and the R-passes (§5.3, §5.4.6) fill arrays
of shape (N, units) for every layer. Allocating them afresh on each call costs
little for small networks but a lot for layers of a few hundred units over a
few hundred patterns: the C library hands large blocks back to the system when
they are freed, so every call touches new pages and pays a page fault for each
(a training loop repeats the same call thousands of times). A
:class:`Workspace` keeps those arrays between calls instead::

    ws = net.workspace()
    for Xb, Tb in batches:
        E, g = net.error_and_gradient(w, Xb, Tb, workspace=ws)

The results are the same, bit for bit, as without a workspace: the same
operations run, only into arrays that already exist. Nothing a call returns
lives in the workspace (returned arrays are the caller's), so no call can see
another's buffers. :class:`~prmlnet.Objective` keeps a private one.

Buffers are kept per kind of pass and per batch size N (the network fixes the
dtype); the least recently used sets are dropped beyond ``max_sets``. Layers
whose primitives need large arrays of their own (the column matrices of a
convolution) take them from the set's :class:`Scratch` while the network's
pass runs (:func:`scratch`), and find them again on the next call. A
workspace serves one call at a time: a call that finds it busy — another
thread, or a call made from inside a call — runs with fresh arrays instead,
with the same results.
"""

from __future__ import annotations

import contextvars
import threading
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

__all__ = ["Workspace", "Scratch", "scratch"]


class Workspace:
    """Reusable buffers for the passes of one network.

    Parameters
    ----------
    net : Network
        The network whose passes use the buffers (``net.workspace()`` makes one).
    max_sets : int, default 4
        Buffer sets kept, one per kind of pass and batch size; a training loop
        uses one or two (the last mini-batch of an epoch may be shorter).

    Notes
    -----
    A workspace holds no result and changes no result; it may be dropped or
    replaced at any time. It does not travel with pickling (an unpickled
    workspace starts empty). Memory: about the activations of one pass over N
    patterns per set, for example 2 × N × (sum of the layer widths) floats for
    a gradient; a convolution adds its column matrices (up to 8 MiB kept from
    the forward pass, one chunk of 2 MiB otherwise) and its adjoint's arrays.
    """

    __slots__ = ("net", "max_sets", "_sets", "_lock")

    def __init__(self, net, max_sets=4):
        if not hasattr(net, "layers") or not hasattr(net, "n_weights"):
            raise ValueError(f"a Workspace is made for a Network; got {type(net).__name__}")
        if isinstance(max_sets, bool) or not isinstance(max_sets, int) or max_sets < 1:
            raise ValueError(f"max_sets must be an integer >= 1; got {max_sets!r}")
        self.net = net
        self.max_sets = max_sets
        self._sets = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self):
        keys = ", ".join(f"{k[0]} N={k[1]}" for k in self._sets)
        return f"Workspace({self.net!r}, sets=[{keys}])"

    def __getstate__(self):
        return {"net": self.net, "max_sets": self.max_sets}

    def __setstate__(self, state):
        self.__init__(state["net"], state["max_sets"])

    def clear(self):
        """Drop every buffer (the next call allocates them again)."""
        with self._lock:
            self._sets.clear()

    @property
    def nbytes(self) -> int:
        """Bytes held in buffers now."""
        total = 0
        for s in list(self._sets.values()):
            total += sum(b.nbytes for b in _arrays(s) if b.base is None)
        return total

    # -- for the passes -------------------------------------------------------------
    def acquire(self):
        """Take the workspace for one call; False if it is busy (then use fresh arrays)."""
        return self._lock.acquire(blocking=False)

    def release(self):
        self._lock.release()

    def get(self, key, build):
        """The buffer set ``key`` (a tuple, kind first, then N), made by ``build()``
        the first time. Call only between :meth:`acquire` and :meth:`release`."""
        sets = self._sets
        s = sets.get(key)
        if s is None:
            s = sets[key] = build()
            if len(sets) > self.max_sets:
                sets.popitem(last=False)
        elif len(sets) > 1:
            sets.move_to_end(key)
        return s


class Scratch:
    """Arrays a layer's primitives reuse from one pass of a workspace to the next.

    Active (returned by :func:`scratch`) only while a network's own forward and
    backward pass runs with a workspace, which serves one call at a time; a layer
    takes from it the arrays that live no longer than that pass, keyed by the
    layer and the array's role. ``memo`` holds what a layer's forward pass keeps
    for its backward pass (the convolution's column matrices). Outside such a
    pass :func:`scratch` is None and the layers allocate, with the same results.
    """

    __slots__ = ("_arrays", "memo")

    def __init__(self):
        self._arrays = {}
        self.memo = {}

    def take(self, key, shape, dtype, zero=False):
        """The array ``key`` of this shape and dtype: the one of the last pass if it
        matches, else a new one (zero-filled with ``zero``, which then holds only
        for entries no caller writes)."""
        a = self._arrays.get(key)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[key] = (np.zeros if zero else np.empty)(shape, dtype)
        return a


_ACTIVE = contextvars.ContextVar("prmlnet_scratch", default=None)


def scratch():
    """The :class:`Scratch` of the network pass running here with a workspace, or None."""
    return _ACTIVE.get()


@contextmanager
def scratch_active(s):
    """Make ``s`` the :func:`scratch` of the code inside (a network's own pass)."""
    token = _ACTIVE.set(s)
    try:
        yield s
    finally:
        _ACTIVE.reset(token)


def _arrays(obj):
    """Every ndarray inside nested lists, tuples, dicts and objects with __slots__ (for nbytes)."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _arrays(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _arrays(x)
    elif hasattr(obj, "__slots__"):
        for name in obj.__slots__:
            yield from _arrays(getattr(obj, name, None))
