r"""The evidence loop (PRML §5.7.2): MAP training alternated with the re-estimation of
α and β (:mod:`prmlnet.bayes.evidence`), until they settle.

Each MAP training gives a mode of βE_D + E_W; the Laplace posterior there gives γ,
the log evidence and the next α and β. :func:`evidence_loop` keeps every number it
returns at one and the same (w, α, β), handles the posteriors where A is not
positive definite, runs from several starting α and reports in ``notes`` what the
numbers alone do not show, and its run as :func:`prmlnet.optim.minimize` reports
one (:class:`~prmlnet.bayes.EvidenceResult`).

Every sum over the data comes from one objective — E_D from ``data_error``, the
data Hessian from ``hessian`` / ``outer_product``, N from its patterns (their
weights) — so the loop runs unchanged on a :class:`~prmlnet.objective.Objective`
in memory and on a :class:`~prmlnet.distributed.DistributedObjective` over a
Dask cluster.

Cost. Per outer iteration: one MAP training (warm-started from the last weights),
one data Hessian, one Cholesky factorization of A — which gives the log determinant — and
its triangular inverse for γ, and an :math:`\mathbf{LDL}^\mathrm{T}` factorization
of H for the count of its negative eigenvalues. No eigendecomposition unless the
``negative`` policy needs one (clipping).
"""

from __future__ import annotations

import time

import numpy as np
from scipy import linalg

from ..optim import Status, minimize
from ..priors import GROUPINGS, GaussianPrior, gaussian_prior
from . import _data
from .evidence import BETA_RANGE, log_evidence_from, reestimate_from
from .laplace import _hessian_of, gaussian_of, posterior_from_hessian, try_posterior
from .result import EvidenceResult, run_result

__all__ = ["evidence_loop", "EvidenceResult", "DEFAULT_STARTS", "CLASSIFIER_STARTS",
           "AUTO_BFGS_MAX_WEIGHTS"]

#: The starting α of each run of ``evidence_loop(alpha=None)`` for a regression network
#: (every group the same): the re-estimation is a fixed-point iteration on a non-convex
#: problem, with an over-fitted fixed point (γ → N, β → ∞: the noise explained away)
#: reached from weak priors, the trivial one (w → 0, γ → 0) reached from very strong
#: ones, and the useful one between; the run with the largest log evidence is kept.
DEFAULT_STARTS = (0.01, 1.0, 100.0)

#: The start of ``evidence_loop(alpha=None)`` for logistic and softmax outputs: there is
#: no β to run away with, and the weak start came within 0.5 nats of the largest
#: evidence of the three above in 23 of 24 splits (iris, wine, breast cancer and
#: digits, 6 seeds each; ``benchmarks/bench_evidence_starts.py``) at a third of the cost.
CLASSIFIER_STARTS = (0.01,)

#: ``method="auto"``: BFGS (fast, accurate convergence) up to this many weights,
#: L-BFGS above, where BFGS's O(W²) update dominates each iteration.
AUTO_BFGS_MAX_WEIGHTS = 500

SELECT = ("best", "last")
_STOPPED = (Status.CALLBACK_STOP, Status.INTERRUPTED)


def resolve_method(method, n_weights):
    """The batch method that ``method="auto"`` stands for with W = ``n_weights``."""
    if method != "auto":
        return method
    return "bfgs" if n_weights <= AUTO_BFGS_MAX_WEIGHTS else "lbfgs"


class _Trainer:
    """MAP training of β E_D + E_W on the loop's data, and its bookkeeping."""

    def __init__(self, data, method, max_iter, gtol, callback):
        self.data, self.net = data, data.net
        self.method = resolve_method(method, data.net.n_weights)
        self.max_iter, self.gtol, self.callback = max_iter, gtol, callback
        self.nfev = 0                       # every evaluation of (E, ∇E), all runs
        self.t0 = time.perf_counter()
        self.converged = False

    def objective(self, prior, beta):
        return _data.with_hyperparameters(self.data, prior, beta)

    def __call__(self, w, prior, beta):
        """The training result (an OptimizeResult) from w."""
        obj = self.objective(prior, beta)
        hvp = obj.hvp if self.method == "newton" else None
        res = minimize(obj, w, method=self.method, max_iter=self.max_iter, gtol=self.gtol,
                       callback=self.callback, hvp=hvp)
        self.nfev += int(res.nfev)
        self.converged = res.status == Status.CONVERGED
        return res

    def escape(self, w, prior, beta, H):
        """Step off a saddle point: along the eigenvector of the most negative
        curvature of A = βH + diag(α), as far as lowers the error most (or None)."""
        A = beta * H
        A[np.diag_indices_from(A)] += prior.alpha_vector
        lam, u = linalg.eigh(A, subset_by_index=[0, 0])
        if lam[0] >= 0:
            return None
        obj = self.objective(prior, beta)
        u = u[:, 0] * max(1.0, float(np.sqrt(w @ w)))
        E0 = obj.error(w)
        best, best_E = None, E0
        for s in (1e-3, 1e-2, 1e-1, 3e-1, 1.0):
            for sign in (1.0, -1.0):
                E = obj.error(w + sign * s * u)
                if E < best_E:
                    best, best_E = w + sign * s * u, E
        self.nfev += 11
        return best


