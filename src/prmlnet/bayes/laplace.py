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

**One factorization.** Under ``"auto"`` and ``"keep"`` nothing but the Cholesky
factor :math:`\mathbf{A} = \mathbf{L}\mathbf{L}^\mathrm{T}` is computed: the log
determinant, γ (from :math:`\mathbf{L}^{-1}`, computed once and kept), the
predictive and the samples all use it. The eigenvalues of H (a full
eigendecomposition, several times the cost of the factorization) are computed
only when asked for; the count of negative ones comes from the inertia of an
:math:`\mathbf{LDL}^\mathrm{T}` factorization of H (Sylvester's law of inertia),
about the cost of the Cholesky factor. No inverse is formed except on request
(:meth:`LaplacePosterior.covariance`).

**The data.** :func:`laplace` takes a network with its data ``(X, T)`` — NumPy
arrays, or dask arrays on a cluster — or an objective
(:class:`~prmlnet.objective.Objective` or
:class:`~prmlnet.distributed.DistributedObjective`) that holds the data, the
prior and β; the data Hessian is the objective's sum over patterns, wherever the
patterns are. The predictive (:meth:`LaplacePosterior.predict`,
:meth:`LaplacePosterior.predict_proba`) is local: it needs only w, L and the
query points.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from .._rng import as_rng
from ..hessian._memory import PEAK_COPIES, WORKSPACE_BYTES, check_matrix_memory
from ..priors import GaussianPrior, as_prior
from . import _data
from .predictive import BLOCK_FLOATS, Predictive, kappa

__all__ = ["LaplacePosterior", "laplace", "data_hessian", "kappa", "HESSIANS", "NEGATIVE"]

HESSIANS = ("exact", "outer_product")
NEGATIVE = ("auto", "clip", "keep")

def data_hessian(net, w, X=None, T=None, hessian="exact"):
    """The Hessian of the data error :math:`E_D` (sum over patterns), shape (W, W).

    ``net`` with ``X, T`` (NumPy or dask arrays), or an objective holding the data
    (:class:`~prmlnet.objective.Objective`, :class:`~prmlnet.distributed.DistributedObjective`;
    its prior and β are left out). ``hessian`` is ``"exact"``
    (:func:`prmlnet.hessian.exact`) or ``"outer_product"``
    (:func:`prmlnet.hessian.outer_product`, (5.84, 5.85)).
    """
    if hessian not in HESSIANS:
        raise ValueError(f"hessian must be one of {HESSIANS}; got {hessian!r}")
    return _hessian_of(_data.data_objective(net, X, T, what="the data Hessian"), w, hessian)


def _hessian_of(data, w, hessian):
    """The data Hessian from the objective of the data term alone (β = 1, no prior)."""
    return data.hessian(w) if hessian == "exact" else data.outer_product(w)


def _threshold(norm, W):
    """Eigenvalues below minus this are negative beyond rounding: W ε max(1, ‖H‖_F)."""
    return W * np.finfo(float).eps * max(1.0, float(norm))


def _count_negative(H):
    r"""How many eigenvalues of the symmetric H lie below :math:`-\tau` (:func:`_threshold`),
    from the inertia of :math:`\mathbf{H} + \tau\mathbf{I} = \mathbf{L}\mathbf{D}\mathbf{L}^\mathrm{T}`
    (Bunch–Kaufman): the negative 1×1 blocks of D plus one per 2×2 block, each of which
    has one eigenvalue of either sign (Sylvester's law of inertia)."""
    W = H.shape[0]
    M = H.copy()
    M[np.diag_indices_from(M)] += _threshold(np.linalg.norm(H), W)
    lwork = int(lapack.dsytrf_lwork(W, lower=1)[0])
    ld, ipiv, info = lapack.dsytrf(M, lower=1, lwork=max(lwork, 1), overwrite_a=True)
    if info < 0:
        raise ValueError(f"dsytrf: argument {-info} is invalid")
    two = ipiv < 0                                   # both rows of a 2×2 block
    return int(np.sum(np.diagonal(ld)[~two] < 0)) + int(np.sum(two)) // 2


class LaplacePosterior(Predictive):
    r"""The Gaussian :math:`\mathcal{N}(\mathbf{w}_\text{MAP}, \mathbf{A}^{-1})` over the weights.

    Build it with :func:`laplace`. The attributes are read-only; nothing mutates them.
    The predictive distribution (:meth:`predict`, :meth:`predict_proba`) comes from
    :class:`prmlnet.bayes.predictive.Predictive`.

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
        Eigenvalues of the data Hessian as computed, ascending (before any
        clipping); computed on first access unless the ``negative`` policy
        needed them.
    n_negative : int
        How many of them lie below :math:`-W\varepsilon\max(1, \|\mathbf{H}\|_F)`
        (negative beyond rounding): counted from the eigenvalues where they are at
        hand, else from the inertia of an :math:`\mathbf{LDL}^\mathrm{T}` factorization.
    chol : ndarray (W, W)
        Lower Cholesky factor L of A.
    hessian, negative : str
        How H was computed and the negative-eigenvalue policy asked for.
    clipped : bool
        Whether H's negative eigenvalues were set to zero in A (always with
        ``negative="clip"``; with ``"auto"`` only when A was not positive definite).
    """

    _FIELDS = ("w", "prior", "beta", "H", "chol", "hessian", "negative", "clipped")

    def __init__(self, net, w, prior, beta, H, chol, *, eigenvalues=None, n_negative=None,
                 hessian="exact", negative="auto", clipped=False):
        if eigenvalues is None and H is None:
            raise ValueError("a Laplace posterior needs H or the eigenvalues of H")
        for name, value in (("net", net), ("w", w), ("prior", prior), ("beta", float(beta)),
                            ("H", H), ("chol", chol), ("hessian", hessian),
                            ("negative", negative), ("clipped", bool(clipped)),
                            ("_eigenvalues", eigenvalues),
                            ("_n_negative", None if n_negative is None else int(n_negative)),
                            ("_cache", {})):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"LaplacePosterior is read-only; cannot set {name!r}")

    def __repr__(self):
        return (f"LaplacePosterior({self.net!r}, W={self.n_weights}, prior={self.prior!r}, "
                f"beta={self.beta:.6g}, hessian={self.hessian!r}, negative={self.negative!r}, "
                f"clipped={self.clipped})")

    def _fields(self) -> dict:
        """The constructor's arguments but ``net``, without computing what is computed
        on demand (for pickling)."""
        out = {k: getattr(self, k) for k in self._FIELDS}
        out.update(eigenvalues=self._eigenvalues, n_negative=self._n_negative)
        return out

    @property
    def eigenvalues(self) -> np.ndarray:
        if self._eigenvalues is not None:              # needed by the build, or given
            return self._eigenvalues
        if "eigenvalues" not in self._cache:
            lam = linalg.eigvalsh(self.H, check_finite=False)
            lam.setflags(write=False)
            self._cache["eigenvalues"] = lam
        return self._cache["eigenvalues"]

    @property
    def n_negative(self) -> int:
        if self._n_negative is None:
            lam = self._eigenvalues
            n = (_count_negative(self.H) if lam is None else
                 int(np.sum(lam < -_threshold(np.linalg.norm(lam), lam.size))))
            object.__setattr__(self, "_n_negative", n)
        return self._n_negative

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
        r""":math:`\mathbf{L}^{-1}`, computed once (LAPACK ``trtri``) and kept."""
        if "Linv" not in self._cache:
            Linv, info = lapack.dtrtri(self.chol, lower=1)
            if info:
                raise ValueError(f"the Cholesky factor is singular (trtri info {info})")
            self._cache["Linv"] = Linv            # lower triangular: chol's upper part is 0
        return self._cache["Linv"]

    def diagonal(self):
        r"""The posterior variances :math:`(\mathbf{A}^{-1})_{ii}`, shape (W,).

        :math:`\mathbf{A}^{-1} = \mathbf{L}^{-\mathrm{T}}\mathbf{L}^{-1}`, so the
        diagonal holds the squared column norms of :math:`\mathbf{L}^{-1}` (computed
        once and kept: γ and the evidence loop's re-estimation use it).
        """
        if "diag" not in self._cache:
            Linv = self._inv_chol()
            self._cache["diag"] = np.einsum("ij,ij->j", Linv, Linv)
        return self._cache["diag"].copy()

    def quadratic(self, G):
        r""":math:`\mathbf{g}^\mathrm{T}\mathbf{A}^{-1}\mathbf{g}` for each row g of G (..., W)."""
        G = np.asarray(G, dtype=float)
        flat = G.reshape(-1, self.n_weights)
        out = np.empty(flat.shape[0])
        step = max(1, BLOCK_FLOATS // self.n_weights)
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


def laplace(net, w, X=None, T=None, prior=None, beta=None, *, hessian="exact", negative="auto",
            H=None):
    r"""The Laplace approximation to the posterior at a mode ``w`` (§5.7.1, §5.7.3): the
    Gaussian with precision :math:`\mathbf{A} = \beta\mathbf{H} + \operatorname{diag}(\boldsymbol\alpha)`
    (5.166), H the data Hessian at w.

    Parameters
    ----------
    net : Network, Objective or DistributedObjective
        A network with its data ``X, T``; or an objective
        :math:`\beta E_D + E_W` holding the data (in memory or on a Dask cluster),
        its Gaussian prior and β — then give neither ``X, T`` nor ``prior, beta``.
    w : ndarray (W,)
        The mode :math:`\mathbf{w}_\text{MAP}` of :math:`\beta E_D + E_W`
        (train it first, e.g. with :func:`prmlnet.bayes.evidence_loop`).
    X, T : ndarray (N, D), (N, K)
        The training data (NumPy arrays, or dask arrays on a cluster).
    prior : GaussianPrior, float or dict
        The prior over the weights (:mod:`prmlnet.priors`); a float α for every
        weight and bias, or ``{group: α}`` over ``net.weight_groups()`` (groups
        not named unpenalised), is shorthand (:func:`prmlnet.priors.as_prior`).
    beta : float, default 1
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
    if _data.is_objective(net):
        if prior is not None or beta is not None:
            raise ValueError("an objective carries its prior and beta; give laplace(objective, "
                             "w) without prior and beta (or a network with X and T)")
        prior, beta = net.prior, net.beta
    beta = 1.0 if beta is None else float(beta)
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite positive noise precision; got {beta}")
    data = _data.data_objective(net, X, T, what="the Laplace approximation")
    net = data.net
    w = net.check_weights(w)
    prior = gaussian_of(net, prior)
    W = net.n_weights
    # H and A (and, when clipping, the eigenvectors): refuse before any work what would not fit
    check_matrix_memory(W, 8, PEAK_COPIES["laplace"], "the Laplace posterior",
                        workspace=WORKSPACE_BYTES)
    if H is None:
        H = _hessian_of(data, w, hessian)
    else:
        H = np.asarray(H, dtype=float)
        if H.shape != (W, W):
            raise ValueError(f"H must be the (W, W) = ({W}, {W}) data Hessian; got {H.shape}")
    H = H + H.T                 # exact symmetry; a Hessian computed here is freed at once
    H *= 0.5
    return posterior_from_hessian(net, w, H, prior, beta, hessian=hessian, negative=negative,
                                  take=True)


def posterior_from_hessian(net, w, H, prior, beta, *, hessian="exact", negative="auto",
                           take=False):
    """The :class:`LaplacePosterior` at ``w`` from the data Hessian H as computed;
    ``prior`` a :class:`~prmlnet.priors.GaussianPrior`. H is not modified, unless
    ``take=True``: then H is exactly symmetric and handed over — the posterior keeps
    it, or overwrites it with its clipped form (no W×W copy of it is made). What
    :func:`laplace` does once it has H, and what the evidence loop calls directly."""
    post = try_posterior(net, w, H, prior, beta, hessian=hessian, negative=negative,
                         take=take)
    if post is not None:
        return post
    H = 0.5 * (H + H.T)
    A = beta * H
    A[np.diag_indices_from(A)] += prior.alpha_vector       # A = βH + diag(α)   (5.166)
    smallest = float(linalg.eigvalsh(A, subset_by_index=[0, 0])[0])
    advice = ("train w to a minimum of beta*E_D + E_W (at a minimum A is positive "
              "semi-definite), or use negative='auto'" if negative == "keep" else
              "give every weight group a positive alpha, or use hessian='outer_product'")
    raise ValueError(
        f"A = beta*H + diag(alpha) is not positive definite (smallest eigenvalue "
        f"{smallest:.3g}; H has {_count_negative(H)} negative eigenvalues): {advice}")


def try_posterior(net, w, H, prior, beta, *, hessian="exact", negative="auto", take=False):
    """:func:`posterior_from_hessian`, or None where A is not positive definite under
    the ``negative`` policy (no error message built: the evidence loop retrains)."""
    if not np.all(np.isfinite(H)):
        raise ValueError("the data Hessian holds NaN or infinite values; check the weights "
                         "and the data (a diverged training run?)")
    alpha = prior.alpha_vector
    if not take:
        H = H + H.T                                       # exact symmetry, in our own copy
        H *= 0.5
    lam = None
    clipped = False
    if negative == "clip":
        lam, U = linalg.eigh(H, driver="evd", check_finite=False)   # divide and conquer
    L = None if lam is not None and lam[0] < 0 else _cholesky(H, beta, alpha)
    if L is None and negative != "keep":                  # clip: nearest PSD matrix
        if lam is None:
            lam, U = linalg.eigh(H, driver="evd", check_finite=False)
        if lam[0] < 0:                                    # in place: H is ours
            np.matmul(U * np.maximum(lam, 0.0), U.T, out=H)
            del U
            H += H.T
            H *= 0.5
            clipped = True
            L = _cholesky(H, beta, alpha)
    if L is None:
        return None
    n_negative = None
    if lam is not None:
        lam.setflags(write=False)
        n_negative = int(np.sum(lam < -_threshold(np.linalg.norm(lam), lam.size)))
    return LaplacePosterior(net, np.array(w, dtype=float), prior, beta, H, L, eigenvalues=lam,
                            n_negative=n_negative, hessian=hessian, negative=negative,
                            clipped=clipped)


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
