r"""The Laplace approximation to the posterior over the weights (PRML §5.7.1, §5.7.3).

At a mode :math:`\mathbf{w}_\text{MAP}` of the regularised error

.. math:: E(\mathbf{w}) = \beta E_D(\mathbf{w}) + \sum_k \frac{\alpha_k}{2} \|\mathbf{w}_k\|^2

(:math:`E_D` summed over patterns; the prior is a
:class:`~prmlnet.priors.GaussianPrior` — one α for all weights is the book's
(5.165), one α per group of weights the consistent priors of §5.5.1 or ARD) the
posterior is approximated by the Gaussian :math:`\mathcal{N}(\mathbf{w} \mid
\mathbf{w}_\text{MAP}, \mathbf{A}^{-1})` with precision

.. math:: \mathbf{A} = \beta\mathbf{H} + \operatorname{diag}(\boldsymbol\alpha)
          \qquad (= \alpha\mathbf{I} + \beta\mathbf{H}, \ (5.166))

where :math:`\mathbf{H}` is the Hessian of :math:`E_D` — exact by default
(:func:`prmlnet.hessian.exact`), or the outer-product approximation (5.84, 5.85),
which is positive semi-definite by construction. For the classifiers of §5.7.3
the data term is the cross-entropy and there is no β (``beta=1``).

**Negative eigenvalues of H.** The MAP weights minimise :math:`\beta E_D + E_W`,
not :math:`E_D`: at a true mode it is **A** that is positive semi-definite, and
H itself may have eigenvalues down to about :math:`-\alpha/\beta` (directions
along which the data error falls but the prior rises faster). Such eigenvalues
are part of the Laplace approximation as the book writes it, so they are used
as they are whenever A is positive definite. The ``negative`` policy says what
happens otherwise:

``"auto"`` (default)
    A = βH + diag(α) as computed whenever it is positive definite; only when it
    is not (the weights are not at a minimum of the regularised error: a saddle
    point, or training stopped early) H is replaced by its nearest positive
    semi-definite matrix :math:`\mathbf{U}\max(\boldsymbol\Lambda, 0)\mathbf{U}^\mathrm{T}`,
    and :attr:`LaplacePosterior.clipped` says so.
``"clip"``
    Always clip (what Netlab does): every direction of negative data curvature
    is treated as one the data do not determine, so the prior alone sets its
    width and it contributes nothing to γ (5.179). At a true mode this moves the
    log evidence and narrows the error bars; it is kept for comparison.
``"keep"``
    H as computed, always; a ``ValueError`` if A is not positive definite.

:attr:`LaplacePosterior.n_negative` reports how many eigenvalues of H were
significantly negative and :attr:`LaplacePosterior.eigenvalues` holds them all.

All solves use the Cholesky factor :math:`\mathbf{A} = \mathbf{L}\mathbf{L}^\mathrm{T}`;
no inverse is formed except on request (:meth:`LaplacePosterior.covariance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, special

from .._rng import as_rng
from ..hessian._memory import PEAK_COPIES, WORKSPACE_BYTES, check_matrix_memory
from ..priors import GaussianPrior, as_prior

__all__ = ["LaplacePosterior", "laplace", "data_hessian", "kappa", "HESSIANS", "NEGATIVE"]

HESSIANS = ("exact", "outer_product")
NEGATIVE = ("auto", "clip", "keep")

# Rows of an (n, W) block handled at once in the predictive solves (bounded memory).
_BLOCK_FLOATS = 2_000_000


def kappa(s2):
    r"""The probit moderation factor :math:`\kappa(\sigma^2) = (1 + \pi\sigma^2/8)^{-1/2}`.

    Notes
    -----
    With it the logistic sigmoid averaged over a Gaussian is approximated by the
    sigmoid of a scaled mean (§4.5.2, used for networks in §5.7.3):

    .. math:: \int \sigma(a)\, \mathcal{N}(a \mid \mu, \sigma^2)\, da
              \simeq \sigma(\kappa(\sigma^2)\, \mu)
    """
    return 1.0 / np.sqrt(1.0 + np.pi * np.asarray(s2, dtype=float) / 8.0)


def data_hessian(net, w, X, T, hessian="exact"):
    """The Hessian of the data error :math:`E_D` (sum over patterns), shape (W, W).

    ``hessian`` is ``"exact"`` (:func:`prmlnet.hessian.exact`) or
    ``"outer_product"`` (:func:`prmlnet.hessian.outer_product`, (5.84, 5.85)).
    """
    if hessian not in HESSIANS:
        raise ValueError(f"hessian must be one of {HESSIANS}; got {hessian!r}")
    from prmlnet import hessian as _h

    return (_h.exact if hessian == "exact" else _h.outer_product)(net, w, X, T)


@dataclass(frozen=True, eq=False)
class LaplacePosterior:
    r"""The Gaussian :math:`\mathcal{N}(\mathbf{w}_\text{MAP}, \mathbf{A}^{-1})` over the weights.

    Build it with :func:`laplace`. Attributes are read-only arrays; nothing mutates them.

    Attributes
    ----------
    net : Network
    w : ndarray (W,)
        :math:`\mathbf{w}_\text{MAP}`.
    prior : GaussianPrior
        The prior the mode was found for (its groups and precisions α_k).
    beta : float
        The noise precision (1 for classification).
    H : ndarray (W, W) or None
        The data Hessian as used in A (after the ``negative`` policy); None
        for a posterior rebuilt from a model file (only L is stored).
    eigenvalues : ndarray (W,)
        Eigenvalues of the data Hessian as computed, ascending (before any clipping).
    n_negative : int
        How many of them were negative beyond rounding.
    chol : ndarray (W, W)
        Lower Cholesky factor L of A.
    hessian, negative : str
        How H was computed and the negative-eigenvalue policy asked for.
    clipped : bool
        Whether H's negative eigenvalues were set to zero in A (always with
        ``negative="clip"``; with ``"auto"`` only when A was not positive definite).
    """

    net: object
    w: np.ndarray
    prior: GaussianPrior
    beta: float
    H: np.ndarray
    eigenvalues: np.ndarray
    n_negative: int
    chol: np.ndarray
    hessian: str = "exact"
    negative: str = "auto"
    clipped: bool = False
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def alpha(self) -> np.ndarray:
        """The prior precision of each weight, (W,) (``prior.alpha_vector``)."""
        return self.prior.alpha_vector

    @property
    def n_weights(self) -> int:
        return self.w.size

    @property
    def log_det(self) -> float:
        r""":math:`\ln|\mathbf{A}| = 2\sum_i \ln L_{ii}`."""
        return 2.0 * float(np.sum(np.log(np.diag(self.chol))))

    @property
    def precision(self) -> np.ndarray:
        """A = βH + diag(α) = L Lᵀ, shape (W, W)."""
        return self.chol @ self.chol.T

    def solve(self, B):
        r""":math:`\mathbf{A}^{-1}\mathbf{B}` by two triangular solves; B is (W,) or (W, m)."""
        return linalg.cho_solve((self.chol, True), B, check_finite=False)

    def covariance(self):
        r"""The posterior covariance :math:`\mathbf{A}^{-1}`, (W, W) — formed explicitly, for small W."""
        return self.solve(np.eye(self.n_weights))

    def _inv_chol(self):
        if "Linv" not in self._cache:
            self._cache["Linv"] = linalg.solve_triangular(
                self.chol, np.eye(self.n_weights), lower=True, check_finite=False)
        return self._cache["Linv"]

    def diagonal(self):
        r"""The posterior variances :math:`(\mathbf{A}^{-1})_{ii}`, shape (W,).

        :math:`\mathbf{A}^{-1} = \mathbf{L}^{-\mathrm{T}}\mathbf{L}^{-1}`, so the
        diagonal holds the squared column norms of :math:`\mathbf{L}^{-1}`.
        """
        Linv = self._inv_chol()
        return np.einsum("ij,ij->j", Linv, Linv)

    def quadratic(self, G):
        r""":math:`\mathbf{g}^\mathrm{T}\mathbf{A}^{-1}\mathbf{g}` for each row g of G (..., W)."""
        G = np.asarray(G, dtype=float)
        flat = G.reshape(-1, self.n_weights)
        out = np.empty(flat.shape[0])
        step = max(1, _BLOCK_FLOATS // self.n_weights)
        for i in range(0, flat.shape[0], step):
            V = linalg.solve_triangular(self.chol, flat[i:i + step].T, lower=True,
                                        check_finite=False)
            out[i:i + step] = np.einsum("ij,ij->j", V, V)
        return out.reshape(G.shape[:-1])

    def sample(self, n, rng=None):
        r"""``n`` weight vectors drawn from the posterior, shape (n, W):
        :math:`\mathbf{w}_\text{MAP} + \mathbf{L}^{-\mathrm{T}}\mathbf{z}`, z standard normal."""
        rng = as_rng(rng)
        Z = rng.standard_normal((self.n_weights, int(n)))
        return self.w + linalg.solve_triangular(self.chol.T, Z, lower=False,
                                                check_finite=False).T

    # -- the predictive distribution --------------------------------------------
    def _output_blocks(self, X, wrt):
        """Yield (slice, a or y, per-pattern output gradients (n, K, W)) in bounded blocks."""
        net = self.net
        X = net.check_inputs(X)
        K = net.n_outputs
        step = max(1, _BLOCK_FLOATS // (K * self.n_weights))
        for i in range(0, X.shape[0], step):
            Xi = X[i:i + step]
            yield slice(i, i + step), Xi, net.output_gradients(self.w, Xi, wrt=wrt)

    def predict(self, X, return_std=False, return_cov=False):
        r"""The predictive distribution of a regression network (5.172, 5.173).

        Parameters
        ----------
        X : ndarray (N, D)
        return_std : bool
            Also return the predictive standard deviation of each output.
        return_cov : bool
            Also return the full (K, K) predictive covariance of each pattern.

        Returns
        -------
        mean : ndarray (N, K)
            :math:`y(\mathbf{x}, \mathbf{w}_\text{MAP})`.
        std : ndarray (N, K), if ``return_std``
        cov : ndarray (N, K, K), if ``return_cov``

        Notes
        -----
        The network is linearised about the mode, :math:`\mathbf{g} = \nabla_\mathbf{w}
        y(\mathbf{x}, \mathbf{w})|_{\mathbf{w}_\text{MAP}}`, giving

        .. math:: p(t \mid \mathbf{x}, D) = \mathcal{N}(t \mid y(\mathbf{x}, \mathbf{w}_\text{MAP}),
                  \sigma^2(\mathbf{x})), \qquad
                  \sigma^2(\mathbf{x}) = \beta^{-1} + \mathbf{g}^\mathrm{T}\mathbf{A}^{-1}\mathbf{g}
                  \quad (5.172, 5.173)

        and for K outputs the covariance :math:`\beta^{-1}\mathbf{I} + \mathbf{G}\mathbf{A}^{-1}\mathbf{G}^\mathrm{T}`.
        """
        if self.net.output.name != "linear":
            raise ValueError(f"predict gives the Gaussian predictive of a linear-output "
                             f"network; this one has {self.net.output.name!r} outputs — use "
                             "predict_proba")
        mean = self.net.predict(self.w, X)
        if not (return_std or return_cov):
            return mean
        N, K = mean.shape
        std = np.empty((N, K))
        cov = np.empty((N, K, K)) if return_cov else None
        for s, _, G in self._output_blocks(X, "y"):
            if return_cov:
                n = G.shape[0]
                V = linalg.solve_triangular(self.chol, G.reshape(n * K, -1).T, lower=True,
                                            check_finite=False).reshape(-1, n, K)
                c = np.einsum("wnk,wnl->nkl", V, V)
                c[:, np.arange(K), np.arange(K)] += 1.0 / self.beta
                cov[s] = c
                std[s] = np.sqrt(np.diagonal(c, axis1=1, axis2=2))
            else:
                std[s] = np.sqrt(1.0 / self.beta + self.quadratic(G))      # (5.173)
        out = (mean, std) if return_std else (mean,)
        return out + (cov,) if return_cov else out

    def activation_variance(self, X):
        r""":math:`\sigma_a^2 = \mathbf{b}^\mathrm{T}\mathbf{A}^{-1}\mathbf{b}` of each output
        pre-activation, with :math:`\mathbf{b} = \nabla_\mathbf{w} a(\mathbf{x}, \mathbf{w})`
        at the mode (§5.7.3); returns ``(a_MAP, s2)``, each (N, K)."""
        net = self.net
        X = net.check_inputs(X)
        a = net.forward(self.w, X).a[-1]
        s2 = np.empty_like(a)
        for s, _, B in self._output_blocks(X, "a"):
            s2[s] = self.quadratic(B)
        return a, s2

    def predict_proba(self, X, moderated=True):
        r"""Approximate predictive class probabilities of a classifier (§5.7.3).

        Parameters
        ----------
        X : ndarray (N, D)
        moderated : bool
            ``False`` gives the MAP network's own outputs :math:`y(\mathbf{x}, \mathbf{w}_\text{MAP})`.

        Returns
        -------
        ndarray (N, K)

        Notes
        -----
        Logistic outputs: the activation is linearised about the mode, so
        :math:`p(a \mid \mathbf{x}, D) = \mathcal{N}(a_\text{MAP}, \sigma_a^2)`, and the
        probit approximation gives

        .. math:: p(t = 1 \mid \mathbf{x}, D) \simeq \sigma\big(\kappa(\sigma_a^2)\, a_\text{MAP}\big),
                  \qquad \kappa(\sigma^2) = (1 + \pi\sigma^2/8)^{-1/2}

        Softmax outputs: each activation is moderated the same way,
        :math:`\operatorname{softmax}_k(\kappa(\sigma_{a_k}^2)\, a_k)`. This is a
        **heuristic** — it ignores the covariances between the activations and the
        softmax average has no closed form — but it moves the probabilities
        towards uniform where the weights are uncertain, as the exact average does.
        """
        name = self.net.output.name
        if name not in ("logistic", "softmax"):
            raise ValueError(f"predict_proba needs logistic or softmax outputs; this network "
                             f"has {name!r} outputs — use predict(X, return_std=True)")
        if not moderated:
            return self.net.predict(self.w, X)
        a, s2 = self.activation_variance(X)
        m = kappa(s2) * a
        if name == "logistic":
            return special.expit(m)
        return special.softmax(m, axis=1)


def laplace(net, w, X, T, prior, beta=1.0, *, hessian="exact", negative="auto", H=None):
    r"""The Laplace approximation to the posterior at a mode ``w`` (§5.7.1, §5.7.3).

    Parameters
    ----------
    net : Network
    w : ndarray (W,)
        The mode :math:`\mathbf{w}_\text{MAP}` of :math:`\beta E_D + E_W`
        (train it first, e.g. with :func:`prmlnet.bayes.evidence_loop`).
    X, T : ndarray (N, D), (N, K)
        The training data.
    prior : GaussianPrior, float or dict
        The prior over the weights (:mod:`prmlnet.priors`); a float α for every
        weight and bias, or ``{group: α}`` over ``net.weight_groups()`` (groups
        not named unpenalised), is shorthand (:func:`prmlnet.priors.as_prior`).
    beta : float
        Noise precision of a regression network; 1 for classification (5.7.3 has no β).
    hessian : {"exact", "outer_product"}
        How to compute the data Hessian H.
    negative : {"auto", "clip", "keep"}
        What to do with negative eigenvalues of H; see the module docstring.
    H : ndarray (W, W), optional
        A precomputed data Hessian, as computed (skips its computation).

    Returns
    -------
    LaplacePosterior

    Raises
    ------
    ValueError
        If A = βH + diag(α) is not positive definite under ``negative="keep"``
        (or, with a prior that leaves weights unpenalised, even after clipping).
    """
    if negative not in NEGATIVE:
        raise ValueError(f"negative must be one of {NEGATIVE}; got {negative!r}")
    if hessian not in HESSIANS:
        raise ValueError(f"hessian must be one of {HESSIANS}; got {hessian!r}")
    beta = float(beta)
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite positive noise precision; got {beta}")
    w, X, T = net.check_data(w, X, T)
    prior = gaussian_of(net, prior)
    alpha = prior.alpha_vector
    W = net.n_weights
    # H, its eigenvectors and A at once: refuse before any work what would not fit
    check_matrix_memory(W, 8, PEAK_COPIES["laplace"], "the Laplace posterior",
                        workspace=WORKSPACE_BYTES)
    if H is None:
        H = data_hessian(net, w, X, T, hessian)
    else:
        H = np.asarray(H, dtype=float)
        if H.shape != (W, W):
            raise ValueError(f"H must be the (W, W) = ({W}, {W}) data Hessian; got {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("the data Hessian holds NaN or infinite values; check the weights "
                         "and the data (a diverged training run?)")
    H = H + H.T                                           # exact symmetry before eigh
    H *= 0.5
    U = None
    if negative == "clip":
        lam, U = linalg.eigh(H, driver="evd", check_finite=False)   # divide and conquer
    else:
        lam = linalg.eigvalsh(H, check_finite=False)
    tiny = W * np.finfo(float).eps * max(1.0, float(np.max(np.abs(lam))))
    n_negative = int(np.sum(lam < -tiny))
    clipped = False
    L = None if negative == "clip" and lam[0] < 0 else _cholesky(H, beta, alpha)
    if L is None and negative != "keep":                  # clip: nearest PSD matrix
        if U is None:
            lam, U = linalg.eigh(H, driver="evd", check_finite=False)
        if lam[0] < 0:
            H = (U * np.maximum(lam, 0.0)) @ U.T
            H = 0.5 * (H + H.T)
            clipped = True
            L = _cholesky(H, beta, alpha)
    if L is None:
        A = beta * H
        A[np.diag_indices_from(A)] += alpha                   # A = βH + diag(α)   (5.166)
        smallest = float(linalg.eigvalsh(A, subset_by_index=[0, 0])[0])
        advice = ("train w to a minimum of beta*E_D + E_W (at a minimum A is positive "
                  "semi-definite), or use negative='auto'" if negative == "keep" else
                  "give every weight group a positive alpha, or use hessian='outer_product'")
        raise ValueError(
            f"A = beta*H + diag(alpha) is not positive definite (smallest eigenvalue "
            f"{smallest:.3g}; H has {n_negative} negative eigenvalues): {advice}") from None
    return LaplacePosterior(net=net, w=w.astype(float), prior=prior, beta=beta, H=H,
                            eigenvalues=lam, n_negative=n_negative, chol=L,
                            hessian=hessian, negative=negative, clipped=clipped)


def _cholesky(H, beta, alpha):
    """Lower Cholesky factor of A = βH + diag(α) (5.166), or None if A is not positive definite."""
    A = beta * H
    A[np.diag_indices_from(A)] += alpha
    try:
        return linalg.cholesky(A, lower=True, overwrite_a=True, check_finite=False)
    except linalg.LinAlgError:
        return None


def gaussian_of(net, prior):
    """``prior`` as a :class:`~prmlnet.priors.GaussianPrior` over ``net``'s weights
    (shorthand through :func:`~prmlnet.priors.as_prior`; None or 0: no prior at all)."""
    if isinstance(prior, np.ndarray) and prior.ndim:
        raise ValueError("alpha must be a float, a dict {group: alpha} or a GaussianPrior "
                         "(build per-weight groups with prmlnet.priors.GaussianPrior)")
    p = as_prior(net, prior)
    if p is None:
        return GaussianPrior({}, 0.0, net.n_weights)
    if not isinstance(p, GaussianPrior):
        raise ValueError(f"the Laplace approximation here needs a Gaussian prior; got "
                         f"{type(p).__name__}")
    return p
