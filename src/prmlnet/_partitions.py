"""What runs on a worker for :class:`prmlnet.distributed.DistributedObjective`: each
partition's local :class:`~prmlnet.objective.Objective`, its partial sums and its checks."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .objective import Objective
from .priors import Term


class _Partition(NamedTuple):
    """What every partition needs besides its data and the weights (sent with each evaluation)."""

    net: object
    beta: float
    terms: tuple          # the per-pattern terms
    chunk_size: int
    weighted: bool        # whether a column of sample weights follows T


class _Rows(Term):
    """A per-pattern term seen from one partition: its batches' rows shifted by the
    partition's first row, so they index the whole data set."""

    per_pattern = True

    def __init__(self, term, start):
        self.term, self.start = term, int(start)
        self.takes_weights = term.takes_weights

    def _batch(self, batch):
        r, s = batch.rows, self.start
        r = slice(r.start + s, r.stop + s) if isinstance(r, slice) else r + s
        return batch._replace(rows=r)

    def value_and_gradient(self, w, batch=None):
        return self.term.value_and_gradient(w, self._batch(batch))

    def hvp(self, w, v, batch=None):
        return self.term.hvp(w, v, self._batch(batch))

    def hessian(self, w, batch=None):
        return self.term.hessian(w, self._batch(batch))


def _where(place, n):
    p, start = int(place[0, 0]), int(place[0, 1])
    return f"partition {p} (rows {start} to {start + n - 1})"


def _local(part, place, X, T, s=None):
    """The local Objective of one partition (data term and per-pattern terms only)."""
    start = int(place[0, 1])
    try:
        return Objective(part.net, X, T, beta=part.beta, chunk_size=part.chunk_size,
                         terms=[_Rows(t, start) for t in part.terms],
                         sample_weight=None if s is None else s[:, 0])
    except ValueError as e:
        raise ValueError(f"{_where(place, X.shape[0])}: {e}") from None


def _partial(place, X, T, *args):
    """One partition's partial sum of ``what``, with a leading axis of length 1; with
    weights, their column comes after T."""
    *rest, part, what = args
    s = None
    if part.weighted:
        s, *rest = rest
    w, *extra = rest
    zero = s is not None and not np.any(s)        # a partition whose weights are all 0
    obj = _local(part, place, X, T, np.ones_like(s) if zero else s)
    out = _what(obj, what, w, extra)
    return (out * 0.0 if zero else out)[None]


def _what(obj, what, w, extra):
    if what == "value_and_gradient":
        E, g = obj(w)
        out = np.concatenate([[E], g])
    elif what == "data_error":
        out = np.array([obj.data_error(w)])
    else:                                   # hvp, hessian, outer_product, diagonal
        out = getattr(obj, what)(w, *extra)
    return out


def _check(place, X, T, net, s=None):
    """Raise a ValueError naming the partition if its data are not what the network takes."""
    where = _where(place, X.shape[0])
    start = int(place[0, 1])
    for name, A in (("X", X), ("T", T)):
        bad = ~np.all(np.isfinite(A), axis=1)
        if bad.any():
            rows = (np.flatnonzero(bad)[:5] + start).tolist()
            raise ValueError(f"{name} holds NaN or infinite values in {where}: rows {rows}")
    try:
        net.check_targets(T, net.check_inputs(X).shape[0])
    except ValueError as e:
        raise ValueError(f"{where}, rows counted from its first: {e}") from None
    if s is not None and not np.all(np.isfinite(s) & (s >= 0)):
        rows = (np.flatnonzero(~(np.isfinite(s) & (s >= 0)))[:5] + start).tolist()
        raise ValueError(f"sample_weight must be finite and >= 0; not so in {where}: "
                         f"rows {rows}")
    return np.zeros((1, 1))
