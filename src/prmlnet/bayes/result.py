r"""What the evidence loop returns (:class:`EvidenceResult`), and how its run is reported
through the result type and the :class:`~prmlnet.optim.Status` of
:func:`prmlnet.optim.minimize`: the loop's outer iterations are that result's
iterations."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..optim.result import History, OptimizeResult, Status
from ..priors import GaussianPrior
from .laplace import LaplacePosterior

__all__ = ["EvidenceResult", "run_result"]

_MESSAGES = {
    Status.CONVERGED: "evidence loop converged: every alpha and beta changed by less than tol",
    Status.MAX_ITER: "evidence loop: n_outer re-estimations done before alpha and beta settled",
    Status.CALLBACK_STOP: "evidence loop stopped by the training callback; the posterior is "
                          "built at the weights reached",
    Status.INTERRUPTED: "evidence loop interrupted (KeyboardInterrupt); the last complete "
                        "state is kept",
}


@dataclass
class EvidenceResult:
    r"""What :func:`~prmlnet.bayes.evidence_loop` found; every number refers to the same (w, α, β).

    Attributes
    ----------
    w : ndarray (W,)
        :math:`\mathbf{w}_\text{MAP}`, trained for ``prior`` and ``beta``.
    prior : GaussianPrior
        The prior with the final precisions (``alpha`` is ``prior.alpha``).
    beta : float
    gamma : dict group -> float
        At (w, α, β): the γ_k that a re-estimation from this posterior uses
        (:func:`~prmlnet.bayes.reestimate`) — from A as it is, or, where that falls
        outside [0, W_k], from H with its negative eigenvalues clipped (``notes`` says so).
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
    result : prmlnet.optim.OptimizeResult
        The run as :func:`prmlnet.optim.minimize` reports one, an outer iteration
        for an iteration: ``x`` (= w), ``fun`` (βE_D + E_W at it), ``jac`` (its
        gradient), ``nit`` (= ``iteration``), ``status`` (a
        :class:`~prmlnet.optim.Status`: ``CONVERGED`` when every α_k and β changed
        by less than ``tol``, ``MAX_ITER`` after ``n_outer`` re-estimations,
        ``CALLBACK_STOP`` when the training callback stopped it,
        ``INTERRUPTED`` on Ctrl-C), ``success``, ``message``, ``history`` (a
        :class:`~prmlnet.optim.History` of rows 0 to ``iteration``: βE_D + E_W,
        ‖∇E‖∞ and the step at the end of each MAP training, the cumulative
        evaluations of (E, ∇E) and the seconds), and ``nfev`` / ``njev``, the
        evaluations of every training of every start.
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
    result: OptimizeResult = None
    notes: list = field(default_factory=list)
    starts: list = field(default_factory=list)

    @property
    def status(self) -> Status:
        """Why the loop ended (``result.status``)."""
        return self.result.status

    @property
    def converged(self) -> bool:
        return self.result.status is Status.CONVERGED

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

    def predict_proba(self, X, moderated=True, **options):
        """Moderated class probabilities; see :meth:`LaplacePosterior.predict_proba`."""
        return self.posterior.predict_proba(X, moderated=moderated, **options)


def run_result(trace, k, status, method, change=None):
    """The :class:`~prmlnet.optim.OptimizeResult` of one run of the loop up to its row ``k``.

    ``trace`` holds one entry per row: ``(w, E, gradient, cumulative evaluations,
    seconds)`` at the end of that row's training.
    """
    w, fun, jac = trace[k][0], trace[k][1], trace[k][2]
    rows = trace[:k + 1]
    steps = [0.0] + [float(np.linalg.norm(b[0] - a[0])) for a, b in zip(rows, rows[1:])]
    history = History(np.array([r[1] for r in rows], dtype=float),
                      np.array([float(np.max(np.abs(r[2]))) for r in rows], dtype=float),
                      np.array(steps), np.array([r[3] for r in rows], dtype=float),
                      np.array([r[4] for r in rows], dtype=float))
    message = _MESSAGES[status]
    if status is Status.CONVERGED and change is not None:
        message += f" (largest relative change {change:.3g})"
    nfev = int(trace[-1][3])
    return OptimizeResult(x=np.array(w, dtype=float), fun=float(fun), jac=np.array(jac),
                          nit=int(k), nfev=nfev, njev=nfev, nhev=0,
                          success=status is Status.CONVERGED, status=status, message=message,
                          history=history, method=method)