def evidence_loop(net, X=None, T=None, *, prior=None, alpha=None, beta=None, w0=None, rng=None,
                  n_outer=20, n_inner=1, tol=1e-3, method="auto", max_iter=500, gtol=1e-7,
                  hessian="exact", negative="auto", fix_beta=False, select="best",
                  callback=None, train_callback=None):
    r"""Alternate MAP training and evidence re-estimation until α and β settle (§5.7.2).

    Parameters
    ----------
    net : Network, Objective or DistributedObjective
        A network with its data ``X, T`` (NumPy arrays, or dask arrays: then the
        sums run on the Dask cluster); or an objective holding the data — in memory
        or on a cluster, with sample weights if it has them — whose Gaussian prior,
        if any, is the grouping and start when ``prior`` is not given, and whose β
        (if not 1) is the start when ``beta`` is not given.
    X, T : ndarray (N, D), (N, K)
    prior : {"single", "layers", "ard"}, dict or GaussianPrior, default "single"
        The grouping of α (:func:`prmlnet.priors.gaussian_prior`), or a prior whose
        groups are used (its precisions are the start unless ``alpha`` is given).
    alpha : float, dict, sequence of floats or None
        Initial α: one for all groups, one per group, or several starting values
        (one run of the loop from each; the run with the largest log evidence is
        returned, the others summarised in ``starts``). None (default): the
        precisions of a given prior; else :data:`DEFAULT_STARTS` (0.01, 1, 100) for
        linear outputs and :data:`CLASSIFIER_STARTS` (0.01) for logistic and
        softmax outputs.
    beta : float, optional
        Initial β of a regression network; default the inverse target variance
        (the noise explains all variation to begin with), at most 1e4. Ignored (1) for
        logistic/softmax outputs.
    w0 : ndarray (W,), optional
        Initial weights; default ``net.init_weights(rng)`` (the same for every start).
    n_outer : int
        Most re-estimations (each followed by a MAP training).
    n_inner : int
        Re-estimation steps at fixed w between MAP trainings (Netlab's inner
        loop): each recomputes γ from A = βH + diag(α) with the same data Hessian
        H and the new α, β. Steps stop early if A loses positive definiteness.
    tol : float
        Converged when every α_k and β changes by a relative amount below ``tol``
        in one re-estimation.
    method, max_iter, gtol :
        The MAP training of each outer iteration, :func:`prmlnet.optim.minimize`,
        warm-started from the previous weights. ``"auto"``: ``"bfgs"`` up to ``AUTO_BFGS_MAX_WEIGHTS`` (500) weights,
        ``"lbfgs"`` above; ``"newton"`` gets the exact H·v of the regularised error.
    hessian, negative :
        See :func:`prmlnet.bayes.laplace`. Where A is not positive definite after a
        training (``"auto"`` and ``"keep"``), the weights are not at a minimum of
        βE_D + E_W: the loop trains once more — from a step along the direction of
        negative curvature if the training had converged (a saddle point) — and
        only then clips (noted in ``notes``; under ``"keep"`` too, so the loop
        always runs to its end).
    fix_beta : bool
        Keep β at its initial value.
    select : {"best", "last"}
        Which trained state to return: the one with the largest log evidence
        (default) or the last. Either way a log evidence that peaked before the
        end is reported in ``notes``.
    callback : callable(dict), optional
        Called after each MAP training with that history row.
    train_callback : callable, optional
        Passed to :func:`prmlnet.optim.minimize` for each MAP training. If it
        stops training (returns True), or Ctrl-C interrupts it, the loop ends
        after building the posterior at the weights reached (status
        ``CALLBACK_STOP`` or ``INTERRUPTED``). Ctrl-C elsewhere (in a Hessian or a
        factorization) returns the last completed state; only one during the first
        raises ``KeyboardInterrupt``.

    Returns
    -------
    EvidenceResult
        w, α, β, γ, the posterior and the log evidence all refer to the same
        hyperparameters (see Notes); ``result`` reports the run as
        :func:`prmlnet.optim.minimize` does, with its :class:`~prmlnet.optim.Status`.

    Notes
    -----
    Row 0: train :math:`\mathbf{w}_\text{MAP}` of :math:`\beta E_D + E_W` for the
    starting α, β; build :math:`\mathbf{A} = \beta\mathbf{H} +
    \operatorname{diag}(\boldsymbol\alpha)`, γ and the log evidence there. Each
    outer iteration then (1) re-estimates α by (5.178) and β by (5.180) from that
    posterior (``n_inner`` times at fixed w); (2) trains w for the new α, β,
    warm-started; (3) builds A, γ and the log evidence at the new (w, α, β) —
    one history row. The loop stops when step (1) changed every α_k and β by
    less than ``tol``, after step (3): so the returned α and β are the last
    re-estimate, w was trained for them, and γ, the log evidence and the
    posterior are computed at that w with those α, β. Every step uses sums over
    patterns (the book's E_D, H, γ).

    The re-estimation is a fixed-point iteration on a non-convex problem: from a
    weak prior it can run into an over-fitted fixed point (γ near N), from a
    very strong one into the trivial one (w → 0, γ → 0). ``alpha=None`` runs a
    regression network's loop from each of :data:`DEFAULT_STARTS` and keeps the
    largest evidence.

    Examples
    --------
    >>> import numpy as np
    >>> from prmlnet import Network, bayes, datasets
    >>> X, T = datasets.sinusoidal(30, rng=0, noise=0.1)
    >>> res = bayes.evidence_loop(Network((1, 4, 1)), X, T, alpha=0.01, rng=0)
    >>> res.converged, 0 < res.gamma_total < 13, bool(50 < res.beta < 200)  # noise sd 0.1
    (True, True, True)
    >>> mean, std = res.predict(np.array([[0.5], [2.0]]), return_std=True)
    >>> bool(std[1, 0] > std[0, 0] >= res.beta ** -0.5)
    True
    """
    for name, v in (("n_outer", n_outer), ("n_inner", n_inner)):
        if isinstance(v, bool) or not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive; got {tol!r}")
    if select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}; got {select!r}")
    given = net if _data.is_objective(net) else None
    if given is not None:
        if prior is None and isinstance(given.prior, GaussianPrior):
            prior = given.prior
        if beta is None and given.beta != 1.0:
            beta = given.beta
    data = _data.data_objective(net, X, T, what="the evidence loop")
    net = data.net
    base, starts = _starting_priors(net, "single" if prior is None else prior, alpha)
    gaussian = net.output.name == "linear"
    if not gaussian:
        beta = 1.0
    elif beta is None:
        var = _data.target_variance(data)
        beta = float(np.clip(1.0 / max(var, 1e-300), BETA_RANGE[0], 1e4))
    beta = float(beta)
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite positive precision; got {beta}")
    w = net.init_weights(rng) if w0 is None else net.check_weights(w0).astype(float)
    train = _Trainer(data, method, max_iter, gtol, train_callback)
    options = dict(n_outer=n_outer, n_inner=n_inner, tol=tol, hessian=hessian,
                   negative=negative, fix_beta=fix_beta or not gaussian, select=select,
                   callback=callback, NK=_data.n_gaussian_targets(data))
    results = []
    for p0 in starts:
        try:
            res = _run(train, p0, beta, w, **options)
        except KeyboardInterrupt:
            if not results:
                raise
            break
        results.append(res)
        if res.status in _STOPPED:
            break
    best = max(results, key=lambda r: r.log_evidence_compared)
    best.result.nfev = best.result.njev = train.nfev
    best.starts = [{"alpha0": _alpha0(p), "log_evidence": r.log_evidence,
                    "log_evidence_compared": r.log_evidence_compared,
                    "gamma": r.gamma_total, "status": r.status}
                   for p, r in zip(starts, results)]
    if len(results) > 1:
        k = next(i for i, r in enumerate(results) if r is best)
        best.notes.append(f"ran from {len(results)} starting alpha; kept the run from "
                          f"{best.starts[k]['alpha0']} (log evidence {best.log_evidence:.6g}, "
                          f"compared as {best.log_evidence_compared:.6g})")
    return best


