"""Fitting the estimators on dask arrays: the batch methods run on the cluster.

:meth:`BaseMLP.fit <prmlnet.estimators._base.BaseMLP.fit>` sends dask input here
for the steps that would otherwise pull the data into memory: checking X and y
(shapes and dtypes from the metadata; the values partition by partition, on the
workers), encoding the targets (labels found by a distributed ``unique``, then
encoded partition by partition), the standardisation statistics (computed on
the cluster) and the held-out error of early stopping. Training then runs on a
:class:`~prmlnet.distributed.DistributedObjective`, and the fitted estimator is
the one a NumPy fit gives (the same sums, added in another order).

Online methods are refused: their updates follow one another mini-batch by
mini-batch, a loop a cluster cannot share. So are the estimators whose
training needs more than the objective (the mixture density network starts from
the targets themselves). The Bayesian networks run the evidence loop on a
:class:`~prmlnet.distributed.DistributedObjective` (``_fits_dask``): every sum it
needs is the objective's.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier


def is_dask(*arrays) -> bool:
    """Whether any of ``arrays`` is a dask collection (without importing dask)."""
    return any(hasattr(a, "__dask_graph__") for a in arrays)


def _supported(est):
    """MLPRegressor and MLPClassifier (and subclasses that train as they do, or that say
    they train on any objective: ``_fits_dask``)."""
    from ._base import BaseMLP
    from .mlp import MLPClassifier, MLPRegressor
    if getattr(type(est), "_fits_dask", False):
        return True
    return isinstance(est, (MLPRegressor, MLPClassifier)) and all(
        getattr(type(est), name) is getattr(BaseMLP, name)
        for name in ("_make_objective", "_train_batch", "_initial_weights", "_after_fit"))


def validate(est, X, y, reset):
    """``(X, y)`` as dask arrays of float64 X, checked from their metadata; sets
    ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame) on ``reset``."""
    from ..distributed import _as_dask_array
    from ._base import ONLINE_METHODS

    name = type(est).__name__
    if not _supported(est):
        raise ValueError(f"{name} takes NumPy arrays only; with dask arrays use MLPRegressor or "
                         "MLPClassifier, or compute X and y first")
    if est.method in ONLINE_METHODS:
        raise ValueError(f"method={est.method!r} is an online method: its updates follow one "
                         "another mini-batch by mini-batch, which a cluster cannot share; "
                         "with dask arrays use a batch method (scg, bfgs, lbfgs, cg, gd, newton)")
    if not (is_dask(X) and is_dask(y)):
        raise ValueError("give X and y both as dask collections (or both in memory)")
    columns = getattr(X, "columns", None)
    X = _as_dask_array(X, "X")
    if hasattr(y, "to_dask_array"):
        y = y.to_dask_array(lengths=True)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}")
    if y.ndim == 2 and y.numblocks[1] > 1:
        y = y.rechunk({1: -1})
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
    if X.chunks[0] != y.chunks[0]:
        y = y.rechunk({0: X.chunks[0]})
    if reset:
        est.n_features_in_ = int(X.shape[1])
        if columns is not None and all(isinstance(c, str) for c in columns):
            est.feature_names_in_ = np.asarray(columns, dtype=object)
        elif hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {name} is expecting "
                         f"{est.n_features_in_} features as input")
    return X.astype(np.float64), y


def _encode_block(y, enc):
    return enc._encode_targets(y, first=False)


def encode_targets(est, y, first, classes=None, sample_weight=None):
    """The target matrix T (N, K) as a dask array, and the label attributes of ``est``.

    A regressor's T is y as columns of float64 (its first row sets the
    attributes, as a NumPy fit would). A classifier's ``_encode_targets`` first
    sees the distinct labels (the distinct rows of a label indicator matrix),
    which give the attributes y itself would (``classes_``, binary or
    multiclass), then encodes each partition on its worker.
    """
    import dask
    import dask.array as da

    if not is_classifier(est):
        est._encode_targets(y[:1].compute(), first, classes)
        T = y.reshape(y.shape[0], -1).astype(np.float64)
        if getattr(est, "y_mean_", None) is None:
            return T
        if first:                                  # the targets' standardisation, on the cluster
            mean, scale = column_stats(T, sample_weight)
            scale[~(scale > 1e-12 * np.abs(mean))] = 1.0
            est.y_mean_, est.y_scale_ = mean, scale
        return (T - est.y_mean_) / est.y_scale_
    if y.ndim == 1:
        summary = da.unique(y).compute()
    else:
        parts = dask.compute(*[dask.delayed(np.unique)(b, axis=0) for b in y.to_delayed().ravel()])
        summary = np.unique(np.concatenate(parts), axis=0)
    est._encode_targets(summary, first, classes)
    enc = type(est)()
    enc.classes_, enc._label_kind = est.classes_, est._label_kind
    K = enc._encode_targets(summary, first=False).shape[1]
    return da.map_blocks(_encode_block, y, enc, dtype=np.float64, chunks=(y.chunks[0], (K,)),
                         meta=np.empty((0, 0)), **({"new_axis": 1} if y.ndim == 1 else {}))


def column_stats(X, s=None):
    """The mean and the standard deviation of each column of a dask array, as NumPy;
    with weights ``s`` (a dask array (N,)) those of the rows repeated s_n times."""
    import dask
    if s is None:
        mean, std = dask.compute(X.mean(axis=0), X.std(axis=0))
        return np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    total, first = dask.compute(s.sum(), (X * s[:, None]).sum(axis=0))
    mean = np.asarray(first, dtype=np.float64) / float(total)
    var = ((X - mean) ** 2 * s[:, None]).sum(axis=0).compute() / float(total)
    return mean, np.sqrt(np.asarray(var, dtype=np.float64))


def sample_weights(sample_weight, X):
    """``sample_weight`` as a float64 dask array (N,) partitioned like X; its values are
    checked on the workers by the :class:`~prmlnet.distributed.DistributedObjective`."""
    import dask.array as da
    s = sample_weight
    if hasattr(s, "to_dask_array"):
        s = s.to_dask_array(lengths=True)
    if not is_dask(s):
        s = da.from_array(np.asarray(s), chunks=(X.chunks[0],))
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1 or s.shape[0] != X.shape[0]:
        raise ValueError(f"sample_weight has shape {s.shape}; it must be ({X.shape[0]},), one "
                         "weight per sample")
    if s.chunks[0] != X.chunks[0]:
        s = s.rechunk((X.chunks[0],))
    return s.astype(np.float64)


def with_early_stopping(est, X, T, s, train, val, cb):
    """:func:`._training.with_early_stopping` on dask arrays: the held-out error is a
    :class:`~prmlnet.distributed.DistributedObjective`'s, summed on the cluster
    (weighted by ``s``, a dask array, or None). Returns ``(X, T, s, callback, stopper)``.

    The rows are taken in increasing order (a cheap selection within each
    partition); the sums do not depend on their order.
    """
    from ..distributed import DistributedObjective
    from ..optim import EarlyStopping
    train, val = np.sort(train), np.sort(val)
    held_out = DistributedObjective(est.net_, X[val], T[val],
                                    sample_weight=None if s is None else s[val])
    stopper = EarlyStopping(held_out.data_error, patience=est.n_iter_no_change)

    def chained(info):
        return bool(stopper(info)) | bool(cb(info) if cb is not None else False)
    return X[train], T[train], None if s is None else s[train], chained, stopper
