"""The estimators' prior over the weights: weight decay, or soft weight sharing (PRML §5.5.7).

``weight_prior="gaussian"`` (default) is weight decay α on every weight and bias
(5.112), or per group with a dict ``alpha``. ``weight_prior="mixture"`` puts the
mixture prior of :class:`~prmlnet.soft_weight_sharing.SoftWeightSharing` with
``n_prior_components`` components on the connection weights (every weight that
is not a bias), added as λΩ with λ = α — with one component of mean 0 and width
1 that is weight decay α again — and keeps weight decay α on the biases; the
mixture's parameters are trained jointly with the weights and kept in
``mixture_``. These helpers hold what :class:`~._base.BaseMLP` does differently
for it.
"""

from __future__ import annotations

import numpy as np

WEIGHT_PRIORS = ("gaussian", "mixture")


def check(est):
    """Raise ValueError on bad ``weight_prior`` / ``n_prior_components``."""
    if est.weight_prior not in WEIGHT_PRIORS:
        raise ValueError(f"weight_prior must be one of {WEIGHT_PRIORS}; got "
                         f"{est.weight_prior!r}")
    J = est.n_prior_components
    if isinstance(J, bool) or not isinstance(J, (int, np.integer)) or J < 1:
        raise ValueError(f"n_prior_components must be an integer >= 1; got {J!r}")
    if est.weight_prior == "mixture":
        if isinstance(est.alpha, dict):
            raise ValueError("with weight_prior='mixture' alpha is the weight decay of the "
                             "biases: give one number, not a dict")
        if est.method == "newton":
            raise ValueError("method='newton' needs H·v, which the mixture's parameters do "
                             "not provide; use bfgs, lbfgs, scg, cg or an online method")


def connection_weights(net):
    """Indices of the weights that are not biases (the ones soft weight sharing groups)."""
    return np.concatenate([g for k, g in net.weight_groups().items() if not k.startswith("b")])


def bias_prior(net, alpha):
    """Weight decay α on the biases alone (None for α = 0)."""
    from ..priors import GaussianPrior
    if alpha == 0:
        return None
    biases = np.concatenate([g for k, g in net.weight_groups().items() if k.startswith("b")])
    return GaussianPrior({"b": biases}, float(alpha), net.n_weights)


def trained(est, obj, x0):
    """``(fun, x0)``: ``obj`` and ``x0`` for a Gaussian prior; for the mixture the joint
    objective over the weights and the mixture's parameters
    (:class:`~prmlnet.soft_weight_sharing.SharedObjective`) and the joint start, the
    mixture continued from ``mixture_`` or started by ``SoftWeightSharing.initial``."""
    if est.weight_prior != "mixture":
        return obj, x0
    from ..soft_weight_sharing import SharedObjective, SoftWeightSharing
    W = est.net_.n_weights
    x0 = np.asarray(x0, dtype=np.float64)
    start = getattr(est, "mixture_", None)
    if start is None:
        start = SoftWeightSharing.initial(x0[:W], est.n_prior_components,
                                          indices=connection_weights(est.net_),
                                          lam=float(est.alpha))
    est._mixture_start_ = start          # take() rebuilds the trained mixture from it
    joint = SharedObjective(obj, start)
    return joint, (x0 if x0.size == W + start.n_params else joint.join(x0[:W], start))


def take(est, x):
    """Set ``w_`` (and ``mixture_``) from the trained vector ``x``."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    W = est.net_.n_weights
    est.w_ = x[:W].copy()
    if est.weight_prior == "mixture":
        est.mixture_ = est._mixture_start_.with_params(x[W:])
        del est._mixture_start_


def file_arrays(est):
    """The fitted mixture as model-file arrays (none for a Gaussian prior)."""
    mix = getattr(est, "mixture_", None)
    if mix is None:
        return {}
    return {"mixture_eta": mix.eta, "mixture_mu": mix.mu, "mixture_log_sigma": mix.log_sigma,
            "mixture_indices": mix.indices, "mixture_lam": np.array([mix.lam]),
            "mixture_s0": np.array([mix.s0])}


def restore(est, arrays):
    """Rebuild ``mixture_`` from a model file's arrays (removing them from ``arrays``)."""
    if "mixture_eta" not in arrays:
        return
    from ..soft_weight_sharing import SoftWeightSharing
    est.mixture_ = SoftWeightSharing(
        est.net_.n_weights, arrays.pop("mixture_eta"), arrays.pop("mixture_mu"),
        arrays.pop("mixture_log_sigma"), indices=arrays.pop("mixture_indices"),
        lam=float(np.ravel(arrays.pop("mixture_lam"))[0]),
        s0=float(np.ravel(arrays.pop("mixture_s0"))[0]))