def _alpha0(prior):
    """A starting prior's α: one float when every group starts alike, else the dict."""
    values = set(prior.alpha.values())
    return values.pop() if len(values) == 1 else dict(prior.alpha)


def _starting_priors(net, prior, alpha):
    """(the grouping as a prior, the list of starting priors)."""
    if isinstance(prior, GaussianPrior):
        base = gaussian_of(net, prior)
        if base.n_penalised == 0:
            raise ValueError("the prior has no groups; the evidence loop needs at least one")
        if alpha is None:
            alpha = [dict(base.alpha)]
    elif isinstance(prior, (str, dict)):
        if isinstance(prior, str) and prior not in GROUPINGS:
            raise ValueError(f"prior must be one of {GROUPINGS}, a dict of index groups or a "
                             f"GaussianPrior; got {prior!r}")
        base = gaussian_prior(net, prior, 1.0)
    else:
        raise ValueError(f"prior must be one of {GROUPINGS}, a dict of index groups or a "
                         f"GaussianPrior; got {type(prior).__name__}")
    if alpha is None:
        alpha = list(DEFAULT_STARTS if net.output.name == "linear" else CLASSIFIER_STARTS)
    elif isinstance(alpha, dict) or np.ndim(alpha) == 0:
        alpha = [alpha]
    else:
        alpha = list(alpha)
        if not alpha:
            raise ValueError("alpha must hold at least one starting value")
    starts = []
    for a in alpha:
        if isinstance(a, dict):
            missing = sorted(set(base.groups) - set(a))
            if missing:
                raise ValueError(f"alpha gives no value for groups {missing}")
            a = {k: a[k] for k in base.groups}
            values = list(a.values())
        else:
            values = [a]
        if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                   and np.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"initial alpha must be finite and > 0; got {a!r}")
        starts.append(base.with_alpha({k: float(v) for k, v in a.items()}
                                      if isinstance(a, dict) else float(a)))
    return base, starts


