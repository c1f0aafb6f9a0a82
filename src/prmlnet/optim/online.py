r"""Online (sequential, stochastic) gradient methods (PRML §5.2.4, (5.43)).

Each method is a pure pair ``(init, update)`` over the flat weight vector with a
small named-tuple state, in the style of optax::

    method = sgd(0.01)
    state = method.init(w)
    for Xb, Tb in batches:
        E, g = fun_and_grad_batch(w, Xb, Tb)
        w, state = method.update(w, g, state)

``update`` never modifies its arguments. A learning rate is a number or a
*schedule*, a callable ``step -> rate`` of the update count τ = 0, 1, 2, ...

Mini-batches and a prior: with an :class:`~prmlnet.objective.Objective`, use
:meth:`Objective.minibatch`, which gives each batch the fraction |b|/N of the
prior term, so that over an epoch the batch errors add up to the full
E(w) = β E_D(w) + E_W(w) and an epoch of updates with a small rate moves w
like one batch step along −∇E.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Callable, NamedTuple

import numpy as np

from .result import OptimizeResult, Run, Status, Stop
from .._rng import as_rng

__all__ = [
    "OnlineMethod", "SGDState", "MomentumState", "AdamState",
    "sgd", "momentum", "adam",
    "constant", "inverse_time", "exponential_decay",
    "train_online",
]


class OnlineMethod(NamedTuple):
    """An online method: ``init(w) -> state`` and ``update(w, g, state) -> (w, state)``."""

    init: Callable
    update: Callable
    name: str = ""


class SGDState(NamedTuple):
    step: int


class MomentumState(NamedTuple):
    step: int
    velocity: np.ndarray


class AdamState(NamedTuple):
    step: int
    m: np.ndarray
    v: np.ndarray


# -- learning-rate schedules --------------------------------------------------------
def constant(eta):
    """η_τ = η."""
    _check_rate(eta)
    return lambda step: eta


def inverse_time(eta0, tau0):
    r"""η_τ = η₀ / (1 + τ/τ₀): meets the Robbins–Monro conditions (PRML §2.3.5),
    Σ η_τ = ∞ and Σ η_τ² < ∞, under which sequential updates converge."""
    _check_rate(eta0)
    if not tau0 > 0:
        raise ValueError(f"tau0 must be > 0; got {tau0!r}")
    return lambda step: eta0 / (1.0 + step / tau0)


def exponential_decay(eta0, decay, every=1):
    """η_τ = η₀ · decay^(τ // every), with 0 < decay <= 1."""
    _check_rate(eta0)
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1]; got {decay!r}")
    return lambda step: eta0 * decay ** (step // every)


def _check_rate(eta):
    if callable(eta):
        return
    if not (isinstance(eta, Real) and eta > 0 and math.isfinite(eta)):
        raise ValueError(f"learning_rate must be a finite number > 0 or a schedule "
                         f"(callable step -> rate); got {eta!r}")


def _rate(eta):
    return eta if callable(eta) else (lambda step, eta=float(eta): eta)


# -- the methods ----------------------------------------------------------------------
def sgd(learning_rate) -> OnlineMethod:
    r"""Stochastic gradient descent (5.43).

    .. math:: \mathbf{w}^{(\tau+1)} = \mathbf{w}^{(\tau)} - \eta_\tau \nabla E_n(\mathbf{w}^{(\tau)})

    with :math:`E_n` the error of one pattern (batch size 1) or of a mini-batch.

    >>> import numpy as np
    >>> m = sgd(0.1)
    >>> w, s = m.update(np.array([1.0, 2.0]), np.array([0.5, -1.0]), m.init(np.zeros(2)))
    >>> w
    array([0.95, 2.1 ])
    """
    _check_rate(learning_rate)
    rate = _rate(learning_rate)

    def init(w):
        return SGDState(0)

    def update(w, g, state):
        step = np.multiply(g, rate(state.step))            # η g, then w − η g in its place
        return np.subtract(w, step, out=step), SGDState(state.step + 1)

    return OnlineMethod(init, update, "sgd")


def momentum(learning_rate, mu=0.9) -> OnlineMethod:
    r"""Stochastic gradient descent with momentum (Bishop 1995, §7.5.2; not in PRML).

    .. math:: \mathbf{v}^{(\tau+1)} = \mu \mathbf{v}^{(\tau)} - \eta_\tau \nabla E_n, \qquad
              \mathbf{w}^{(\tau+1)} = \mathbf{w}^{(\tau)} + \mathbf{v}^{(\tau+1)}
    """
    _check_rate(learning_rate)
    if not (isinstance(mu, Real) and 0 <= mu < 1):
        raise ValueError(f"momentum mu must be in [0, 1); got {mu!r}")
    rate = _rate(learning_rate)

    def init(w):
        return MomentumState(0, np.zeros_like(w, dtype=float))

    def update(w, g, state):
        v = mu * state.velocity - rate(state.step) * g
        return w + v, MomentumState(state.step + 1, v)

    return OnlineMethod(init, update, "momentum")


def adam(learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8) -> OnlineMethod:
    r"""Adam (Kingma & Ba 2015) — outside the book, included as today's common default.

    .. math:: \mathbf{m} \leftarrow b_1 \mathbf{m} + (1-b_1)\mathbf{g}, \quad
              \mathbf{v} \leftarrow b_2 \mathbf{v} + (1-b_2)\mathbf{g}^2, \quad
              \mathbf{w} \leftarrow \mathbf{w} - \eta_\tau
              \frac{\mathbf{m}/(1-b_1^{\tau+1})}{\sqrt{\mathbf{v}/(1-b_2^{\tau+1})} + \epsilon}
    """
    _check_rate(learning_rate)
    for name, b in (("b1", b1), ("b2", b2)):
        if not 0 <= b < 1:
            raise ValueError(f"adam: {name} must be in [0, 1); got {b!r}")
    if not eps > 0:
        raise ValueError(f"adam: eps must be > 0; got {eps!r}")
    rate = _rate(learning_rate)

    def init(w):
        z = np.zeros_like(w, dtype=float)
        return AdamState(0, z, z)

    def update(w, g, state):
        t = state.step + 1
        m = b1 * state.m + (1 - b1) * g
        v = b2 * state.v + (1 - b2) * (g * g)
        mhat = m / (1 - b1 ** t)
        vhat = v / (1 - b2 ** t)
        return w - rate(state.step) * mhat / (np.sqrt(vhat) + eps), AdamState(t, m, v)

    return OnlineMethod(init, update, "adam")


# -- the visible loop -------------------------------------------------------------------
def train_online(fun_and_grad_batch, w0, X, T, method, *, batch_size=1, n_epochs=10,
                 rng=None, callback=None, transform=None, gtol=0.0, tol=0.0,
                 n_iter_no_change=None, state=None, monitor="full") -> OptimizeResult:
    r"""Train by sequential updates over shuffled mini-batches.

    The epochs are the iterations of a :class:`~prmlnet.optim.result.Run`, the
    bookkeeping of the batch methods: the result, its :class:`Status`, the
    :class:`History`, the callback and the stopping rules are theirs.

    Parameters
    ----------
    fun_and_grad_batch : callable ``(w, Xb, Tb) -> (E_b, ∇E_b)``
        Error and gradient of one batch; e.g. ``Objective.minibatch`` (which
        shares the prior between batches in proportion to their size). If it
        takes a keyword ``rows``, it is also given the batch's row indices into
        ``X`` (``Objective.minibatch`` needs them for per-pattern terms that hold
        arrays of their own, such as tangent vectors, and for weighted patterns).
    w0 : ndarray of shape (W,)
    X, T : ndarrays with N rows
    method : OnlineMethod
        From :func:`sgd`, :func:`momentum` or :func:`adam`.
    batch_size : int
        1 is pattern-by-pattern (5.43); N is batch gradient descent.
    n_epochs : int
    rng : numpy Generator or int seed
        Shuffles the patterns at the start of every epoch (required: explicit
        randomness).
    callback : callable ``info -> bool``, optional
        Called after every epoch; True stops the run.
    transform : callable ``(Xb, rng) -> Xb``, optional
        A random transformation of the inputs (training with transformed data,
        §5.5.5; see :mod:`prmlnet.invariance.transformed`), applied afresh to every
        mini-batch before its update, with draws from ``rng``. The epoch-end
        errors in ``history`` are of the untransformed data.
    gtol : float, default 0
        Converged when :math:`\|\nabla E\|_\infty \le` ``gtol`` at the end of an
        epoch (``monitor="full"`` only).
    tol : float, default 0
    n_iter_no_change : int or None, default None
        The loss-plateau stop of scikit-learn's online solvers: converged when
        the epoch's error has not fallen more than ``tol`` below its lowest
        value so far for ``n_iter_no_change`` epochs in a row (None: off).
        ``tol`` is in the units of E, a sum over patterns.
    state : NamedTuple, optional
        The method's state to continue from (the ``state`` of an earlier result);
        default ``method.init(w0)``.
    monitor : {"full", "batches"}, default "full"
        The error an epoch reports. ``"full"``: ``fun_and_grad_batch(w, X, T)``
        at the end of the epoch, with its gradient (a monitoring pass over all
        patterns, not counted in ``nfev``). ``"batches"``: the sum of the
        epoch's mini-batch errors, each at the weights before its update (no
        extra pass; scikit-learn's training loss; the gradient, ``jac`` and
        ``history.grad_norm`` are then not available, and the start is not
        evaluated: ``history.fun[0]`` is NaN).

    Returns
    -------
    OptimizeResult
        ``nit`` counts epochs, ``nfev`` batch evaluations, ``state`` the method's
        state at the end. ``history`` holds one entry per epoch (entry 0: the
        start), its ``nfev`` the patterns processed divided by N (full-data-set
        equivalents, comparable with batch methods). ``status`` is MAX_ITER
        after ``n_epochs``, CONVERGED after the ``gtol`` or plateau test;
        KeyboardInterrupt returns the lowest-error epoch-end weights seen
        (INTERRUPTED); a non-finite error or step stops the run with the last
        finite epoch-end weights (NONFINITE).
    """
    if not isinstance(method, OnlineMethod):
        raise ValueError("method must be an OnlineMethod from sgd(), momentum() or adam()")
    if rng is None:
        raise ValueError("train_online needs an explicit rng (numpy Generator or int seed) "
                         "for shuffling")
    if monitor not in ("full", "batches"):
        raise ValueError(f"monitor must be 'full' or 'batches'; got {monitor!r}")
    rng = as_rng(rng)
    X, T = np.asarray(X), np.asarray(T)
    N = X.shape[0]
    if T.shape[0] != N or N == 0:
        raise ValueError(f"X and T must have the same, non-zero number of rows; "
                         f"got {X.shape[0]} and {T.shape[0]}")
    if int(batch_size) != batch_size or not 1 <= batch_size <= N:
        raise ValueError(f"batch_size must be an integer in [1, N={N}]; got {batch_size!r}")
    if int(n_epochs) != n_epochs or n_epochs < 0:
        raise ValueError(f"n_epochs must be a non-negative integer; got {n_epochs!r}")
    if transform is not None and not callable(transform):
        raise ValueError("transform must be a callable (Xb, rng) -> Xb")
    rows = _takes_rows(fun_and_grad_batch)
    everything = slice(0, N)

    def evaluate(w, idx, moved=False):
        Xb = X[idx]
        if moved:
            Xb = transform(Xb, rng)
        return (fun_and_grad_batch(w, Xb, T[idx], rows=idx) if rows
                else fun_and_grad_batch(w, Xb, T[idx]))

    run = Run(lambda w: evaluate(w, everything), w0, max_iter=int(n_epochs), gtol=gtol,
              ftol=0.0, callback=callback, method=f"online-{method.name}", tol=tol,
              n_iter_no_change=n_iter_no_change)
    run.work, run.max_nonfinite = 0.0, 1
    box = [method.init(run.x) if state is None else state]
    result = run.drive(_epochs, start=monitor == "full", evaluate=evaluate, box=box,
                       method=method, N=N, batch_size=int(batch_size), rng=rng,
                       moved=transform is not None, monitor=monitor)
    result["state"] = box[0]
    return result


def _epochs(run, x, f, g, *, evaluate, box, method, N, batch_size, rng, moved, monitor):
    """The body of :func:`train_online`: epochs of updates over shuffled mini-batches.

    ``box[0]`` holds the method's state at the last epoch end (an interrupted epoch
    leaves it, like the weights, where that epoch began)."""
    state = box[0]
    while True:
        w = x
        E_sum = 0.0
        order = rng.permutation(N)
        for s in range(0, N, batch_size):
            idx = order[s:s + batch_size]
            Eb, gb = evaluate(w, idx, moved)
            w, state = method.update(w, gb, state)        # (5.43) and its relatives
            run.nfev += 1
            E_sum += float(Eb)
            if not np.all(np.isfinite(w)):               # a step overflowed: stop before using w
                raise Stop(Status.NONFINITE, "a step overflowed (NaN or infinite weights); "
                                             "x holds the last finite epoch-end weights")
        run.work += 1.0
        d = w - x
        if monitor == "full":
            f, g = run.evaluate(w)          # a non-finite E stops the run (max_nonfinite = 1)
        else:
            f, g = E_sum, None
        x = w
        box[0] = state                      # the state that goes with the epoch-end weights
        run.accept(x, f, g, float(math.sqrt(d @ d)))


def _takes_rows(fun) -> bool:
    """Whether ``fun`` accepts a keyword argument ``rows``."""
    import inspect

    try:
        params = inspect.signature(fun).parameters
    except (TypeError, ValueError):
        return False
    return "rows" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
