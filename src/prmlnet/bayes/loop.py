r"""The evidence loop (PRML §5.7.2): MAP training alternated with the re-estimation of
α and β (:mod:`prmlnet.bayes.evidence`), until they settle.

Each MAP training gives a mode of βE_D + E_W; the Laplace posterior there gives γ,
the log evidence and the next α and β. :func:`evidence_loop` keeps every number it
returns at one and the same (w, α, β), handles the posteriors where A is not
positive definite, runs from several starting α and reports in ``notes`` what the
numbers alone do not show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..priors import GROUPINGS, GaussianPrior, gaussian_prior
from .evidence import BETA_RANGE, log_evidence, reestimate
from .laplace import LaplacePosterior, data_hessian, gaussian_of, laplace

__all__ = ["evidence_loop", "EvidenceResult", "DEFAULT_STARTS", "AUTO_BFGS_MAX_WEIGHTS"]

#: The starting α of each run of ``evidence_loop(alpha=None)`` (every group the same):
#: the re-estimation is a fixed-point iteration on a non-convex problem, with an
#: over-fitted fixed point reached from weak priors, the trivial one (w → 0, γ → 0)
#: reached from very strong ones, and the useful one between; the run with the
#: largest log evidence is kept.
DEFAULT_STARTS = (0.01, 1.0, 100.0)


@dataclass
class EvidenceResult:
    r"""What :func:`evidence_loop` found; every number refers to the same (w, α, β).

    Attributes
    ----------
    w : ndarray (W,)
        :math:`\mathbf{w}_\text{MAP}`, trained for ``prior`` and ``beta``.
    prior : GaussianPrior
        The prior with the final precisions (``alpha`` is ``prior.alpha``).
    beta : float
    gamma : dict group -> float
        At (w, α, β): the γ_k that a re-estimation from this posterior uses
        (:func:`reestimate`) — from A as it is, or, where that falls outside
        [0, W_k], from H with its negative eigenvalues clipped (``notes`` says so).
    log_evidence : float
        At (w, α, β), from the posterior below.
    log_evidence_compared : float
        The log evidence by which states, starts and models are compared: the
        same number, except where γ from A as it is fell outside [0, W_k] — A
        nearly singular along directions of negative data curvature (typically
        near the saddle w = 0 of a tanh network), where the Laplace integral
        grows without bound and is not to be trusted — where it is the value with
        those eigenvalues clipped, from the same A as ``gamma``.
    posterior : LaplacePosterior
        At (w, α, β): A as it is when positive definite (``posterior.clipped``
        says otherwise).
    history : dict of arrays, one row per MAP training (row 0: the start):
        ``alpha`` (n, G), ``beta`` — the hyperparameters that training used;
        ``gamma`` (n, G), ``log_evidence``, ``E_D``, ``E_W`` (:math:`\sum_k
        \alpha_k E_{W_k}`), ``n_negative``, ``clipped`` (1 where A was clipped),
        ``gamma_clipped`` (1 where γ came from clipped eigenvalues),
        ``log_evidence_compared`` (see the attribute), ``nit`` (optimiser
        iterations) — at the weights that training reached. ``groups``: the
        column names of ``alpha`` and ``gamma``.
    iteration : int
        The history row of the returned state: the last one, unless an earlier one
        had a larger ``log_evidence_compared`` and ``select="best"``.
    converged : bool
    status : str
        ``"converged"``, ``"max_outer"`` (n_outer re-estimations done) or
        ``"stopped"`` (the training callback or Ctrl-C ended it).
    notes : list of str
        Everything the loop did that the numbers alone do not show: steps with
        γ_k ≤ 0 or β held, posteriors built with clipped eigenvalues, escapes from
        saddle points, a log evidence that peaked before the end.
    starts : list of dict
        One entry per starting α (several with ``alpha=None``): ``alpha0``,
        ``log_evidence``, ``log_evidence_compared``, ``gamma``, ``status`` of the
        run from it.
    """

    w: np.ndarray
    prior: GaussianPrior
    beta: float
    gamma: dict
    log_evidence: float
    posterior: LaplacePosterior
    log_evidence_compared: float = math.nan
    history: dict = field(default_factory=dict)
    iteration: int = 0
    converged: bool = False
    status: str = "max_outer"
    notes: list = field(default_factory=list)
    starts: list = field(default_factory=list)

    @property
    def alpha(self) -> dict:
        """The final precisions, ``{group: α_k}``."""
        return dict(self.prior.alpha)

    @property
    def groups(self) -> dict:
        """The prior's groups, ``{group: index array}``."""
        return self.prior.groups

    @property
    def gamma_total(self) -> float:
        return float(sum(self.gamma.values()))

    def predict(self, X, return_std=False):
        """The Laplace predictive (regression); see :meth:`LaplacePosterior.predict`."""
        return self.posterior.predict(X, return_std=return_std)

    def predict_proba(self, X, moderated=True):
        """Moderated class probabilities; see :meth:`LaplacePosterior.predict_proba`."""
        return self.posterior.predict_proba(X, moderated=moderated)


