r"""What every training run shares: the result type, the status enum, and the run
bookkeeping (evaluation counts, history, callback, stopping rules, best weights).

A batch method is written as a *body* ``body(run, x, f, g, **options)`` that loops
forever, asks :meth:`Run.evaluate` for ``(E, ∇E)`` and reports each new iterate
with :meth:`Run.accept`; the run ends when a :class:`Stop` is raised — by
:meth:`Run.accept` (converged, iteration limit, callback, a plateau of E), by a
line search (failed), or by :meth:`Run.evaluate` (non-finite error) — or by
Ctrl-C. :meth:`Run.drive` turns every ending into an :class:`OptimizeResult`.
Online training (:func:`~prmlnet.optim.online.train_online`) is one more body
whose iterations are epochs, so its results, statuses and histories are the
same as the batch methods'.
"""

from __future__ import annotations

import enum
import math
import time
from typing import NamedTuple

import numpy as np

__all__ = ["Status", "OptimizeResult", "History", "IterInfo", "Stop", "Run", "check_start"]


class Status(enum.IntEnum):
    """Why a run ended. ``success`` is true only for :attr:`CONVERGED`."""

    CONVERGED = 0           #: gradient below ``gtol`` or relative decrease below ``ftol`` (relative
                            #: to max(|E|, min(1, |E(w0)|))), or (online, with
                            #: ``n_iter_no_change``) E no lower by more than ``tol`` than its
                            #: best for ``n_iter_no_change`` iterations in a row
    MAX_ITER = 1            #: ``max_iter`` iterations done
    CALLBACK_STOP = 2       #: the callback returned True (or raised StopIteration)
    INTERRUPTED = 3         #: KeyboardInterrupt; ``x`` holds the best weights seen
    NONFINITE = 4           #: the error became NaN or infinite; ``x`` is the last finite iterate
    LINE_SEARCH_FAILED = 5  #: no step along the search direction lowered the error
    STALLED = 6             #: E stopped decreasing (relative decrease <= ``ftol``) while
                            #: ‖∇E‖∞ was still above ``gtol``: precision ran out, typically
                            #: because the data are badly scaled; not a convergence


_MESSAGES = {
    Status.CONVERGED: "converged",
    Status.MAX_ITER: "maximum number of iterations reached",
    Status.CALLBACK_STOP: "stopped by the callback",
    Status.INTERRUPTED: "interrupted (KeyboardInterrupt); x holds the lowest-error weights seen",
    Status.NONFINITE: "the error became NaN or infinite; x holds the last finite iterate",
    Status.LINE_SEARCH_FAILED: "the line search found no acceptable step",
    Status.STALLED: "the error stopped decreasing while the gradient was still above gtol "
                    "(precision ran out; rescale or standardise the data)",
}


class History(NamedTuple):
    """Per-iteration record of a run; entry 0 is the starting point.

    All fields are arrays of length ``nit + 1`` (for online training: one entry
    per epoch, plus the start).
    """

    fun: np.ndarray        #: error E(w) after each iteration (NaN where it was not evaluated)
    grad_norm: np.ndarray  #: max-norm of the gradient, ``‖∇E‖_∞`` (NaN where not evaluated)
    step: np.ndarray       #: Euclidean length of the step taken, ``‖w_new − w_old‖``
    nfev: np.ndarray       #: cumulative evaluations of (E, ∇E) (online: in full-data-set equivalents)
    time: np.ndarray       #: seconds since the start of the run


class IterInfo(NamedTuple):
    """What a callback receives once per iteration (do not modify ``x``); ``jac`` is
    None where the run has no gradient at ``x`` (online training that monitors the
    sum of its mini-batch errors)."""

    x: np.ndarray
    fun: float
    jac: np.ndarray
    nit: int
    nfev: int
    elapsed: float


