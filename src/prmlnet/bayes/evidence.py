r"""The evidence framework for the hyperparameters α and β (PRML §5.7.2, §5.7.3).

The marginal likelihood of the hyperparameters is approximated by integrating
the Laplace posterior (:mod:`prmlnet.bayes.laplace`); maximising it gives
re-estimation equations that alternate with MAP training of the weights, the
*evidence loop*.

Priors over groups of weights. The prior :math:`p(\mathbf{w}) = \prod_k
\mathcal{N}(\mathbf{w}_k \mid \mathbf{0}, \alpha_k^{-1}\mathbf{I})` has one
precision per group: one group for all weights (the book's (5.162)), one per
layer's weights and biases (the consistent priors of §5.5.1, ``prior="layers"``),
or one per input for automatic relevance determination (``prior="ard"``: the
first-layer weights fanning out of input i form group ``x{i+1}``). Its log
evidence, correct for any grouping, is

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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .laplace import LaplacePosterior, laplace

__all__ = ["prior_groups", "group_alpha_vector", "gamma_from_eigenvalues",
           "effective_parameters", "log_evidence", "reestimate", "evidence_loop",
           "EvidenceResult"]

PRIORS = ("single", "layers", "ard")

# Re-estimated α is kept in this range: a group the data do not determine
# (γ_k → 0, ARD's irrelevant inputs) has α growing geometrically; the cap keeps A
# well conditioned and the weights of that group at zero in effect.
ALPHA_RANGE = (1e-8, 1e8)
# β likewise. When γ ≥ NK (more well-determined parameters than targets: W > N,
# a weak prior, and an exact H whose residual terms raise its rank above NK) or
# E_D = 0, (5.180) has no positive solution; β is then left as it is for that
# step and α, which grows as γ/wᵀw, reins in the fit first.
BETA_RANGE = (1e-8, 1e10)


def prior_groups(net, prior="single"):
    """Named index groups of ``w`` that share one prior precision α.

    Parameters
    ----------
    prior : {"single", "layers", "ard"} or dict
        ``"single"``: one group ``"w"`` of all weights and biases (5.162).
        ``"layers"``: the weights and the biases of each layer, ``W1, b1, W2, ...``
        (the consistent priors of §5.5.1).
        ``"ard"``: one group ``x1 ... xD`` per input (its first-layer weights;
        automatic relevance determination), then ``b1, W2, b2, ...`` as for "layers".
        A dict ``{name: index array}`` is taken as given; weights in no group are
        unpenalised (α = 0).

    Returns
    -------
    dict name -> int ndarray
    """
    W = net.n_weights
    if isinstance(prior, dict):
        groups = {str(k): np.asarray(v, dtype=np.intp).ravel() for k, v in prior.items()}
        seen = np.concatenate(list(groups.values())) if groups else np.zeros(0, np.intp)
        if seen.size and (seen.min() < 0 or seen.max() >= W):
            raise ValueError(f"group indices must lie in [0, {W}); got {seen.min()}..{seen.max()}")
        if np.unique(seen).size != seen.size:
            raise ValueError("weight groups overlap; each weight may belong to one group only")
        if any(v.size == 0 for v in groups.values()):
            raise ValueError("a weight group is empty; remove it")
        return groups
    if prior == "single":
        return {"w": np.arange(W)}
    if prior == "layers":
        return dict(net.weight_groups())
    if prior == "ard":
        layer_groups = net.weight_groups()
        D = net.n_inputs
        if "W1" not in layer_groups or layer_groups["W1"].size % D:
            raise ValueError("prior='ard' needs a dense first layer (rows of D inputs)")
        W1 = layer_groups.pop("W1").reshape(-1, D)              # (M, D), row-major w_ji
        groups = {f"x{i + 1}": W1[:, i].copy() for i in range(D)}
        groups.update(layer_groups)
        return groups
    raise ValueError(f"prior must be one of {PRIORS} or a dict of index groups; got {prior!r}")


def group_alpha_vector(groups, alpha, n_weights):
    """α per weight (W,) from one α for every group or ``{group: α}``."""
    vec = np.zeros(n_weights)
    for name, idx in groups.items():
        vec[idx] = alpha[name] if isinstance(alpha, dict) else alpha
    return vec


def gamma_from_eigenvalues(lam, alpha):
    r"""The effective number of parameters :math:`\gamma = \sum_i \lambda_i/(\alpha + \lambda_i)` (5.179).

    ``lam`` are the eigenvalues of βH (5.177); negative ones are clipped to zero
    (see :mod:`prmlnet.bayes.laplace`).
    """
    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    return float(np.sum(lam / (alpha + lam)))


def effective_parameters(post: LaplacePosterior, groups):
    r"""γ_k of each group: :math:`\gamma_k = W_k - \alpha_k \operatorname{Tr}_k(\mathbf{A}^{-1})`.

    Returns a dict name -> γ_k; each lies in [0, W_k] when A is built from a
    positive semi-definite H. With one α shared by every weight this is the
    book's :math:`\sum_i \lambda_i/(\alpha + \lambda_i)` over the eigenvalues of
    βH (5.179), computed that way (the eigenvalues are at hand); otherwise the
    diagonal of :math:`\mathbf{A}^{-1}` comes from the Cholesky factor.
    """
    a = post.alpha
    if len(groups) == 1 and next(iter(groups.values())).size == a.size and np.all(a == a[0]):
        lam = post.beta * post.eigenvalues                                 # (5.177)
        if post.negative == "clip":
            lam = np.maximum(lam, 0.0)
        return {next(iter(groups)): float(np.sum(lam / (a[0] + lam)))}    # (5.179)
    d = post.diagonal()                                     # (A⁻¹)_ii
    return {name: float(idx.size - np.sum(a[idx] * d[idx])) for name, idx in groups.items()}


def _data_terms(net, w, X, T):
    """(E_D, number of Gaussian targets NK, or 0 for a likelihood without β)."""
    E_D = net.error(w, X, T)
    gaussian = net.output.name == "linear"
    return E_D, (X.shape[0] * net.n_targets if gaussian else 0)


def log_evidence(post: LaplacePosterior, X, T):
    r"""The Laplace approximation to the log evidence, for any grouping of α.

    Computed per weight, :math:`\frac12\sum_i \ln\alpha_i = \sum_k \frac{W_k}{2}\ln\alpha_k`,
    so grouped priors get the right normalisation (module docstring; (5.175),
    (5.183)). Weights with α = 0 have a flat prior of unit density: the evidence
    then holds a :math:`\frac{W_0}{2}\ln 2\pi` volume term for them and is only
    comparable between models with the same unpenalised weights.
    """
    net, w = post.net, post.w
    E_D, NK = _data_terms(net, w, X, T)
    a = post.alpha
    pos = a > 0
    value = (-post.beta * E_D - 0.5 * float(np.dot(a * w, w)) - 0.5 * post.log_det
             + 0.5 * float(np.sum(np.log(a[pos]))) + 0.5 * np.sum(~pos) * np.log(2 * np.pi))
    if NK:
        value += 0.5 * NK * (np.log(post.beta) - np.log(2 * np.pi))
    return float(value)


def reestimate(post: LaplacePosterior, X, T, groups, fix_beta=False):
    r"""One evidence step: new α per group and β from the posterior at w_MAP.

    Returns ``(alpha, beta, gamma)``: dicts over ``groups`` for α and γ, β a float
    (unchanged for classification or with ``fix_beta``). α and β are kept
    within ``ALPHA_RANGE`` and ``BETA_RANGE``; when γ ≥ NK, β is left unchanged
    (see ``BETA_RANGE``). After a step with one group,
    :math:`\alpha E_W + \beta E_D = NK/2` exactly at the same w.
    """
    w = post.w
    gamma = effective_parameters(post, groups)
    alpha = {}
    for name, idx in groups.items():
        ww = float(np.dot(w[idx], w[idx]))
        a = gamma[name] / max(ww, np.finfo(float).tiny)                     # (5.178)
        alpha[name] = float(np.clip(a, ALPHA_RANGE[0], ALPHA_RANGE[1]))
    E_D, NK = _data_terms(post.net, w, X, T)
    beta = post.beta
    if NK and not fix_beta:
        num, den = NK - sum(gamma.values()), 2.0 * E_D
        if num > 0 and den > 0:
            beta = float(np.clip(num / den, BETA_RANGE[0], BETA_RANGE[1]))  # (5.180)
        # else γ ≥ NK or E_D = 0: (5.180) is undefined; β stays, α alone moves.
    return alpha, float(beta), gamma


@dataclass
class EvidenceResult:
    r"""What :func:`evidence_loop` found.

    Attributes
    ----------
    w : ndarray (W,)
        :math:`\mathbf{w}_\text{MAP}` for the final α and β.
    alpha, gamma : dict group -> float
    beta : float
    log_evidence : float
        At the final (w, α, β).
    posterior : LaplacePosterior
    groups : dict group -> index array
    history : dict of arrays, one row per outer iteration: ``alpha`` (n, G),
        ``gamma`` (n, G), ``beta``, ``log_evidence``, ``E_D``, ``E_W``,
        ``n_negative``, ``nit`` (inner optimiser iterations) — the values at
        the start of each re-estimation.
    converged : bool
    status : str
        ``"converged"``, ``"max_outer"`` (n_outer re-estimations done) or
        ``"stopped"`` (the training callback or Ctrl-C ended it).
    """

    w: np.ndarray
    alpha: dict
    beta: float
    gamma: dict
    log_evidence: float
    posterior: LaplacePosterior
    groups: dict
    history: dict = field(default_factory=dict)
    converged: bool = False
    status: str = "max_outer"

    @property
    def gamma_total(self) -> float:
        return float(sum(self.gamma.values()))

    def predict(self, X, return_std=False):
        """The Laplace predictive (regression); see :meth:`LaplacePosterior.predict`."""
        return self.posterior.predict(X, return_std=return_std)

    def predict_proba(self, X, moderated=True):
        """Moderated class probabilities; see :meth:`LaplacePosterior.predict_proba`."""
        return self.posterior.predict_proba(X, moderated=moderated)


class _Regularised:
    """β E_D(w) + ½ Σ α_i w_i² as a fun-and-gradient callable (with H·v)."""

    def __init__(self, net, X, T, alpha_vec, beta):
        from prmlnet.objective import Objective

        self.data = Objective(net, X, T, alpha=0.0, beta=beta)
        self.alpha = alpha_vec

    def __call__(self, w):
        E, g = self.data(w)
        aw = self.alpha * w
        return E + 0.5 * float(np.dot(aw, w)), g + aw

    def hvp(self, w, v):
        return self.data.hvp(w, v) + self.alpha * v


#: ``method="auto"``: BFGS (fast, accurate convergence) up to this many weights,
#: L-BFGS above, where BFGS's O(W²) update dominates each iteration.
AUTO_BFGS_MAX_WEIGHTS = 500


def resolve_method(method, n_weights):
    """The batch method that ``method="auto"`` stands for with W = ``n_weights``."""
    if method != "auto":
        return method
    return "bfgs" if n_weights <= AUTO_BFGS_MAX_WEIGHTS else "lbfgs"


def _train(net, X, T, w, alpha_vec, beta, method, max_iter, gtol, callback=None):
    """MAP weights for fixed α, β; returns (w, iterations, stopped early by the user)."""
    from prmlnet.optim import Status, minimize

    fun = _Regularised(net, X, T, alpha_vec, beta)
    method = resolve_method(method, net.n_weights)
    hvp = fun.hvp if method == "newton" else None
    res = minimize(fun, w, method=method, max_iter=max_iter, gtol=gtol, callback=callback,
                   hvp=hvp)
    stopped = res.status in (Status.INTERRUPTED, Status.CALLBACK_STOP)
    return res.x, int(res.nit), stopped


def evidence_loop(net, X, T, *, prior="single", alpha=0.01, beta=None, w0=None, rng=None,
                  n_outer=20, tol=1e-3, method="auto", max_iter=500, gtol=1e-7,
                  hessian="exact", negative="clip", fix_beta=False, callback=None,
                  train_callback=None):
    r"""Alternate MAP training and evidence re-estimation until α and β settle (§5.7.2).

    Parameters
    ----------
    net : Network
    X, T : ndarray (N, D), (N, K)
    prior : {"single", "layers", "ard"} or dict
        The grouping of α; see :func:`prior_groups`.
    alpha : float or dict
        Initial α (all groups, or per group).
    beta : float, optional
        Initial β of a regression network; default the inverse target variance
        (the noise explains all variation to begin with), at most 1e4. Ignored (1) for
        logistic/softmax outputs.
    w0 : ndarray (W,), optional
        Initial weights; default ``net.init_weights(rng)``.
    n_outer : int
        Most re-estimations.
    tol : float
        Stop when every α_k and β changes by a relative amount below ``tol``.
    method, max_iter, gtol :
        The MAP training of each outer iteration, :func:`prmlnet.optim.minimize`,
        warm-started from the previous weights. ``"auto"``: ``"bfgs"`` up to
        ``AUTO_BFGS_MAX_WEIGHTS`` (500) weights, ``"lbfgs"`` above; ``"newton"``
        gets the exact H·v of the regularised error.
    hessian, negative :
        See :func:`prmlnet.bayes.laplace`.
    fix_beta : bool
        Keep β at its initial value.
    callback : callable(dict), optional
        Called after each outer iteration with that iteration's history row.
    train_callback : callable, optional
        Passed to :func:`prmlnet.optim.minimize` for each MAP training. If it
        stops training (returns True), or Ctrl-C interrupts it, the loop ends
        after building the posterior at the weights reached (``status``
        ``"stopped"``). Ctrl-C elsewhere (in a Hessian or an eigendecomposition)
        returns the last completed outer iteration; only one during the first
        raises ``KeyboardInterrupt``.

    Returns
    -------
    EvidenceResult
        With w, α, β, the posterior and the log evidence mutually consistent:
        w is the MAP for the returned α and β.

    Notes
    -----
    Each outer iteration: (1) train :math:`\mathbf{w}_\text{MAP}` of
    :math:`\beta E_D + \frac12\sum_i\alpha_i w_i^2`; (2) build
    :math:`\mathbf{A} = \beta\mathbf{H} + \operatorname{diag}(\boldsymbol\alpha)`;
    (3) record γ and the log evidence; (4) re-estimate α by (5.178) and β by (5.180).
    Every step uses sums over patterns (the book's E_D, H, γ).

    Examples
    --------
    >>> import numpy as np
    >>> from prmlnet import Network, bayes, datasets
    >>> X, T = datasets.sinusoidal(30, rng=0, noise=0.1)
    >>> res = bayes.evidence_loop(Network((1, 4, 1)), X, T, rng=0)
    >>> res.converged, 0 < res.gamma_total < 13, bool(50 < res.beta < 200)  # noise sd 0.1
    (True, True, True)
    >>> mean, std = res.predict(np.array([[0.5], [2.0]]), return_std=True)
    >>> bool(std[1, 0] > std[0, 0] >= res.beta ** -0.5)
    True
    """
    _, X, T = net.check_data(np.zeros(net.n_weights), X, T)
    if not (isinstance(n_outer, (int, np.integer)) and n_outer >= 1):
        raise ValueError(f"n_outer must be an integer >= 1; got {n_outer!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive; got {tol!r}")
    groups = prior_groups(net, prior)
    if isinstance(alpha, dict):
        missing = sorted(set(groups) - set(alpha))
        if missing:
            raise ValueError(f"alpha gives no value for groups {missing}")
        alpha = {k: float(alpha[k]) for k in groups}
    else:
        alpha = {k: float(alpha) for k in groups}
    if any(not (np.isfinite(a) and a > 0) for a in alpha.values()):
        raise ValueError("initial alpha must be finite and > 0")
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

    names = list(groups)
    rows = {k: [] for k in ("alpha", "gamma", "beta", "log_evidence", "E_D", "E_W",
                            "n_negative", "nit")}
    converged = stopped = False
    last = None                      # the last mutually consistent (w, α, β, γ, ev, posterior)
    for it in range(n_outer):
        try:
            avec = group_alpha_vector(groups, alpha, net.n_weights)
            w, nit, stopped = _train(net, X, T, w, avec, beta, method, max_iter, gtol,
                                     train_callback)                        # (1)
            post = laplace(net, w, X, T, avec, beta, hessian=hessian,
                           negative=negative)                               # (2)
            ev = log_evidence(post, X, T)                                   # (3)
            new_alpha, new_beta, gamma = reestimate(post, X, T, groups,
                                                    fix_beta=fix_beta or not gaussian)  # (4)
        except KeyboardInterrupt:    # Ctrl-C outside the optimiser: keep the last state
            if last is None:
                raise
            stopped = True
            break
        last = (w, dict(alpha), beta, gamma, ev, post)
        row = {"alpha": [alpha[k] for k in names], "gamma": [gamma[k] for k in names],
               "beta": beta, "log_evidence": ev, "E_D": net.error(w, X, T),
               "E_W": 0.5 * float(np.dot(w, w)), "n_negative": post.n_negative, "nit": nit}
        for k, v in row.items():
            rows[k].append(v)
        if callback is not None:
            callback(row)
        change = max([abs(new_alpha[k] - alpha[k]) / alpha[k] for k in names]
                     + [abs(new_beta - beta) / beta])
        converged = change < tol
        if converged or stopped or it == n_outer - 1:
            break                    # keep the α, β that w was trained for
        alpha, beta = new_alpha, new_beta
    w, alpha, beta, gamma, ev, post = last
    history = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
    history["groups"] = names
    return EvidenceResult(w=w, alpha=alpha, beta=beta, gamma=gamma, log_evidence=ev,
                          posterior=post, groups=groups, history=history, converged=converged,
                          status="converged" if converged else "stopped" if stopped
                          else "max_outer")