#: ``method="auto"``: BFGS (fast, accurate convergence) up to this many weights,
#: L-BFGS above, where BFGS's O(W²) update dominates each iteration.
AUTO_BFGS_MAX_WEIGHTS = 500

SELECT = ("best", "last")


def resolve_method(method, n_weights):
    """The batch method that ``method="auto"`` stands for with W = ``n_weights``."""
    if method != "auto":
        return method
    return "bfgs" if n_weights <= AUTO_BFGS_MAX_WEIGHTS else "lbfgs"


class _Trainer:
    """MAP training of β E_D + E_W for the loop's data and options."""

    def __init__(self, net, X, T, method, max_iter, gtol, callback):
        self.net, self.X, self.T = net, X, T
        self.method = resolve_method(method, net.n_weights)
        self.max_iter, self.gtol, self.callback = max_iter, gtol, callback

    def objective(self, prior, beta):
        from ..objective import Objective
        return Objective(self.net, self.X, self.T, prior=prior, beta=beta)

    def __call__(self, w, prior, beta):
        """(w_MAP, iterations, stopped by the user)."""
        from ..optim import Status, minimize

        obj = self.objective(prior, beta)
        hvp = obj.hvp if self.method == "newton" else None
        res = minimize(obj, w, method=self.method, max_iter=self.max_iter, gtol=self.gtol,
                       callback=self.callback, hvp=hvp)
        stopped = res.status in (Status.INTERRUPTED, Status.CALLBACK_STOP)
        self.converged = res.status == Status.CONVERGED
        return res.x, int(res.nit), stopped

    def escape(self, w, prior, beta, H):
        """Step off a saddle point: along the eigenvector of the most negative
        curvature of A = βH + diag(α), as far as lowers the error most (or None)."""
        from scipy import linalg

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
        return best


