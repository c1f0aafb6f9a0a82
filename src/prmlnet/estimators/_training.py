r"""How the estimators train: the validation split, early stopping, and the runs.

:class:`~prmlnet.estimators._base.BaseMLP` hands its training here, with the
network inputs ``X`` (standardised), the target matrix ``T`` and the pattern
weights ``s`` (None for unweighted patterns).

* **Batch methods** run :func:`prmlnet.optim.minimize` on the objective. ``gd``
  is batch gradient descent (5.41) with the fixed rate ``learning_rate`` — the
  same ``gd`` as ``minimize(..., method="gd", learning_rate=η)``.
* **Online methods** run :func:`prmlnet.optim.online.train_online`, and stop
  when the gradient test holds at the end of an epoch, or — scikit-learn's
  loss-plateau stop — when the epoch's error has not fallen below its lowest
  value by more than ``tol`` per pattern (times the targets' variance, for
  regression) for ``n_iter_no_change`` epochs in a row (without early stopping;
  with it, ``n_iter_no_change`` is the patience of the held-out error).
* **partial_fit** is one epoch of the same ``train_online``, continuing the
  online method's state, reporting the sum of its mini-batch errors.

Every run reports through :class:`~prmlnet.optim.OptimizeResult` and
:class:`~prmlnet.optim.Status`, the same for every method.

Early stopping (§5.5.2) holds out ``validation_fraction`` of the patterns — for
a classifier of labels the split is stratified (each class keeps its share in
both parts, so every class needs two members) — and keeps the weights with the
lowest held-out error, :math:`\sum_{n \in \text{val}} s_n E_n` (lower is
better), recorded in ``validation_errors_``.
"""

from __future__ import annotations

import math

import numpy as np

from . import _dask, _invariance

__all__ = ["sample_weights", "check_warm_start", "validation_split", "with_early_stopping",
           "keep_best", "train_batch", "train_online", "train_epoch"]


def sample_weights(sample_weight, X):
    """The checked weights (n_samples,) as float64, or None."""
    if sample_weight is None:
        return None
    if _dask.is_dask(X):                  # checked partition by partition on the cluster
        return _dask.sample_weights(sample_weight, X)
    if _dask.is_dask(sample_weight):
        raise ValueError("sample_weight is a dask array but X is not; give both as dask "
                         "collections (or both in memory)")
    from sklearn.utils.validation import _check_sample_weight
    s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.all(np.isfinite(s)):
        raise ValueError("sample_weight holds NaN or infinite values")
    if not s.sum() > 0:
        raise ValueError("sample_weight is zero for every sample: nothing to fit")
    return np.array(s, dtype=np.float64)         # our own copy: the caller's is untouched


def check_warm_start(est, X):
    """Raise ValueError unless the fitted network can continue on this data with
    these parameters (architecture and standardisation unchanged)."""
    if (est.x_mean_ is None) == bool(est.standardize) and not _dask.is_dask(X):
        raise ValueError(f"warm_start: standardize is {est.standardize} but the previous fit "
                         f"ran with standardize={not est.standardize}; the weights belong "
                         "to those inputs — fit afresh (warm_start=False)")
    output, n_out = est._output_model(np.empty((0, est.net_.n_targets)))
    try:
        net = est._build_network(est.n_features_in_, output, n_out)
    except ValueError:
        net = None
    if net != est.net_:
        raise ValueError(f"warm_start: these parameters build a different network than the "
                         f"fitted {'-'.join(map(str, est.net_.sizes))} one (hidden layers, "
                         "activation or outputs changed); fit afresh (warm_start=False)")


def validation_split(est, T):
    """``(train, val)`` row indices holding out ``validation_fraction`` of the patterns,
    drawn with ``est._rng_``: stratified by class for a classifier of labels.

    Raises ValueError (before any training) when a class has fewer than two
    patterns or the data are too few to hold any out.
    """
    N = T.shape[0]
    frac = est.validation_fraction
    stratify = getattr(est, "_label_kind", None) in ("binary", "multiclass")
    if not stratify:
        n_val = int(math.ceil(frac * N))
        if n_val < 1 or N - n_val < 1:
            raise ValueError(f"early_stopping needs at least 2 samples to hold out "
                             f"{frac:.0%} for validation; got {N}")
        order = est._rng_.permutation(N)
        return order[n_val:], order[:n_val]
    labels = (T[:, 0] > 0.5).astype(np.intp) if T.shape[1] == 1 else T.argmax(axis=1)
    if _dask.is_dask(labels):             # one small integer per row comes to this process
        labels = labels.compute()
    labels = np.asarray(labels, dtype=np.intp)
    counts = np.bincount(labels, minlength=len(est.classes_))
    few = np.flatnonzero((counts > 0) & (counts < 2))
    if few.size:
        c = est.classes_[few[0]]
        c = c.item() if isinstance(c, np.generic) else c
        raise ValueError(f"early_stopping: class {c!r} has only {counts[few[0]]} sample; the "
                         "validation split is stratified and needs at least 2 samples of each "
                         "class (one to train on, one to hold out) — add samples of it or set "
                         "early_stopping=False")
    train, val = [], []
    order = est._rng_.permutation(N)
    for k in np.flatnonzero(counts):
        rows = order[labels[order] == k]
        n_val = min(max(int(round(frac * rows.size)), 1), rows.size - 1)
        val.append(rows[:n_val])
        train.append(rows[n_val:])
    return est._rng_.permutation(np.concatenate(train)), np.sort(np.concatenate(val))