class OptimizeResult(dict):
    """The outcome of a run, with scipy's field names and attribute access.

    Fields: ``x, fun, jac, nit, nfev, njev, nhev, success, status, message,
    history, method``. ``status`` is a :class:`Status`; ``njev == nfev`` since
    every evaluation returns the error and its gradient together; ``nhev``
    counts Hessian-vector products. Online training adds ``state``, the online
    method's state at the end (pass it back to continue).
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __dir__(self):
        return list(self.keys())

    def __repr__(self):
        status = self.get("status")
        name = status.name if isinstance(status, Status) else status
        return (f"OptimizeResult(method={self.get('method')!r}, status={name}, "
                f"fun={self.get('fun'):.6g}, nit={self.get('nit')}, nfev={self.get('nfev')}, "
                f"message={self.get('message')!r})")


class Stop(Exception):
    """Raised inside a method body to end the run with a status."""

    def __init__(self, status: Status, message: str | None = None):
        super().__init__(status, message)
        self.status = status
        self.message = message


def check_start(w0) -> np.ndarray:
    """A private float copy of the starting point, or ValueError."""
    w = np.array(w0, dtype=float, copy=True)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"w0 must be a non-empty 1-D vector; got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w0 holds NaN or infinite values; start from finite weights "
                         "(e.g. net.init_weights(rng))")
    return w


class Run:
    """Bookkeeping of one batch run (see the module docstring).

    Methods must never modify an array after passing it to :meth:`evaluate` or
    :meth:`accept`: the run keeps references, not copies.
    """

    max_nonfinite = 30   # consecutive non-finite evaluations tolerated (line searches back off)

    def __init__(self, fun_and_grad, w0, *, max_iter, gtol, ftol, callback, method,
                 tol=0.0, n_iter_no_change=None):
        if not callable(fun_and_grad):
            raise ValueError("fun_and_grad must be callable: w -> (E, gradient)")
        if callback is not None and not callable(callback):
            raise ValueError("callback must be callable (info -> bool) or None")
        if int(max_iter) != max_iter or max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer; got {max_iter!r}")
        for name, v in (("gtol", gtol), ("ftol", ftol), ("tol", tol)):
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
        if n_iter_no_change is not None and (isinstance(n_iter_no_change, bool) or
                                             int(n_iter_no_change) != n_iter_no_change
                                             or n_iter_no_change < 1):
            raise ValueError(f"n_iter_no_change must be a positive integer or None; got "
                             f"{n_iter_no_change!r}")
        self.fun_and_grad = fun_and_grad
        self.x = check_start(w0)
        self.f = math.inf
        self.g = None
        self.max_iter = int(max_iter)
        self.gtol = float(gtol)
        self.ftol = float(ftol)
        self.callback = callback
        self.method = method
        self.tol = float(tol)
        self.n_iter_no_change = None if n_iter_no_change is None else int(n_iter_no_change)
        self.n_no_change = 0
        self.f_best = math.inf
        #: online runs only: the work done, in passes over the data (the "nfev" of the
        #: history); None for a batch run, whose history counts evaluations
        self.work = None
        self.nit = 0
        self.nfev = 0
        self.nhev = 0
        self.n_nonfinite = 0
        self.f_unit = 1.0
        self.best = (math.inf, self.x, None)
        self._h = ([], [], [], [], [])
        self.t0 = time.perf_counter()

    # -- evaluations ------------------------------------------------------------
    def evaluate(self, w):
        """``(E(w), ∇E(w))``, counted in ``nfev`` (unless the run is online, whose
        evaluations of ``fun_and_grad`` are monitoring passes and whose ``nfev``
        counts mini-batches); remembers the lowest error seen.

        A non-finite error is returned as ``inf`` (line searches treat it as a
        step too long); after :attr:`max_nonfinite` in a row the run stops
        with :attr:`Status.NONFINITE`.
        """
        f, g = self.fun_and_grad(w)
        if self.work is None:
            self.nfev += 1
        if np.shape(g) != w.shape:
            raise ValueError(f"fun_and_grad returned a gradient of shape {np.shape(g)} for "
                             f"weights of shape {w.shape}; it must return (E, ∇E) with ∇E "
                             "shaped like w")
        f = float(f)
        if f < self.best[0]:
            self.best = (f, w, g)
        if math.isfinite(f):
            self.n_nonfinite = 0
            return f, g
        self.n_nonfinite += 1
        if self.n_nonfinite >= self.max_nonfinite:
            raise Stop(Status.NONFINITE)
        return math.inf, g

    def hvp(self, hvp, w, v):
        """A counted Hessian-vector product ``hvp(w, v)``; a non-finite direction
        (an overflow in the method) ends the run with :attr:`Status.NONFINITE`."""
        if not np.all(np.isfinite(v)):
            raise Stop(Status.NONFINITE, "a search direction overflowed (NaN or infinite); "
                                         "rescale the data or lower alpha")
        self.nhev += 1
        return hvp(w, v)

    # -- iterates ---------------------------------------------------------------
    def _record(self, f, gnorm, step):
        fs, gs, ss, ns, ts = self._h
        fs.append(f)
        gs.append(gnorm)
        ss.append(step)
        ns.append(self.nfev if self.work is None else self.work)
        ts.append(time.perf_counter() - self.t0)

    def start(self, evaluate=True):
        """Evaluate the starting point; returns ``(x, f, g)``.

        ``evaluate=False`` (online training monitoring its mini-batch errors)
        records the start without evaluating it: f = NaN, g = None.
        """
        if not evaluate:
            self.f = math.nan
            self._record(math.nan, math.nan, 0.0)
            if self.max_iter == 0:
                raise Stop(Status.MAX_ITER)
            return self.x, math.nan, None
        f, g = self.evaluate(self.x)
        gnorm = float(np.abs(g).max())
        if not (math.isfinite(f) and math.isfinite(gnorm)):
            raise Stop(Status.NONFINITE, "the error or gradient is NaN or infinite at w0")
        self.f, self.g = f, g
        # decreases are relative to E, and to E's size at the start when E falls
        # below 1, so an error of any scale (1e-24 or 1e24) is treated alike
        self.f_unit = min(1.0, abs(f)) or 1.0
        self._record(f, gnorm, 0.0)
        if gnorm <= self.gtol:
            raise Stop(Status.CONVERGED, f"converged: ‖∇E‖∞ = {gnorm:.3g} <= gtol at w0")
        if self.max_iter == 0:
            raise Stop(Status.MAX_ITER)
        return self.x, f, g

    def accept(self, x, f, g, step):
        """Report a new iterate; raises :class:`Stop` when the run should end.

        ``g`` may be None (no gradient at ``x``): the gradient test is then skipped.
        """
        gnorm = math.nan if g is None else float(np.abs(g).max())
        if not (math.isfinite(f) and (g is None or math.isfinite(gnorm))):
            raise Stop(Status.NONFINITE)
        f_prev = self.f
        self.x, self.f, self.g = x, f, g
        self.nit += 1
        self._record(f, gnorm, step)
        if self.callback is not None:
            info = IterInfo(x, f, g, self.nit, self.nfev, time.perf_counter() - self.t0)
            try:
                stop = self.callback(info)
            except StopIteration:
                stop = True
            if stop is True:
                raise Stop(Status.CALLBACK_STOP)
        if gnorm <= self.gtol:
            raise Stop(Status.CONVERGED, f"converged: ‖∇E‖∞ = {gnorm:.3g} <= gtol")
        if self.n_iter_no_change is not None:         # a plateau of E, as scikit-learn's
            self.n_no_change = self.n_no_change + 1 if f > self.f_best - self.tol else 0
            self.f_best = min(self.f_best, f)
            if self.n_no_change >= self.n_iter_no_change:
                raise Stop(Status.CONVERGED, f"converged: E no lower than its best by more than "
                                             f"tol = {self.tol:.3g} for {self.n_no_change} "
                                             "iterations in a row")
        if self.ftol and 0.0 <= f_prev - f <= self.ftol * max(abs(f_prev), abs(f), self.f_unit):
            if self.gtol > 0 and max(abs(f_prev), abs(f)) >= self.f_unit:
                # E is not ~0 and the gradient test was not met: not a convergence
                raise Stop(Status.STALLED, f"E stopped decreasing while ‖∇E‖∞ = {gnorm:.3g} > "
                                           "gtol (precision ran out; rescale or standardise "
                                           "the data)")
            raise Stop(Status.CONVERGED, "converged: relative decrease of E <= ftol")
        if self.nit >= self.max_iter:
            raise Stop(Status.MAX_ITER)

    # -- the whole run ------------------------------------------------------------
    def drive(self, body, start=True, **options) -> OptimizeResult:
        """Run ``body(run, x, f, g, **options)`` to its end; always returns a result.

        ``start``: whether to evaluate the starting point (see :meth:`start`)."""
        try:
            try:
                x, f, g = self.start(start)
                body(self, x, f, g, **options)
                status, message = Status.CONVERGED, None   # a body may also just return
            except Stop as stop:
                status, message = stop.status, stop.message
        except KeyboardInterrupt:
            status, message = Status.INTERRUPTED, None
        return self.result(status, message)

    def history(self) -> History:
        return History(*(np.asarray(a, dtype=float) for a in self._h))

    def result(self, status, message=None) -> OptimizeResult:
        x, f, g = self.x, self.f, self.g
        if status is Status.INTERRUPTED and self.best[2] is not None:
            f, x, g = self.best
        if g is None and self.nit == 0:    # stopped before the first evaluation finished
            x, f = self.x, math.nan
        return OptimizeResult(
            x=np.array(x, dtype=float), fun=f, jac=None if g is None else np.array(g, dtype=float),
            nit=self.nit, nfev=self.nfev, njev=self.nfev, nhev=self.nhev,
            success=status is Status.CONVERGED, status=status,
            message=message or _MESSAGES[status], history=self.history(), method=self.method,
        )
