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
dtype); the least recently used sets are dropped beyond ``max_sets``. A
workspace serves one call at a time: a call that finds it busy — another
thread, or a call made from inside a call — runs with fresh arrays instead,
with the same results.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["Workspace"]


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
    a gradient.
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


def _arrays(obj):
    """Every ndarray inside nested lists, tuples and objects with __slots__ (for nbytes)."""
    import numpy as np

    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _arrays(x)
    elif hasattr(obj, "__slots__"):
        for name in obj.__slots__:
            yield from _arrays(getattr(obj, name, None))
