"""The data a Bayesian computation sums over: an objective, local or on a Dask cluster.

The Laplace posterior and the evidence loop need four things from the training
data, each a sum over patterns: the data error :math:`E_D` (``data_error``), the
data Hessian (``hessian`` / ``outer_product`` of the objective without its
prior and with β = 1), the number of patterns N (``total_weight``, Σ_n s_n with
sample weights) and, to start β, the variance of the targets. They take them
from an :class:`~prmlnet.objective.Objective` or a
:class:`~prmlnet.distributed.DistributedObjective` alike, so the same code runs
in memory and on a cluster; arrays are wrapped in the objective that fits them.
"""

from __future__ import annotations


__all__ = ["OBJECTIVES", "is_objective", "data_objective", "with_hyperparameters",
           "n_patterns", "n_gaussian_targets", "target_variance"]


def _types():
    from ..distributed import DistributedObjective
    from ..objective import Objective
    return Objective, DistributedObjective


OBJECTIVES = "an Objective or a DistributedObjective"


def is_objective(x) -> bool:
    return isinstance(x, _types())


def _is_dask(x) -> bool:
    return hasattr(x, "__dask_graph__")


def _weights(obj):
    return getattr(obj, "sample_weight", None)


def with_hyperparameters(obj, prior, beta):
    """An objective over the same data (and sample weights) as ``obj`` with another
    prior and β: what each MAP training of the evidence loop minimises."""
    Objective, DistributedObjective = _types()
    kw = dict(prior=prior, beta=float(beta), chunk_size=obj.chunk_size)
    if _weights(obj) is not None:
        kw["sample_weight"] = _weights(obj)
    if isinstance(obj, DistributedObjective):
        return DistributedObjective(obj.net, obj.X, obj.T, client=obj.client, persist=False,
                                    split_every=obj.split_every, **kw)
    return Objective(obj.net, obj.X, obj.T, **kw)


def data_objective(net, X=None, T=None, *, sample_weight=None, what="the evidence"):
    """The objective of the data term alone (no prior, β = 1) for ``net`` and ``(X, T)``
    (with the patterns' weights ``sample_weight``, if given), or for the data of a
    given objective (``net`` then is the objective, X and T None; its own weights kept).

    NumPy arrays give an :class:`~prmlnet.objective.Objective`, dask arrays a
    :class:`~prmlnet.distributed.DistributedObjective` (on the current client).
    An objective with terms beyond the prior is refused: ``what`` needs
    E = βE_D + E_W.
    """
    Objective, DistributedObjective = _types()
    if is_objective(net):
        if X is not None or T is not None or sample_weight is not None:
            raise ValueError("an objective carries its own data (and weights); give it "
                             "without X, T and sample_weight")
        obj = net
        if obj.terms:
            raise ValueError(f"{what} needs E = beta*E_D + E_W; this objective has further "
                             f"terms ({', '.join(type(t).__name__ for t in obj.terms)})")
        if obj.prior is None and obj.beta == 1.0:
            return obj
        return with_hyperparameters(obj, None, 1.0)
    if X is None or T is None:
        raise ValueError(f"give the data: a Network with X and T, or {OBJECTIVES}")
    kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    if _is_dask(X) or _is_dask(T):
        return DistributedObjective(net, X, T, **kw)
    return Objective(net, X, T, **kw)


def n_patterns(obj) -> float:
    """N of the evidence formulas: Σ_n s_n with sample weights, else the number of patterns."""
    return float(getattr(obj, "total_weight", obj.n_patterns))


def n_gaussian_targets(obj) -> float:
    """NK for a Gaussian noise model (linear outputs), 0 for a likelihood without β."""
    return n_patterns(obj) * obj.net.n_targets if obj.net.output.name == "linear" else 0.0


def target_variance(obj) -> float:
    """The variance of the targets, averaged over the K columns (weighted by the
    sample weights), computed where the data are."""
    T, s = obj.T, _weights(obj)
    if s is None:
        v = T.var(axis=0).mean()
    else:
        s = s.reshape(-1, 1)
        total = s.sum()
        mean = (s * T).sum(axis=0) / total
        v = ((s * (T - mean) ** 2).sum(axis=0) / total).mean()
    if _is_dask(v):
        client = getattr(obj, "client", None)
        v = client.compute(v, sync=True) if client is not None else v.compute()
    return float(v)