def evidence_loop(net, X, T, *, prior="single", alpha=None, beta=None, w0=None, rng=None,
                  n_outer=20, n_inner=1, tol=1e-3, method="auto", max_iter=500, gtol=1e-7,
                  hessian="exact", negative="auto", fix_beta=False, select="best",
                  callback=None, train_callback=None):
    r"""Alternate MAP training and evidence re-estimation until α and β settle (§5.7.2).

    Parameters
    ----------
    net : Network
    X, T : ndarray (N, D), (N, K)
    prior : {"single", "layers", "ard"}, dict or GaussianPrior
        The grouping of α (:func:`prmlnet.priors.gaussian_prior`), or a prior whose
        groups are used (its precisions are the start unless ``alpha`` is given).
    alpha : float, dict, sequence of floats or None
        Initial α: one for all groups, one per group, or several starting values
        (one run of the loop from each; the run with the largest log evidence is
        returned, the others summarised in ``starts``). None (default):
        :data:`DEFAULT_STARTS` — or the precisions of a given prior.
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
        warm-started from the previous weights. ``"auto"``: ``"bfgs"`` up to
        ``AUTO_BFGS_MAX_WEIGHTS`` (500) weights, ``"lbfgs"`` above; ``"newton"``
        gets the exact H·v of the regularised error.
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
        after building the posterior at the weights reached (``status``
        ``"stopped"``). Ctrl-C elsewhere (in a Hessian or an eigendecomposition)
        returns the last completed state; only one during the first raises
        ``KeyboardInterrupt``.

    Returns
    -------
    EvidenceResult
        w, α, β, γ, the posterior and the log evidence all refer to the same
        hyperparameters (see Notes).

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
    very strong one into the trivial one (w → 0, γ → 0). ``alpha=None`` runs the
    loop from each of :data:`DEFAULT_STARTS` and keeps the largest evidence.

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
    _, X, T = net.check_data(np.zeros(net.n_weights), X, T)
    for name, v in (("n_outer", n_outer), ("n_inner", n_inner)):
        if isinstance(v, bool) or not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive; got {tol!r}")
    if select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}; got {select!r}")
    base, starts = _starting_priors(net, prior, alpha)
    gaussian = net.output.name == "linear"
    if not gaussian:
        beta = 1.0
    elif beta is None:
        beta = float(np.clip(1.0 / max(float(np.mean(np.var(T, axis=0))), 1e-300),
                             BETA_RANGE[0], 1e4))
    beta = float(beta)
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite positive precision; got {beta}")
    w = net.init_weights(rng) if w0 is None else net.check_weights(w0).astype(float)
    train = _Trainer(net, X, T, method, max_iter, gtol, train_callback)
    options = dict(n_outer=n_outer, n_inner=n_inner, tol=tol, hessian=hessian,
                   negative=negative, fix_beta=fix_beta or not gaussian, select=select,
                   callback=callback)
    results = []
    for p0 in starts:
        try:
            res = _run(train, p0, beta, w, **options)
        except KeyboardInterrupt:
            if not results:
                raise
            break
        results.append(res)
        if res.status == "stopped":
            break
    best = max(results, key=lambda r: r.log_evidence_compared)
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
        alpha = list(DEFAULT_STARTS)
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
    Returns (w, posterior, data Hessian as computed, extra iterations)."""
    net, X, T = train.net, train.X, train.T
    extra = 0
    strict = "keep" if negative in ("auto", "keep") else negative
    for attempt in range(retrain + 1):
        H = data_hessian(net, w, X, T, hessian)
        try:
            return w, laplace(net, w, X, T, prior, beta, hessian=hessian, negative=strict,
                              H=H), H, extra
        except ValueError:
            if attempt == retrain:
                break
        start = train.escape(w, prior, beta, 0.5 * (H + H.T)) if train.converged else None
        w, nit, _ = train(w if start is None else start, prior, beta)
        extra += nit
        notes.append(f"row {it}: A was not positive definite (w not at a minimum"
                     + (": a saddle point, stepped off along the negative curvature"
                        if start is not None else ": training had not converged")
                     + "); trained further")
    post = laplace(net, w, X, T, prior, beta, hessian=hessian, negative="clip", H=H)
    notes.append(f"row {it}: A not positive definite at the weights reached; "
                 f"{post.n_negative} negative eigenvalues of H clipped to zero")
    return w, post, H, extra


def _inner_steps(step, post, H, X, T, n_inner, fix_beta, hessian, negative, notes, it):
    """Further re-estimations at fixed w after ``step`` (``n_inner`` in all); returns
    the last :class:`Reestimate`."""
    for _ in range(n_inner - 1):
        try:
            post = laplace(post.net, post.w, X, T, step.prior, step.beta, hessian=hessian,
                           negative="keep" if negative == "auto" else negative, H=H)
        except ValueError:
            break                      # A lost positive definiteness: retrain first
        step = reestimate(post, X, T, fix_beta=fix_beta)
        notes.extend(f"row {it}, inner step: {n}" for n in step.notes)
    return step


