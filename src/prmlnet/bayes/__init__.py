r"""Bayesian neural networks (PRML §5.7): the Laplace posterior, error bars, the
evidence framework and classification.

The prior is a :class:`prmlnet.priors.GaussianPrior` (``gaussian_prior(net,
"single" | "layers" | "ard" | {name: indices}, alpha)``); a float or a dict
``{group: α}`` is accepted as shorthand everywhere.

- :func:`laplace` — the Gaussian approximation N(w_MAP, A⁻¹), A = βH + diag(α)
  (5.166), with the regression predictive (5.172, 5.173) and the moderated
  class probabilities of §5.7.3 (:class:`LaplacePosterior`; the probit, pairwise
  and Monte Carlo predictives of :mod:`prmlnet.bayes.predictive`).
- :func:`evidence_loop` — MAP training alternated with the re-estimation of α
  (5.178, 5.179, per group by the trace formula) and β (5.180).
- :func:`log_evidence` — (5.175) / (5.183), correct for grouped priors.
- :func:`compare_hidden_units` — model comparison by the evidence.

Data: a network with its training data, or an objective that holds them —
:class:`prmlnet.Objective` in memory or :class:`prmlnet.distributed.DistributedObjective`
on a Dask cluster (dask arrays are wrapped in one): every sum over patterns (E_D,
the data Hessian, N) comes from it, so the evidence loop runs on a cluster
unchanged; the predictive is computed locally at the query points.

Conventions: E_D and H are sums over patterns and α multiplies ½‖w‖² undivided
by N (the book's), so γ, α, β and the evidence are the book's numbers.
"""

from .compare import ModelComparison, compare_hidden_units
from .evidence import (ALPHA_RANGE, BETA_RANGE, Reestimate, effective_parameters,
                       gamma_from_eigenvalues, log_evidence, reestimate)
from .loop import CLASSIFIER_STARTS, DEFAULT_STARTS, evidence_loop
from .laplace import LaplacePosterior, data_hessian, kappa, laplace
from .predictive import PREDICTIVES, class_probabilities
from .result import EvidenceResult

__all__ = [
    "laplace", "LaplacePosterior", "data_hessian", "kappa",
    "evidence_loop", "EvidenceResult", "log_evidence", "reestimate", "effective_parameters",
    "Reestimate", "gamma_from_eigenvalues", "DEFAULT_STARTS", "CLASSIFIER_STARTS", "ALPHA_RANGE",
    "BETA_RANGE",
    "compare_hidden_units", "ModelComparison", "PREDICTIVES", "class_probabilities",
]


_REPLACED = {
    "prior_groups": "prmlnet.priors.gaussian_prior(net, grouping).groups",
    "group_alpha_vector": "prmlnet.priors.gaussian_prior(net, grouping, alpha).alpha_vector "
                          "(or GaussianPrior(groups, alpha, W).alpha_vector)",
}


def __getattr__(name):
    if name in _REPLACED:
        raise AttributeError(f"prmlnet.bayes.{name} was replaced by the one prior object: use "
                             f"{_REPLACED[name]}")
    raise AttributeError(f"module 'prmlnet.bayes' has no attribute {name!r}")
