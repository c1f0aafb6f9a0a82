r"""Callbacks for :func:`prmlnet.optim.minimize` and :func:`~prmlnet.optim.online.train_online`.

A callback is called once per iteration (per epoch online) with an
:class:`~prmlnet.optim.result.IterInfo`; returning True stops the run with
``Status.CALLBACK_STOP``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EarlyStopping"]


class EarlyStopping:
    r"""Early stopping (PRML §5.5.2): watch the validation error, keep the best weights.

    Parameters
    ----------
    validation_error : callable ``w -> float``
        The error on a validation set (e.g. ``lambda w: net.error(w, Xv, Tv)``).
    patience : int
        Stop after this many checks in a row without an improvement.
    every : int
        Check every ``every`` iterations (the validation error can cost as much
        as a training evaluation).
    min_delta : float
        An improvement must lower the best error by more than this.

    Attributes
    ----------
    best_w : ndarray or None
        A copy of the weights with the lowest validation error so far.
    best_error : float
    best_iter : int
        The iteration (``info.nit``) at which ``best_w`` was seen.
    history : list of (nit, validation error)
    stopped_iter : int or None
        The iteration at which the callback asked to stop.

    Notes
    -----
    Training stops *after* the minimum of the validation error, so the final
    weights of the run are not the ones to keep: use ``best_w``. Stopping early
    acts like weight decay: the effective number of parameters grows with the
    number of iterations (§5.5.2).
    """

    def __init__(self, validation_error, patience=10, every=1, min_delta=0.0):
        if not callable(validation_error):
            raise ValueError("validation_error must be callable: w -> float")
        if int(patience) != patience or patience < 1:
            raise ValueError(f"patience must be a positive integer; got {patience!r}")
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer; got {every!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0; got {min_delta!r}")
        self.validation_error = validation_error
        self.patience = int(patience)
        self.every = int(every)
        self.min_delta = float(min_delta)
        self.best_w = None
        self.best_error = math.inf
        self.best_iter = -1
        self.history = []
        self.stopped_iter = None
        self._bad = 0

    def __call__(self, info) -> bool:
        if info.nit % self.every:
            return False
        err = float(self.validation_error(info.x))
        self.history.append((info.nit, err))
        if err < self.best_error - self.min_delta:
            self.best_error, self.best_w, self.best_iter = err, np.array(info.x, copy=True), info.nit
            self._bad = 0
            return False
        self._bad += 1
        if self._bad >= self.patience:
            self.stopped_iter = info.nit
            return True
        return False
