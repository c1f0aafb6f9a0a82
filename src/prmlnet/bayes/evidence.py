r"""The evidence framework for the hyperparameters α and β (PRML §5.7.2, §5.7.3): the
log evidence, the effective number of parameters and one re-estimation step.

The marginal likelihood of the hyperparameters is approximated by integrating
the Laplace posterior (:mod:`prmlnet.bayes.laplace`); maximising it gives
re-estimation equations that alternate with MAP training of the weights, the
*evidence loop* of :mod:`prmlnet.bayes.loop`.

The prior is a :class:`~prmlnet.priors.GaussianPrior`,
:math:`p(\mathbf{w}) = \prod_k \mathcal{N}(\mathbf{w}_k \mid \mathbf{0}, \alpha_k^{-1}\mathbf{I})`,
with one precision per group: one group for all weights (the book's (5.162)),
one per layer's weights and biases (the consistent priors of §5.5.1,
``prior="layers"``), one per input for automatic relevance determination
(``prior="ard"``), or any grouping (:func:`prmlnet.priors.gaussian_prior`).
The evidence code asks the prior for its groups, their sizes W_k, the
precisions and the log normaliser. The log evidence, correct for any grouping, is

.. math::
    \ln p(D \mid \{\alpha_k\}, \beta) \simeq -\beta E_D(\mathbf{w}_\text{MAP})
        - \sum_k \alpha_k E_{W_k} - \tfrac12 \ln|\mathbf{A}|
        + \sum_k \frac{W_k}{2} \ln\alpha_k + \frac{NK}{2}\ln\beta - \frac{NK}{2}\ln 2\pi

with :math:`E_{W_k} = \frac12\|\mathbf{w}_k\|^2` — for a single group this is
(5.175); note :math:`W_k \ln\alpha_k` per group, not :math:`W \ln\alpha` with a
shared or averaged α. For logistic/softmax outputs :math:`E_D` is the
cross-entropy, there is no β, and the last two terms are absent (5.183).

Re-estimation: the trace formula generalises (5.178, 5.179) to groups,

.. math:: \gamma_k = W_k - \alpha_k \operatorname{Tr}_k(\mathbf{A}^{-1}), \qquad
          \alpha_k = \frac{\gamma_k}{\|\mathbf{w}_k\|^2}, \qquad
          \beta = \frac{NK - \gamma}{2 E_D}, \quad \gamma = \sum_k \gamma_k \quad (5.180)

where :math:`\operatorname{Tr}_k` sums the diagonal of :math:`\mathbf{A}^{-1}` over
group k; for one group it equals :math:`\sum_i \lambda_i/(\alpha + \lambda_i)` over
the eigenvalues of βH (5.179). Both treat w_MAP as independent of α, as the book does.

A negative γ_k. With A used as it is (the default, see
:mod:`prmlnet.bayes.laplace`), a negative eigenvalue λ_i of βH contributes
:math:`\lambda_i/(\alpha + \lambda_i) < 0`, and a small group can end with
:math:`\gamma_k \le 0`, for which (5.178) gives no precision. That group's α is
then re-estimated by the EM form :math:`\alpha_k = W_k / (\|\mathbf{w}_k\|^2 +
\operatorname{Tr}_k\mathbf{A}^{-1})` (§9.3.4 for linear regression), which is
positive whenever A is positive definite and has the same fixed point
(:math:`\alpha_k\|\mathbf{w}_k\|^2 = \gamma_k` ⇔ :math:`\alpha_k(\|\mathbf{w}_k\|^2
+ \operatorname{Tr}_k\mathbf{A}^{-1}) = W_k`); the step reports it, never silently.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..priors import GaussianPrior
from . import _data
from .laplace import LaplacePosterior, posterior_from_hessian

__all__ = ["gamma_from_eigenvalues", "effective_parameters", "log_evidence", "reestimate",
           "Reestimate", "data_terms", "log_evidence_from", "reestimate_from", "ALPHA_RANGE",
           "BETA_RANGE"]

# Re-estimated α is kept in this range: a group the data do not determine
# (γ_k → 0, ARD's irrelevant inputs) has α growing geometrically; the cap keeps A
# well conditioned and the weights of that group at zero in effect.
ALPHA_RANGE = (1e-8, 1e8)
# β likewise. When γ ≥ NK (more well-determined parameters than targets: W > N,
# a weak prior, and an exact H whose residual terms raise its rank above NK) or
# E_D = 0, (5.180) has no positive solution; β is then left as it is for that
# step and α, which grows as γ/wᵀw, reins in the fit first.
BETA_RANGE = (1e-8, 1e10)



def gamma_from_eigenvalues(lam, alpha):
    r"""The effective number of parameters :math:`\gamma = \sum_i \lambda_i/(\alpha + \lambda_i)` (5.179).

    ``lam`` are the eigenvalues of βH (5.177), used as given (a negative one
    contributes a negative term; clip them first to follow Netlab).
    """
    lam = np.asarray(lam, dtype=float)
    return float(np.sum(lam / (alpha + lam)))


def effective_parameters(post: LaplacePosterior):
    r"""γ_k of each group of the posterior's prior: :math:`\gamma_k = W_k - \alpha_k \operatorname{Tr}_k(\mathbf{A}^{-1})`.

    Returns a dict group -> γ_k. Each lies in [0, W_k] when A is built from a
    positive semi-definite H (``post.clipped``, or no negative eigenvalues); with
    negative eigenvalues used as they are, γ_k can fall below 0 (module
    docstring). The diagonal of :math:`\mathbf{A}^{-1}` comes from the Cholesky
    factor (:meth:`LaplacePosterior.diagonal`, one triangular inverse, kept). Where
    the posterior's build needed the eigenvalues of H anyway (clipping) and one α
    is shared by every weight, the book's :math:`\sum_i \lambda_i/(\alpha +
    \lambda_i)` over the eigenvalues of βH (5.179) is used instead — the same
    number to rounding.
    """
    prior = post.prior
    groups = prior.groups
    lam = post._eigenvalues                                 # None unless the build had them
    if lam is not None and len(groups) == 1 and prior.n_penalised == post.n_weights:
        (name,) = groups
        lam = post.beta * lam                                              # (5.177)
        if post.clipped:
            lam = np.maximum(lam, 0.0)
        return {name: gamma_from_eigenvalues(lam, prior.alpha[name])}      # (5.179)
    d = post.diagonal()                                     # (A⁻¹)_ii
    return {name: float(idx.size - prior.alpha[name] * np.sum(d[idx]))
            for name, idx in groups.items()}


def data_terms(post: LaplacePosterior, X, T=None):
    """``(E_D at the posterior's w, NK)`` from ``X, T`` or an objective holding the data
    (NK: the number of Gaussian targets, Σ_n s_n·K with sample weights; 0 without β)."""
    obj = _data.is_objective(X)
    data = _data.data_objective(X if obj else post.net, None if obj else X, T,
                                what="the evidence")
    return float(data.data_error(post.w)), _data.n_gaussian_targets(data)


def log_evidence(post: LaplacePosterior, X, T=None):
    r"""The Laplace approximation to the log evidence, for any grouping of α.

    ``X, T`` are the training data, or ``X`` is an objective holding them
    (:class:`~prmlnet.objective.Objective`, :class:`~prmlnet.distributed.DistributedObjective`).

    .. math:: \ln p(D) \simeq \ln p(D \mid \mathbf{w}_\text{MAP}) + \ln p(\mathbf{w}_\text{MAP})
              + \frac{W}{2}\ln 2\pi - \frac12\ln|\mathbf{A}|

    with :math:`\ln p(\mathbf{w})` the prior's own log density (its normaliser
    :math:`\sum_k \frac{W_k}{2}\ln\frac{\alpha_k}{2\pi}`), which gives (5.175) and
    (5.183) and the right normalisation of grouped priors (module docstring).
    Weights in no group (or in a group with α = 0) have a flat prior of unit
    density: the evidence then holds a :math:`\frac{W_0}{2}\ln 2\pi` volume term
    for them and is only comparable between models with the same unpenalised weights.
    """
    return log_evidence_from(post, *data_terms(post, X, T))


def log_evidence_from(post: LaplacePosterior, E_D, NK):
    """:func:`log_evidence` from E_D at the posterior's w and the number NK of Gaussian
    targets (0 for a likelihood without β)."""
    w, prior = post.w, post.prior
    proper = {k: idx for k, idx in prior.groups.items() if prior.alpha[k] > 0}
    log_prior = 0.0 if not proper else GaussianPrior(
        proper, {k: prior.alpha[k] for k in proper}, prior.n_weights).log_pdf(w)
    value = (-post.beta * E_D + log_prior + 0.5 * w.size * math.log(2 * math.pi)
             - 0.5 * post.log_det)
    if NK:
        value += 0.5 * NK * (math.log(post.beta) - math.log(2 * math.pi))
    return float(value)


class Reestimate(NamedTuple):
    """One evidence step: the new prior and β, the γ_k they came from, whether those
    were taken from H with its negative eigenvalues clipped (``gamma_clipped``), the
    posterior they were computed from (``posterior``: the one given, or its clipped
    version) and ``notes`` (one line for each thing the step did beyond (5.178)–(5.180))."""

    prior: GaussianPrior
    beta: float
    gamma: dict
    gamma_clipped: bool = False
    notes: tuple = ()
    posterior: LaplacePosterior | None = None


def reestimate(post: LaplacePosterior, X, T=None, fix_beta=False) -> Reestimate:
    r"""One evidence step at the posterior's w: new α per group by (5.178) and β by (5.180).

    ``X, T`` are the training data, or ``X`` is an objective holding them.

    Returns a :class:`Reestimate`: ``prior`` is ``post.prior.with_alpha(new α)``,
    ``gamma`` the γ_k the step used, ``beta`` unchanged for classification or
    with ``fix_beta``. α and β are kept within ``ALPHA_RANGE`` and
    ``BETA_RANGE``; when γ ≥ NK, β is left unchanged (see ``BETA_RANGE``).

    γ_k comes from ``post`` as it is. Only if some γ_k falls outside [0, W_k]
    — possible only when negative eigenvalues of H were used unclipped and A is
    nearly singular along them, where (5.178) has no positive solution — the
    step takes every γ_k from H with those eigenvalues clipped (as Netlab does),
    and a group still at γ_k = 0 gets the EM form of the update (module
    docstring); ``notes`` says which. After a step with one group and
    0 < γ < NK, :math:`\alpha E_W + \beta E_D = NK/2` exactly at the same w.
    """
    return reestimate_from(post, *data_terms(post, X, T), fix_beta=fix_beta)


def reestimate_from(post: LaplacePosterior, E_D, NK, fix_beta=False) -> Reestimate:
    """:func:`reestimate` from E_D at the posterior's w and the number NK of Gaussian
    targets (0 for a likelihood without β)."""
    w, prior = post.w, post.prior
    gamma = effective_parameters(post)
    notes = []
    slack = 1e-9 * max(1, post.n_weights)
    clipped = False
    if any(not (-slack <= gamma[k] <= idx.size + slack) for k, idx in prior.groups.items()):
        raw = gamma
        post = posterior_from_hessian(post.net, w, post.H, prior, post.beta,
                                      hessian=post.hessian, negative="clip")
        gamma = effective_parameters(post)
        clipped = True
        notes.append("gamma from A as it is, {" + ", ".join(f"{k}: {v:.4g}" for k, v in raw.items())
                     + f"}}, lies outside [0, W_k] ({post.n_negative} negative eigenvalues of H, "
                     "A nearly singular); this step used gamma with them clipped")
    alpha, diag = {}, None
    for name, idx in prior.groups.items():
        ww = float(np.dot(w[idx], w[idx]))
        if gamma[name] > 0:
            a = gamma[name] / max(ww, np.finfo(float).tiny)                 # (5.178)
        else:
            if diag is None:
                diag = post.diagonal()
            a = idx.size / (ww + float(np.sum(diag[idx])))                  # EM form
            notes.append(f"gamma[{name!r}] = {gamma[name]:.3g}: alpha re-estimated as "
                         "W_k/(|w_k|^2 + Tr_k A^-1)")
        alpha[name] = float(np.clip(a, ALPHA_RANGE[0], ALPHA_RANGE[1]))
    beta = post.beta
    if NK and not fix_beta:
        num, den = NK - sum(gamma.values()), 2.0 * E_D
        if num > 0 and den > 0:
            beta = float(np.clip(num / den, BETA_RANGE[0], BETA_RANGE[1]))  # (5.180)
        else:
            notes.append(f"gamma = {sum(gamma.values()):.4g} >= NK = {NK} or E_D = 0: "
                         "(5.180) has no positive solution; beta kept")
    return Reestimate(prior.with_alpha(alpha), float(beta), gamma, clipped, tuple(notes),
                      post)