def _posterior(train, w, prior, beta, hessian, negative, notes, it, retrain=1):
    """The Laplace posterior at a trained w; where A is not positive definite (w is
    not at a minimum of β E_D + E_W) train further first — from a step along the
    negative curvature when the last training had converged (a saddle point) —
    at most ``retrain`` times, and only then clip (noted).
    Returns (w, posterior, data Hessian as computed, the last training or None)."""
    net = train.net
    res = None
    strict = "keep" if negative in ("auto", "keep") else negative
    for attempt in range(retrain + 1):
        H = _hessian_of(train.data, w, hessian)
        post = try_posterior(net, w, H, prior, beta, hessian=hessian, negative=strict)
        if post is not None:
            return w, post, H, res
        if attempt == retrain:
            break
        start = train.escape(w, prior, beta, 0.5 * (H + H.T)) if train.converged else None
        res = train(w if start is None else start, prior, beta)
        w = res.x
        notes.append(f"row {it}: A was not positive definite (w not at a minimum"
                     + (": a saddle point, stepped off along the negative curvature"
                        if start is not None else ": training had not converged")
                     + "); trained further")
    post = posterior_from_hessian(net, w, H, prior, beta, hessian=hessian, negative="clip")
    notes.append(f"row {it}: A not positive definite at the weights reached; "
                 f"{post.n_negative} negative eigenvalues of H clipped to zero")
    return w, post, H, res


def _inner_steps(step, post, H, E_D, NK, n_inner, fix_beta, hessian, negative, notes, it):
    """Further re-estimations at fixed w after ``step`` (``n_inner`` in all); returns
    the last :class:`~prmlnet.bayes.evidence.Reestimate`."""
    for _ in range(n_inner - 1):
        post = try_posterior(post.net, post.w, H, step.prior, step.beta, hessian=hessian,
                             negative="keep" if negative == "auto" else negative)
        if post is None:
            break                      # A lost positive definiteness: retrain first
        step = reestimate_from(post, E_D, NK, fix_beta=fix_beta)
        notes.extend(f"row {it}, inner step: {n}" for n in step.notes)
    return step


