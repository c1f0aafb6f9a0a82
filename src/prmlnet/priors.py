r"""Priors over the weights, and the one door through which anything joins the error.

Everything the training error holds beyond the data term is a **term**:

.. math:: \widetilde{E}(\mathbf{w}) = \beta E_D(\mathbf{w}) + \Omega_\text{prior}(\mathbf{w})
          + \sum_r \Omega_r(\mathbf{w})

where the prior's :math:`\Omega_\text{prior} = -\ln p(\mathbf{w})` up to a constant
(:math:`E_W` of (5.112) for a Gaussian prior) and the :math:`\Omega_r` are extra
regularizers. :class:`~prmlnet.objective.Objective` sums them; it knows them only
through the :class:`Term` interface below, so a Gaussian prior, a mixture prior
(soft weight sharing, §5.5.7: :class:`prmlnet.soft_weight_sharing.SoftWeightSharing`,
whose own parameters are learned through
:class:`~prmlnet.soft_weight_sharing.SharedObjective`) and a regularizer that needs
the data (tangent propagation, §5.5.4) all enter the same way.

:class:`GaussianPrior` is *the* representation of a Gaussian prior in prmlnet —
weight decay, the consistent per-layer priors of §5.5.1, automatic relevance
determination, any grouping. The objective, the Laplace approximation, the
evidence loop, the estimators and the command line all take one; a float or a
dict of group precisions is shorthand, turned into a prior at once by
:func:`as_prior`.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple

import numpy as np

from ._rng import as_rng
from .layers import Dense

__all__ = ["Term", "Batch", "GaussianPrior", "gaussian_prior", "as_prior", "GROUPINGS"]

GROUPINGS = ("single", "layers", "ard")


class Batch(NamedTuple):
    """The patterns a per-pattern term is evaluated on.

    ``X`` (n, D) and ``T`` (n, K) are rows of the objective's data; ``rows`` says
    which (a slice or an index array into the objective's N patterns), so a term
    can pick the matching rows of arrays it holds (tangent vectors, say). ``rows``
    is None when the rows are not from the objective's data.
    """

    X: np.ndarray
    T: np.ndarray
    rows: object = None


class Term:
    r"""Something added to the error: a prior or a regularizer.

    A term is evaluated either on the weights alone (``per_pattern = False``: a
    prior, evaluated once per call) or as a sum over patterns (``per_pattern =
    True``: evaluated on each chunk of the data, given as a :class:`Batch`, and
    summed like the data term; a mini-batch gets the batch's own patterns).
    Weight-only terms are shared among mini-batches in proportion |b|/N, so an
    epoch's batch errors add up to the full error.

    Subclasses implement :meth:`value_and_gradient`; :meth:`hvp` and
    :meth:`hessian` where they can (the objective raises a clear error when a
    second-order method needs what a term does not provide).

    A per-pattern term that runs the network's forward pass itself may also
    define ``value_and_gradient_with_data(w, batch, beta)``, returning
    ``(β E_D + Ω, its gradient)`` on the batch from one shared forward and
    backward pass; the objective then uses it in place of the separate
    data-term evaluation (see :class:`prmlnet.invariance.TangentPropagation`).
    """

    per_pattern: bool = False

    def value_and_gradient(self, w, batch=None):
        """``(Ω(w), ∇Ω(w))``; ``batch`` is a :class:`Batch` for per-pattern terms."""
        raise NotImplementedError

    def hvp(self, w, v, batch=None):
        """``∇∇Ω(w) v``, shape (W,)."""
        raise NotImplementedError(f"{type(self).__name__} gives no Hessian-vector product")

    def hessian(self, w, batch=None):
        """``∇∇Ω(w)``: an (W,) array when the Hessian is diagonal, else (W, W)."""
        raise NotImplementedError(f"{type(self).__name__} gives no Hessian")


class GaussianPrior(Term):
    r"""A zero-mean Gaussian prior with one precision per group of weights.

    .. math:: p(\mathbf{w}) = \prod_k \mathcal{N}(\mathbf{w}_k \mid \mathbf{0}, \alpha_k^{-1}\mathbf{I}),
              \qquad E_W(\mathbf{w}) = \sum_k \frac{\alpha_k}{2} \|\mathbf{w}_k\|^2

    One group of every weight is simple weight decay (5.112); one group per
    layer's weights and per layer's biases gives the consistent priors of §5.5.1;
    one group per input's fan-out is automatic relevance determination (§5.7.2,
    Bishop 1995). Weights in no group have no prior (α = 0: the improper prior of
    §5.5.1) — they are unpenalised, and the prior cannot be sampled or normalised
    over them.

    Build one with :func:`gaussian_prior` (from a network and a grouping) or
    directly from index groups.

    Parameters
    ----------
    groups : dict name -> int index array
        Disjoint, non-empty sets of weight indices.
    alpha : float or dict name -> float
        The precision α_k of each group (one float for all), finite and >= 0.
    n_weights : int
        W, the length of the weight vector.

    Attributes
    ----------
    groups : dict name -> read-only int array
    alpha : dict name -> float
    n_weights : int
    alpha_vector : read-only ndarray (W,)
        α of each weight (0 outside every group).
    sizes : dict name -> int
        W_k, the number of weights in each group.
    """

    def __init__(self, groups, alpha, n_weights):
        W = int(n_weights)
        if W < 1:
            raise ValueError(f"n_weights must be >= 1; got {n_weights!r}")
        groups = {str(k): np.asarray(v).ravel() for k, v in dict(groups).items()}
        for name, idx in groups.items():
            if idx.size == 0:
                raise ValueError(f"weight group {name!r} is empty")
            if idx.dtype == bool:
                if idx.size != W:
                    raise ValueError(f"mask of group {name!r} has {idx.size} entries; W = {W}")
                idx = np.flatnonzero(idx)
            elif idx.dtype.kind not in "iu":
                raise ValueError(f"group {name!r} must be integer indices or a boolean mask; "
                                 f"got dtype {idx.dtype}")
            if idx.size == 0:
                raise ValueError(f"weight group {name!r} is empty (an all-False mask)")
            if idx.min() < 0 or idx.max() >= W:
                raise ValueError(f"group {name!r} has indices outside [0, {W})")
            idx = np.array(idx, dtype=np.intp)
            idx.setflags(write=False)
            groups[name] = idx
        seen = np.concatenate(list(groups.values())) if groups else np.zeros(0, np.intp)
        if np.unique(seen).size != seen.size:
            raise ValueError("weight groups overlap; each weight may belong to one group only")
        if isinstance(alpha, dict):
            unknown = sorted(set(alpha) - set(groups))
            missing = sorted(set(groups) - set(alpha))
            if unknown or missing:
                raise ValueError(f"alpha must give one value per group {list(groups)}"
                                 + (f"; unknown {unknown}" if unknown else "")
                                 + (f"; missing {missing}" if missing else ""))
            alpha = {k: _precision(f"alpha[{k!r}]", alpha[k]) for k in groups}
        else:
            a = _precision("alpha", alpha)
            alpha = {k: a for k in groups}
        vec = np.zeros(W)
        for name, idx in groups.items():
            vec[idx] = alpha[name]
        vec.setflags(write=False)
        self.groups = groups
        self.alpha = alpha
        self.n_weights = W
        self.alpha_vector = vec
        self.sizes = {k: int(v.size) for k, v in groups.items()}

    # -- description -------------------------------------------------------------------
    def __repr__(self):
        parts = ", ".join(f"{k}: {self.alpha[k]:.4g} ({self.sizes[k]})" for k in self.groups)
        free = self.n_weights - sum(self.sizes.values())
        return (f"GaussianPrior({{{parts}}}, W={self.n_weights}"
                + (f", {free} unpenalised" if free else "") + ")")

    def __eq__(self, other):
        return (isinstance(other, GaussianPrior) and other.n_weights == self.n_weights
                and other.alpha == self.alpha and list(other.groups) == list(self.groups)
                and all(np.array_equal(other.groups[k], v) for k, v in self.groups.items()))

    __hash__ = None

    @property
    def n_penalised(self) -> int:
        """How many weights have a prior (belong to a group)."""
        return int(sum(self.sizes.values()))

    def with_alpha(self, alpha):
        """The same groups with new precisions (a float for all, or a dict per group)."""
        return GaussianPrior(self.groups, alpha, self.n_weights)

    # -- E_W and its derivatives -------------------------------------------------------
    def group_energies(self, w) -> dict:
        r""":math:`\{k: \tfrac12\|\mathbf{w}_k\|^2\}` — without α, the quantities the
        evidence framework re-estimates α_k from (5.178)."""
        w = self._w(w)
        return {k: 0.5 * float(w[idx] @ w[idx]) for k, idx in self.groups.items()}

    def energy(self, w) -> float:
        r""":math:`E_W(\mathbf{w}) = \sum_k \frac{\alpha_k}{2}\|\mathbf{w}_k\|^2` (5.112)."""
        w = self._w(w)
        return 0.5 * float(self.alpha_vector @ (w * w))

    def gradient(self, w):
        r""":math:`\nabla E_W = \boldsymbol\alpha \odot \mathbf{w}`, shape (W,)."""
        return self.alpha_vector * self._w(w)

    def value_and_gradient(self, w, batch=None):
        w = self._w(w)
        aw = self.alpha_vector * w
        return 0.5 * float(aw @ w), aw

    def hvp(self, w, v, batch=None):
        return self.alpha_vector * np.asarray(v, dtype=float)

    def hessian(self, w=None, batch=None):
        """The Hessian of E_W, diagonal: ``alpha_vector`` (W,)."""
        return self.alpha_vector

    def log_normaliser(self) -> float:
        r""":math:`\sum_k \frac{W_k}{2}\ln\frac{\alpha_k}{2\pi}`, so that
        :math:`\ln p(\mathbf{w}) = -E_W(\mathbf{w}) + ` this (weights in no group excluded).

        The evidence (5.175) holds :math:`\frac{W}{2}\ln\alpha`; with groups it is
        :math:`\sum_k \frac{W_k}{2}\ln\alpha_k` (not W ln of a shared or averaged α).
        """
        total = 0.0
        for k, n in self.sizes.items():
            a = self.alpha[k]
            if a <= 0:
                raise ValueError(f"group {k!r} has alpha = 0: an improper prior has no normaliser")
            total += 0.5 * n * math.log(a / (2 * math.pi))
        return total

    def log_pdf(self, w) -> float:
        r""":math:`\ln p(\mathbf{w})` over the penalised weights."""
        return self.log_normaliser() - self.energy(w)

    def sample(self, rng=None, size=None):
        r"""Weight vectors drawn from the prior, shape (W,) or (size, W).

        Each group's weights are independent :math:`\mathcal{N}(0, 1/\alpha_k)`.
        Every weight must have a proper prior (α > 0 in some group).
        """
        if self.n_penalised != self.n_weights or any(a <= 0 for a in self.alpha.values()):
            raise ValueError("cannot sample from an improper prior: every weight needs a group "
                             "with alpha > 0")
        rng = as_rng(rng)
        shape = (self.n_weights,) if size is None else (int(size), self.n_weights)
        return rng.standard_normal(shape) / np.sqrt(self.alpha_vector)

    def _w(self, w):
        w = np.asarray(w)
        if w.shape != (self.n_weights,):
            raise ValueError(f"w has shape {w.shape}; this prior is over {self.n_weights} weights")
        return w


def gaussian_prior(net, grouping="single", alpha=0.01, *, biases=True):
    """A :class:`GaussianPrior` over ``net``'s weights.

    Parameters
    ----------
    net : Network
    grouping : {"single", "layers", "ard"} or dict
        ``"single"``: one group ``"w"`` — simple weight decay (5.112).
        ``"layers"``: ``W1, b1, W2, b2, ...``, the weights and the biases of each
        layer (the consistent priors of §5.5.1).
        ``"ard"``: one group ``x1 ... xD`` per input (the first-layer weights
        fanning out of it), then ``b1, W2, b2, ...`` as for ``"layers"``.
        A dict ``{name: index array or boolean mask}`` is taken as given.
    alpha : float or dict
        The precision of every group, or one per group.
    biases : bool, default True
        False leaves the biases out of every group: the improper prior of §5.5.1,
        under which the network function is invariant to shifts of the inputs and
        targets. The default keeps them in, because the Laplace approximation, the
        evidence (which needs a normalised prior) and sampling from the prior all
        need a proper prior over every weight.
    """
    W = net.n_weights
    layer_groups = net.weight_groups()
    if isinstance(grouping, dict):
        groups = dict(grouping)
    elif grouping == "single":
        groups = {"w": np.arange(W)}
    elif grouping == "layers":
        groups = dict(layer_groups)
    elif grouping == "ard":
        D = net.n_inputs
        if type(net.layers[0]) is not Dense or layer_groups["W1"].size % D:
            raise ValueError("grouping='ard' needs a dense first layer (rows of D inputs)")
        W1 = layer_groups.pop("W1").reshape(-1, D)          # (M, D), row-major w_ji
        groups = {f"x{i + 1}": W1[:, i].copy() for i in range(D)}
        groups.update(layer_groups)
    else:
        raise ValueError(f"grouping must be one of {GROUPINGS} or a dict of index groups; "
                         f"got {grouping!r}")
    if not biases:
        bias = np.zeros(W, dtype=bool)
        for name, idx in layer_groups.items():
            if name.startswith("b"):
                bias[idx] = True
        kept = {}
        for k, idx in groups.items():
            idx = np.asarray(idx)
            idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.intp)
            idx = idx[~bias[idx]]
            if idx.size:
                kept[k] = idx
        groups = kept
        if isinstance(alpha, dict):
            alpha = {k: v for k, v in alpha.items() if k in groups}
    return GaussianPrior(groups, alpha, W)


def as_prior(net, prior):
    """Turn the shorthand forms into a prior over ``net``'s weights.

    ``None`` or ``0`` → no prior (returns None); a float α → one group of every
    weight and bias (weight decay, (5.112)); a dict ``{group: α}`` over
    ``net.weight_groups()`` names (``"W1"``, ``"b1"``, ...) → those groups, the
    others unpenalised (§5.5.1); a :class:`Term` → itself (a
    :class:`GaussianPrior` must be over ``net.n_weights`` weights).
    """
    if prior is None:
        return None
    if isinstance(prior, Term):
        n = getattr(prior, "n_weights", net.n_weights)
        if n != net.n_weights:
            raise ValueError(f"the prior is over {n} weights; this network has {net.n_weights}")
        return prior
    if isinstance(prior, dict):
        groups = net.weight_groups()
        unknown = sorted(set(prior) - set(groups))
        if unknown:
            raise ValueError(f"alpha names unknown weight groups {unknown}; "
                             f"this network's groups are {list(groups)}")
        return GaussianPrior({k: groups[k] for k in prior}, prior, net.n_weights)
    if isinstance(prior, Real) and not isinstance(prior, bool):
        a = _precision("alpha", prior)
        return None if a == 0.0 else GaussianPrior({"w": np.arange(net.n_weights)}, a,
                                                   net.n_weights)
    raise ValueError(f"alpha must be a float >= 0, a dict {{group: alpha}} or a prior; "
                     f"got {type(prior).__name__}")


def _precision(name, a) -> float:
    if isinstance(a, bool) or not isinstance(a, Real) or not (a >= 0 and math.isfinite(a)):
        raise ValueError(f"{name} must be a finite number >= 0; got {a!r}")
    return float(a)