def with_early_stopping(est, X, T, s, cb):
    """Split off the validation set and chain :class:`~prmlnet.optim.EarlyStopping`
    before ``cb``; returns ``(X, T, s, callback, stopper)`` (stopper None when off)."""
    if not est.early_stopping:
        return X, T, s, cb, None
    from ..optim import EarlyStopping
    train, val = validation_split(est, T)
    if _dask.is_dask(X):                  # the held-out error is summed on the cluster too
        return _dask.with_early_stopping(est, X, T, s, train, val, cb)
    W = est.net_.n_weights
    if s is None:
        net, Xv, Tv = est.net_, X[val], T[val]
        held_out = lambda x: net.error(x[:W], Xv, Tv)                 # noqa: E731
    else:
        if not s[val].sum() > 0:
            raise ValueError("early_stopping: every held-out sample has weight zero; give "
                             "weight to more samples or set early_stopping=False")
        from ..objective import Objective
        data = Objective(est.net_, X[val], T[val], sample_weight=s[val])
        held_out = lambda x: data.data_error(x[:W])                  # noqa: E731
    stopper = EarlyStopping(held_out, patience=est.n_iter_no_change)

    def chained(info):
        return bool(stopper(info)) | bool(cb(info) if cb is not None else False)
    return X[train], T[train], None if s is None else s[train], chained, stopper


def keep_best(est, result, stopper):
    """The best held-out weights into ``result``, and the held-out errors onto ``est``."""
    if stopper is not None and stopper.best_w is not None:
        result["x"] = stopper.best_w
        result["best_iter"] = stopper.best_iter
        est.validation_errors_ = [e for _, e in stopper.history]
        est.best_validation_error_ = float(stopper.best_error)
    return result


def _interrupted_start(est, w0):
    from ..optim import Status
    from ..optim.result import OptimizeResult
    return OptimizeResult(x=w0, fun=math.nan, jac=None, nit=0, nfev=0, njev=0, nhev=0,
                          success=False, status=Status.INTERRUPTED,
                          message="interrupted before the first iteration", history=None,
                          method=est.method)


def train_batch(est, w0, X, T, callback, s=None):
    """A batch method of :func:`prmlnet.optim.minimize` on the estimator's objective."""
    from ..optim import minimize
    X, T, s, cb, stopper = with_early_stopping(est, X, T, s, est._callbacks(callback))
    X, T = _invariance.augmented(est, X, T, est._rng_)          # a fixed augmented set
    if s is not None and X.shape[0] != s.shape[0]:                 # its copies keep their weights
        s = np.tile(s, X.shape[0] // s.shape[0])
    obj, w0 = est._trained(est._make_objective(est.net_, X, T, **_weights(s)), w0)
    kwargs = {}
    if est.method == "newton":
        kwargs["hvp"] = obj.hvp
    if est.method == "gd":
        kwargs["learning_rate"] = est.learning_rate      # (5.41) with a fixed η, as minimize's gd
    try:
        # the relative-decrease test measures decreases of an E below 1 against 1: for
        # errors of a smaller scale (tiny targets), against that scale instead
        ftol = 1e-12 * min(1.0, est._error_scale(T, s))
        result = minimize(obj, w0, method=est.method, max_iter=est.max_iter,
                          gtol=est._gtol(T, s), ftol=ftol, callback=cb, **kwargs)
    except KeyboardInterrupt:            # outside the optimizer's own guard
        result = _interrupted_start(est, w0)
    return keep_best(est, result, stopper)


def _weights(s):
    """``sample_weight=s`` as keyword arguments where there are weights (hooks written
    without the parameter keep working for unweighted fits)."""
    return {} if s is None else {"sample_weight": s}


def train_online(est, w0, X, T, callback, s=None):
    """An online method for ``max_iter`` epochs at most, with the gradient test and,
    without early stopping, the loss-plateau stop."""
    from ..optim.online import train_online as run
    X, T, s, cb, stopper = with_early_stopping(est, X, T, s, est._callbacks(callback))
    obj, w0 = est._trained(est._make_objective(est.net_, X, T, **_weights(s)), w0)
    plateau = None if est.early_stopping else est.n_iter_no_change
    # each mini-batch carries its share of the prior (Objective.minibatch)
    result = run(obj.minibatch, w0, X, T, est._online_pair(),
                 batch_size=min(est.batch_size, X.shape[0]), n_epochs=est.max_iter,
                 rng=est._rng_, callback=cb, transform=_invariance.transform(est),
                 gtol=est._gtol(T, s), tol=est._plateau_tol(T, s), n_iter_no_change=plateau)
    return keep_best(est, result, stopper)


def train_epoch(est, w0, X, T, callback, s=None):
    """One epoch over ``(X, T)`` in shuffled mini-batches (``partial_fit``), continuing
    the online method's state; the error reported is the sum of the mini-batch errors."""
    from ..optim.online import train_online as run
    obj, w0 = est._trained(est._make_objective(est.net_, X, T, **_weights(s)), w0)
    result = run(obj.minibatch, w0, X, T, est._online_pair(),
                 batch_size=min(est.batch_size, X.shape[0]), n_epochs=1, rng=est._rng_,
                 callback=est._callbacks(callback, start=est.n_iter_),
                 transform=_invariance.transform(est), state=est._online_state_,
                 monitor="batches")
    est._online_state_ = result.state
    return result