_KEYS = ("alpha", "gamma", "beta", "log_evidence", "log_evidence_compared", "E_D", "E_W",
         "n_negative", "clipped", "gamma_clipped", "nit")


def _run(train, prior, beta, w, *, n_outer, n_inner, tol, hessian, negative, fix_beta, select,
         callback, NK):
    """The evidence loop from one start (see :func:`evidence_loop`)."""
    data, net = train.data, train.net
    names = list(prior.groups)
    rows = {k: [] for k in _KEYS}
    notes, trace = [], []
    best = last = None
    status, change = Status.MAX_ITER, None
    step = H = post = E_D = None
    nfev0 = train.nfev
    for it in range(n_outer + 1):
        try:
            if it:
                step = _inner_steps(step, post, H, E_D, NK, n_inner, fix_beta, hessian,  # (1)
                                    negative, notes, it - 1)
                change = max([abs(step.prior.alpha[k] - prior.alpha[k]) / prior.alpha[k]
                              for k in names] + [abs(step.beta - beta) / beta])
                prior, beta = step.prior, step.beta
            res = train(w, prior, beta)                                             # (2)
            w, nit = res.x, int(res.nit)
            if res.status in _STOPPED:
                H = _hessian_of(data, w, hessian)
                post = posterior_from_hessian(net, w, H, prior, beta, hessian=hessian,
                                              negative="auto")
            else:
                w, post, H, more = _posterior(train, w, prior, beta, hessian, negative,   # (3)
                                              notes, it)
                if more is not None:
                    res, nit = more, nit + int(more.nit)
            E_D = float(data.data_error(w))
            ev = log_evidence_from(post, E_D, NK)
            step = reestimate_from(post, E_D, NK, fix_beta=fix_beta)    # γ, and the next step
            gamma = step.gamma
            ev_cmp = log_evidence_from(step.posterior, E_D, NK) if step.gamma_clipped else ev
            n_negative = post.n_negative
        except KeyboardInterrupt:    # outside the optimiser: keep the last state
            if last is None:
                raise
            status = Status.INTERRUPTED
            break
        E_W = prior.energy(w)
        row = {"alpha": [prior.alpha[k] for k in names], "gamma": [gamma[k] for k in names],
               "beta": beta, "log_evidence": ev, "log_evidence_compared": ev_cmp,
               "E_D": E_D, "E_W": E_W, "n_negative": n_negative,
               "clipped": float(post.clipped), "gamma_clipped": float(step.gamma_clipped),
               "nit": nit}
        for k, v in row.items():
            rows[k].append(v)
        notes.extend(f"row {it}: {n}" for n in step.notes)
        state = (it, w, prior, beta, gamma, ev, post)       # at most two posteriors kept
        if best is None or ev_cmp > best[0]:
            best = (ev_cmp, state)
        last = state
        trace.append((w, beta * E_D + E_W, res.jac if res.jac is not None else
                      np.full(w.size, np.nan), train.nfev - nfev0,
                      time.perf_counter() - train.t0))
        if callback is not None:
            callback(row)
        if res.status in _STOPPED:
            status = res.status
            break
        if it and change < tol:
            status = Status.CONVERGED
            break
    history = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
    history["groups"] = names
    score = history["log_evidence_compared"]
    k_best = best[1][0]                                  # the first row of the largest score
    it, w, prior, beta, gamma, ev, post = best[1] if select == "best" else last
    k = it
    if score[k_best] > score[-1]:
        notes.append(f"the log evidence peaked at row {k_best} ({score[k_best]:.6g}) and ended "
                     f"at {score[-1]:.6g}; returned row {k}")
    if history["gamma_clipped"].any():
        notes.append(f"{int(history['gamma_clipped'].sum())} rows had gamma outside [0, W_k] "
                     "from A as it is (A nearly singular along directions of negative data "
                     "curvature, where the Laplace integral is not to be trusted); rows and "
                     "starts were compared by the log evidence with those eigenvalues clipped "
                     "(history['log_evidence_compared'])")
    result = run_result(trace, k, status, train.method, change)
    return EvidenceResult(w=w, prior=prior, beta=beta, gamma=gamma, log_evidence=ev,
                          posterior=post, log_evidence_compared=float(score[k]),
                          history=history, iteration=k, result=result, notes=notes)
