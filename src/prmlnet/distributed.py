r"""The training objective over data partitioned across a Dask cluster (or a disk).

Every batch method and every second-order tool talks to one thing: the
objective's sums over patterns,

.. math:: \widetilde{E}(\mathbf{w}) = \beta \sum_{p} E_{D,p}(\mathbf{w})
          + \sum_p \Omega_{r,p}(\mathbf{w}) + \Omega_\text{prior}(\mathbf{w})

where p runs over the partitions of the data. :class:`DistributedObjective`
computes each partition's partial sum — error and gradient, H·v, the exact or
outer-product Hessian, the diagonal — on the worker that holds the partition,
with the local :class:`~prmlnet.objective.Objective` of that partition (so there
is no second copy of the maths), and adds the partial sums by Dask's tree
reduction. The weights travel to the workers once per evaluation (scattered to
every worker); the data never come to the client; the weight-only terms (the
prior) are added on the client. It has the interface of
:class:`~prmlnet.objective.Objective`, so :func:`prmlnet.optim.minimize` (every
batch method), :func:`prmlnet.hessian.linear_operator` and
:func:`~prmlnet.hessian.extreme_eigenvalues`, and the estimators take it
unchanged.

Without a ``dask.distributed`` client the same objective runs on Dask's local
schedulers: over a :func:`from_npy` array it reads a file larger than memory
partition by partition, and the process's memory stays flat in N.

Per-pattern terms (``Term.per_pattern``, e.g. tangent propagation) are
evaluated on each partition beside the data term, with :attr:`Batch.rows
<prmlnet.priors.Batch>` holding the partition's rows *in the whole data set*, so
a term that picks rows of arrays of its own gets the right ones. Such a term is
copied to every worker with each evaluation: one that holds arrays over all N
patterns should hold them as small as it can. Online methods (mini-batch
updates, a sequential loop) are refused: :meth:`DistributedObjective.minibatch`
raises.

A worker lost during an evaluation costs time, not correctness: Dask recomputes
the partitions it held from their lineage and the evaluation returns the same
sum.
"""

from __future__ import annotations

import os
import numpy as np

from ._partitions import _Partition, _check, _partial
from .objective import Objective

__all__ = ["DistributedObjective", "from_npy"]


def _dask():
    try:
        import dask
        import dask.array
    except ImportError:
        raise ImportError("prmlnet.distributed needs Dask: pip install 'prmlnet[dask]'") from None
    return dask