def _run(train, prior, beta, w, *, n_outer, n_inner, tol, hessian, negative, fix_beta, select,
         callback):
    """The evidence loop from one start (see :func:`evidence_loop`)."""
    net, X, T = train.net, train.X, train.T
    names = list(prior.groups)
    keys = ("alpha", "gamma", "beta", "log_evidence", "log_evidence_compared", "E_D", "E_W",
            "n_negative", "clipped", "gamma_clipped", "nit")
    rows = {k: [] for k in keys}
    notes, states = [], []
    converged = stopped = False
    step = None
    for it in range(n_outer + 1):
        try:
            if it:
                step = _inner_steps(step, post, H, X, T, n_inner, fix_beta, hessian,    # (1)
                                    negative, notes, it - 1)
                change = max([abs(step.prior.alpha[k] - prior.alpha[k]) / prior.alpha[k]
                              for k in names] + [abs(step.beta - beta) / beta])
                prior, beta = step.prior, step.beta
            w, nit, stopped = train(w, prior, beta)                                # (2)
            if stopped:
                post, H = laplace(net, w, X, T, prior, beta, hessian=hessian,
                                  negative="auto"), None
                extra = 0
            else:
                w, post, H, extra = _posterior(train, w, prior, beta, hessian,     # (3)
                                               negative, notes, it)
            ev = log_evidence(post, X, T)
            step = reestimate(post, X, T, fix_beta=fix_beta)       # γ, and the next step
            gamma = step.gamma
            ev_cmp = log_evidence(step.posterior, X, T) if step.gamma_clipped else ev
        except KeyboardInterrupt:    # outside the optimiser: keep the last state
            if not states:
                raise
            stopped = True
            break
        row = {"alpha": [prior.alpha[k] for k in names], "gamma": [gamma[k] for k in names],
               "beta": beta, "log_evidence": ev, "log_evidence_compared": ev_cmp,
               "E_D": net.error(w, X, T), "E_W": prior.energy(w), "n_negative": post.n_negative,
               "clipped": float(post.clipped), "gamma_clipped": float(step.gamma_clipped),
               "nit": nit + extra}
        for k, v in row.items():
            rows[k].append(v)
        notes.extend(f"row {it}: {n}" for n in step.notes)
        states.append((w, prior, beta, gamma, ev, post))
        if callback is not None:
            callback(row)
        if stopped:
            break
        if it and change < tol:
            converged = True
            break
    history = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
    history["groups"] = names
    score = history["log_evidence_compared"]
    k_best = int(np.argmax(score))
    k = k_best if select == "best" else len(states) - 1
    if score[k_best] > score[-1]:
        notes.append(f"the log evidence peaked at row {k_best} ({score[k_best]:.6g}) and ended "
                     f"at {score[-1]:.6g}; returned row {k}")
    if history["gamma_clipped"].any():
        notes.append(f"{int(history['gamma_clipped'].sum())} rows had gamma outside [0, W_k] "
                     "from A as it is (A nearly singular along directions of negative data "
                     "curvature, where the Laplace integral is not to be trusted); rows and "
                     "starts were compared by the log evidence with those eigenvalues clipped "
                     "(history['log_evidence_compared'])")
    w, prior, beta, gamma, ev, post = states[k]
    return EvidenceResult(w=w, prior=prior, beta=beta, gamma=gamma, log_evidence=ev,
                          posterior=post, log_evidence_compared=float(score[k]),
                          history=history, iteration=k, converged=converged,
                          status="converged" if converged else "stopped" if stopped
                          else "max_outer", notes=notes)
