"""The Bayesian estimators in model files: the posterior (its Cholesky factor, the
eigenvalues of H), the prior's precisions, the evidence loop's history and notes —
stored, checked on loading, restored."""

from __future__ import annotations

import math

import numpy as np

from ..bayes import LaplacePosterior
from ..priors import gaussian_prior

__all__ = ["state", "check", "restore"]


def state(est):
    """``(arrays, meta)`` of a fitted Bayesian estimator for its model file."""
    p = est.posterior_
    arrays = {"bayes_chol": p.chol, "bayes_alpha": p.alpha, "bayes_eigenvalues": p.eigenvalues}
    for k, v in est.history_.items():
        if k != "groups":
            arrays[f"bayes_history_{k}"] = np.asarray(v, dtype=np.float64)
    meta = {"alpha": dict(est.prior_.alpha), "beta": est.beta_,
            "gamma": est.gamma_groups_, "log_evidence": est.log_evidence_,
            "converged": est.converged_, "n_negative": int(p.n_negative),
            "clipped": bool(p.clipped), "groups": list(est.history_["groups"]),
            "notes": list(getattr(est, "evidence_notes_", []))}
    return arrays, meta

def check(mf):
    """Raise ValueError (saying what is wrong) unless the model file's Bayesian fields and
    arrays are present, finite and in range."""
    m, a, W = mf.meta, mf.arrays, mf.network.n_weights

    def number(v, low=-math.inf, strict=False):
        return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and (v > low if strict else v >= low))

    fields = {"alpha": lambda v: isinstance(v, dict) and v and all(number(x, 0) for x in
                                                                  v.values()),
              "beta": lambda v: number(v, 0, strict=True),
              "gamma": lambda v: isinstance(v, dict) and all(number(x) for x in v.values()),
              "log_evidence": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "converged": lambda v: isinstance(v, bool),
              "n_negative": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
              "groups": lambda v: isinstance(v, list) and all(isinstance(g, str) for g in v)}
    for name, ok in fields.items():
        if name not in m:
            raise ValueError(f"its Bayesian field meta.{name} is missing")
        if not ok(m[name]):
            raise ValueError(f"its Bayesian field meta.{name} is {str(m[name])[:30]}, which "
                             "is out of range")
    shapes = {"bayes_chol": (W, W), "bayes_alpha": (W,), "bayes_eigenvalues": (W,)}
    for name, shape in shapes.items():
        v = a.get(name)
        if v is None:
            raise ValueError(f"its Bayesian array {name} is missing")
        if v.dtype.kind != "f" or v.shape != shape or not np.all(np.isfinite(v)):
            raise ValueError(f"its Bayesian array {name} is not a finite float array of "
                             f"shape {shape}")
    L = a["bayes_chol"]
    if not (np.all(np.diagonal(L) > 0) and not np.triu(L, 1).any()):
        raise ValueError("its posterior's Cholesky factor is not lower triangular with a "
                         "positive diagonal")
    if np.any(a["bayes_alpha"] < 0):
        raise ValueError("its prior precisions bayes_alpha are negative")

def restore(est, arrays, meta):
    """Set the fitted Bayesian attributes of ``est`` (its network and weights already
    restored) from a model file's arrays and meta."""
    history = {k[len("bayes_history_"):]: arrays[k] for k in arrays
               if k.startswith("bayes_history_")}
    history["groups"] = list(meta["groups"])
    prior = gaussian_prior(est.net_, est.prior, dict(meta["alpha"]))
    if not np.array_equal(prior.alpha_vector, np.asarray(arrays["bayes_alpha"], dtype=float)):
        raise ValueError("the model file's prior precisions do not match its prior groups")
    est._set_hyper(prior, meta["beta"], meta["gamma"], meta["log_evidence"],
                    history, meta["converged"])
    est.evidence_notes_ = list(meta.get("notes", []))
    est.posterior_ = LaplacePosterior(
        net=est.net_, w=est.w_, prior=prior, beta=est.beta_, H=None,
        eigenvalues=np.asarray(arrays["bayes_eigenvalues"]),
        n_negative=int(meta["n_negative"]), chol=np.asarray(arrays["bayes_chol"]),
        hessian=est.hessian, negative=est.negative, clipped=bool(meta.get("clipped")))