def _default_client():
    """The current ``dask.distributed`` client, or None (then Dask's local schedulers)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _as_dask_array(A, name):
    """A 2-D dask array (dask DataFrames and Series converted, with their lengths)."""
    da = _dask().array
    if hasattr(A, "to_dask_array") and not isinstance(A, da.Array):      # dask DataFrame/Series
        A = A.to_dask_array(lengths=True)
        if A.ndim == 1:
            A = A[:, None]
    if not isinstance(A, da.Array):
        raise ValueError(f"{name} must be a dask array or dask DataFrame; got "
                         f"{type(A).__name__} (for data in memory use prmlnet.Objective, or "
                         f"dask.array.from_array({name}, chunks=(rows, -1)))")
    if A.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric; got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, columns); got shape {A.shape}"
                         + (f"; use {name}[:, None] for a single column" if A.ndim == 1 else ""))
    if any(np.isnan(c) for c in A.chunks[0]):
        raise ValueError(f"{name} has partitions of unknown length; call "
                         f"{name}.compute_chunk_sizes() first")
    return A.rechunk({1: -1}) if A.numblocks[1] > 1 else A


def _check_partitioning(X, T):
    NX, NT = X.shape[0], T.shape[0]
    if NX != NT:
        raise ValueError(f"X has {NX} patterns but T has {NT}; they must match")
    cx, ct = X.chunks[0], T.chunks[0]
    if cx != ct:
        p = next((i for i, (a, b) in enumerate(zip(cx, ct)) if a != b), min(len(cx), len(ct)))
        a = cx[p] if p < len(cx) else 0
        b = ct[p] if p < len(ct) else 0
        raise ValueError(f"X and T are partitioned differently: partition {p} holds {a} rows "
                         f"of X and {b} of T ({len(cx)} and {len(ct)} partitions); give both "
                         "the same row chunks, e.g. T = T.rechunk({0: X.chunks[0]})")


# (X name, T name, network) of partitions already checked: rebuilding an objective
# over the same collections (new alpha or beta, say) skips the pass over the data.
_CHECKED: dict = {}


class DistributedObjective:
    r"""E(w) = β E_D(w) + Ω_prior(w) + Σ_r Ω_r(w) over data partitioned across a cluster.

    Parameters
    ----------
    net : Network
    X : dask array of shape (N, D), or a dask DataFrame
    T : dask array of shape (N, K), or a dask DataFrame / Series
        Partitioned along the rows, both the same way (the partitions are the
        work units); each partition is checked once here, on its worker.
    prior, alpha, beta, terms, chunk_size
        As for :class:`~prmlnet.objective.Objective`, and checked the same way;
        ``chunk_size`` is the chunk of patterns within a partition.
    sample_weight : dask array of shape (N,), optional
        The weights :math:`s_n \ge 0` of the patterns, partitioned like X
        (as for :class:`~prmlnet.objective.Objective`: every sum weighted).
    client : dask.distributed.Client, optional
        Default: the current client if there is one, else Dask's local
        schedulers (the out-of-core path, :func:`from_npy`).
    persist : bool, optional
        Keep X and T in the workers' memory for the objective's lifetime
        (computed once, here). Default: True with a client, False without one
        (each evaluation then reads the partitions again: memory stays flat).
    split_every : int, optional
        Fan-in of the tree sum (Dask's default if None).

    Attributes
    ----------
    net, X, T, beta, prior, terms, chunk_size, n_patterns, alpha_vector
        As for :class:`~prmlnet.objective.Objective` (X and T are dask arrays).
    sample_weight : dask array of shape (N, 1) or None
    total_weight : float
        :math:`\sum_n s_n` (N without weights).
    client : Client or None
    n_partitions : int

    Notes
    -----
    Each evaluation is one map and one reduction,

    .. math:: \nabla\widetilde{E} = \sum_p \Big(\beta \sum_{n \in p} \nabla E_n
              + \nabla\Omega_{r,p}\Big) + \nabla\Omega_\text{prior}

    the inner sums on the workers by the partition's own
    :class:`~prmlnet.objective.Objective`, the outer by a tree of additions.
    Its cost is that of the largest partition's share of the work plus a
    per-evaluation overhead (scheduling, the weights out, W numbers back per
    partition) that does not grow with N.

    Examples
    --------
    >>> import dask.array as da, numpy as np, prmlnet
    >>> from prmlnet.distributed import DistributedObjective
    >>> X = da.random.default_rng(0).standard_normal((1000, 2), chunks=(250, 2))
    >>> T = da.sin(X[:, :1])
    >>> net = prmlnet.Network((2, 5, 1))
    >>> obj = DistributedObjective(net, X, T, alpha=0.01)       # local schedulers here
    >>> E, g = obj(net.init_weights(0))
    >>> obj.n_partitions, g.shape
    (4, (21,))
    """

    def __init__(self, net, X, T, prior=None, *, alpha=None, beta=1.0, terms=(),
                 chunk_size=None, client=None, persist=None, split_every=None,
                 sample_weight=None):
        dask = _dask()
        # The prior, terms, beta and chunk_size are checked and normalised exactly as
        # Objective does, by an Objective over one stand-in pattern; it also answers the
        # questions about the weights alone (alpha_vector, prior_error, prior_terms).
        self._settings = Objective(net, np.zeros((1, net.n_inputs)), np.eye(1, net.n_targets),
                                   prior, alpha=alpha, beta=beta, terms=terms,
                                   chunk_size=chunk_size)
        X = _as_dask_array(X, "X")
        T = _as_dask_array(T, "T")
        net.check_inputs(np.zeros((1, X.shape[1]), dtype=X.dtype))      # columns, as Objective
        if T.shape[1] != net.n_targets:
            raise ValueError(f"T has {T.shape[1]} columns; this network has {net.n_targets} "
                             "targets")
        _check_partitioning(X, T)
        S = None
        if sample_weight is not None:
            S = sample_weight
            if getattr(S, "ndim", 0) == 1:
                S = S[:, None]
            S = _as_dask_array(S, "sample_weight")
            if S.shape[1] != 1:
                raise ValueError(f"sample_weight has shape {S.shape}; it must be (N,), one "
                                 "weight per pattern")
            _check_partitioning(X, S)
        if X.shape[0] == 0:
            raise ValueError("X is empty (0 patterns)")
        if split_every is not None and not (isinstance(split_every, (int, np.integer))
                                            and split_every >= 2):
            raise ValueError(f"split_every must be an integer >= 2; got {split_every!r}")
        self.client = _default_client() if client is None else client
        if persist is None:
            persist = self.client is not None
        X, T = X.astype(net.dtype), T.astype(net.dtype)
        if S is not None:
            S = S.astype(np.float64)
        if persist:
            data = [X, T] + ([] if S is None else [S])
            data = (self.client.persist(data) if self.client is not None
                    else dask.persist(*data))
            X, T, S = data[0], data[1], (data[2] if S is not None else None)
        s = self._settings
        self.net, self.X, self.T, self.sample_weight = net, X, T, S
        self.prior, self.terms, self.beta, self.chunk_size = s.prior, s.terms, s.beta, s.chunk_size
        self.n_patterns = int(X.shape[0])
        self.n_partitions = len(X.chunks[0])
        self.split_every = split_every
        self._weight_terms = ((s.prior,) if s.prior is not None else ()) + tuple(
            t for t in s.terms if not t.per_pattern)
        part = _Partition(net, s.beta, tuple(t for t in s.terms if t.per_pattern), s.chunk_size,
                          S is not None)
        self._part = dask.delayed(part, traverse=False)
        starts = np.cumsum((0,) + X.chunks[0][:-1])
        place = dask.array.from_array(         # (partition number, first row) of each partition
            np.stack([np.arange(self.n_partitions), starts], axis=1), chunks=(1, 2))
        self._place = (self.client.persist(place) if self.client is not None
                       else dask.persist(place)[0])
        self._check_partitions()
        self.total_weight = float(self.n_patterns) if S is None else float(
            self._compute(S.sum()))
        if not self.total_weight > 0:
            raise ValueError("sample_weight is 0 for every pattern: nothing to fit")

    def __repr__(self):
        where = ("local schedulers" if self.client is None
                 else f"client {self.client.scheduler.address}")
        extra = f", terms={list(self.terms)!r}" if self.terms else ""
        return (f"DistributedObjective({self.net!r}, N={self.n_patterns}, partitions="
                f"{self.n_partitions}, prior={self.prior!r}, beta={self.beta:g}{extra}, "
                f"chunk_size={self.chunk_size}, {where})")

    @property
    def alpha_vector(self):
        return self._settings.alpha_vector

    # -- the map and the reduction ----------------------------------------------------
    def _compute(self, x):
        if self.client is not None:
            return self.client.compute(x, sync=True)
        return x.compute()

    def _broadcast(self, a, index, futures):
        """``(argument, index)`` giving ``a`` to every partition: scattered to all workers
        with a client (once per evaluation; the future is added to ``futures``, released
        when the evaluation ends), passed by reference on the local schedulers."""
        if self.client is None:
            return a, None
        da = _dask().array
        future = self.client.scatter(a, broadcast=True, hash=False)
        futures.append(future)
        return da.from_delayed(future, a.shape, dtype=a.dtype), index[:a.ndim]

    def _sum(self, what, w, extra=None, shape=()):
        """Σ over partitions of ``what`` (an array of ``shape``), by Dask's tree sum."""
        da = _dask().array
        futures = []
        args = [self._place, "iz", self.X, "ij", self.T, "ik"]
        if self.sample_weight is not None:
            args += [self.sample_weight, "il"]
        args += self._broadcast(w, "a", futures)
        if extra is not None:
            args += self._broadcast(extra, "uv", futures)
        out = "i" + "pqr"[:len(shape)]
        parts = da.blockwise(_partial, out, *args, self._part, None, what, None,
                             new_axes=dict(zip(out[1:], shape)), adjust_chunks={"i": 1},
                             align_arrays=False, concatenate=True, dtype=self.net.dtype,
                             meta=np.empty((0,) * len(out), dtype=self.net.dtype))
        try:
            return self._compute(parts.sum(axis=0, split_every=self.split_every))
        finally:
            for f in futures:               # the weights leave the workers with the evaluation
                f.release()

    def _check_partitions(self):
        S = self.sample_weight
        key = (self.X.name, self.T.name, self.net, None if S is None else S.name)
        if key in _CHECKED:
            return
        da = _dask().array
        weights = () if S is None else (S, "il")
        parts = da.blockwise(_check, "iy", self._place, "iz", self.X, "ij", self.T, "ik",
                             self.net, None, *weights, new_axes={"y": 1},
                             adjust_chunks={"i": 1},
                             align_arrays=False, concatenate=True, dtype=float,
                             meta=np.empty((0, 0)))
        self._compute(parts.sum(axis=0, split_every=self.split_every))
        if len(_CHECKED) > 64:
            _CHECKED.clear()
        _CHECKED[key] = True

    # -- the objective ----------------------------------------------------------------
    def _w(self, w):
        return self.net.check_weights(w)

    def _add_weight_terms(self, w, E, g):
        for term in self._weight_terms:
            Et, gt = term.value_and_gradient(w)
            E += Et
            g += gt
        return float(E), g

    def __call__(self, w):
        """``(E(w), ∇E(w))``: one forward and one backward pass over every partition."""
        w = self._w(w)
        Eg = self._sum("value_and_gradient", w, shape=(self.net.n_weights + 1,))
        return self._add_weight_terms(w, Eg[0], Eg[1:].copy())

    def error(self, w) -> float:
        """E(w)."""
        return self(w)[0]

    def gradient(self, w):
        """∇E(w), shape (W,)."""
        return self(w)[1]

    def data_error(self, w) -> float:
        """E_D(w), the network error summed over all patterns, not multiplied by β."""
        return float(self._sum("data_error", self._w(w), shape=(1,))[0])

    def prior_error(self, w) -> float:
        """The prior's term (E_W for a Gaussian prior); 0 without a prior."""
        return self._settings.prior_error(w)

    def prior_terms(self, w) -> dict:
        """``{group: ½ ‖w_g‖²}`` over the Gaussian prior's groups."""
        return self._settings.prior_terms(w)

    def minibatch(self, w, Xb, Tb, rows=None):
        """Refused: online methods update w after every mini-batch, a sequential loop."""
        raise ValueError("DistributedObjective takes batch methods only: an online method "
                         "(sgd, momentum, adam) updates the weights after every mini-batch, a "
                         "sequential loop a cluster cannot share; use prmlnet.optim.minimize, "
                         "or prmlnet.Objective on data in memory")

    # -- curvature --------------------------------------------------------------------
    def hvp(self, w, v):
        r"""H v for one direction (W,) or R directions (R, W): β ∇∇E_D by the R-operator
        (§5.4.6) on every partition, plus each term's."""
        w = self._w(w)
        v = np.asarray(v, dtype=self.net.dtype)
        W = self.net.n_weights
        if v.shape != (W,) and not (v.ndim == 2 and v.shape[1] == W):
            raise ValueError(f"v has shape {v.shape}; it must be ({W},) or (R, {W})")
        Hv = self._sum("hvp", w, v, shape=v.shape)
        for term in self._weight_terms:
            Hv += (term.hvp(w, v) if v.ndim == 1 else np.stack([term.hvp(w, r) for r in v]))
        return Hv

    def _matrix(self, what, w):
        from .hessian._memory import check_matrix_memory

        w = self._w(w)
        W = self.net.n_weights
        check_matrix_memory(W, self.net.dtype.itemsize, 2.0)
        H = self._sum(what, w, shape=(W, W))
        for term in self._weight_terms:
            part = term.hessian(w)
            if np.ndim(part) == 1:
                H[np.diag_indices_from(H)] += part
            else:
                H += part
        return H

    def hessian(self, w):
        """The exact Hessian of the objective (data term §5.4.5, plus each term's), (W, W)."""
        return self._matrix("hessian", w)

    def outer_product(self, w):
        """The outer-product approximation of the data term β Σ_n b_n b_nᵀ (5.84, 5.85),
        plus each term's Hessian."""
        return self._matrix("outer_product", w)

    def diagonal(self, w):
        """The diagonal approximation of the data term's Hessian (§5.4.1), plus the
        diagonal of each term's."""
        w = self._w(w)
        d = self._sum("diagonal", w, shape=(self.net.n_weights,))
        for term in self._weight_terms:
            part = term.hessian(w)
            d += part if np.ndim(part) == 1 else np.diagonal(part)
        return d


class _NpyRows:
    """Rows of a .npy file, read on demand: each read maps the file, copies the rows
    asked for and lets the map go, so no more than one block stays in memory."""

    def __init__(self, path):
        m = np.load(path, mmap_mode="r")
        self.path, self.shape, self.dtype, self.ndim = path, m.shape, m.dtype, m.ndim

    def __getitem__(self, key):
        m = np.load(self.path, mmap_mode="r")
        out = np.array(m[key])
        del m
        return out


def from_npy(path, rows_per_partition):
    """A 2-D ``.npy`` file as a dask array of row partitions, read from disk as needed.

    The file is never loaded whole: each partition is read by its own task
    (memory-mapped, copied, unmapped). With Dask's local schedulers a
    :class:`DistributedObjective` over such arrays handles data larger than
    memory; on a cluster the workers must see the same path.

    Parameters
    ----------
    path : str or os.PathLike
    rows_per_partition : int

    Returns
    -------
    dask array of the file's shape and dtype, chunks ``(rows_per_partition, -1)``.
    """
    da = _dask().array
    path = os.fspath(path)
    src = _NpyRows(path)
    if src.ndim != 2:
        raise ValueError(f"{path} holds an array of shape {src.shape}; from_npy reads 2-D arrays")
    rows = int(rows_per_partition)
    if rows < 1:
        raise ValueError(f"rows_per_partition must be >= 1; got {rows_per_partition!r}")
    st = os.stat(path)
    name = "npy-" + _dask().base.tokenize(path, st.st_mtime_ns, st.st_size, rows)
    return da.from_array(src, chunks=(rows, -1), name=name, asarray=True, fancy=False,
                         meta=np.empty((0, 0), dtype=src.dtype))
