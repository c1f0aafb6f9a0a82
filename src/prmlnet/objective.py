r"""The training objective: the data term plus every term added to it (PRML §5.5).

.. math:: \widetilde{E}(\mathbf{w}) = \beta E_D(\mathbf{w}) + \Omega_\text{prior}(\mathbf{w})
          + \sum_r \Omega_r(\mathbf{w})

with :math:`E_D` the network's error **summed over patterns** (5.11, 5.24), β the
noise precision (1 by default, giving the book's plain error), the prior's
:math:`\Omega_\text{prior}` — for a Gaussian prior :math:`E_W = \sum_k
\frac{\alpha_k}{2}\|\mathbf{w}_k\|^2`, simple weight decay (5.112) with one α, the
consistent priors of §5.5.1 with one per layer — and any further regularizers.
Priors and regularizers enter through one door, the :class:`~prmlnet.priors.Term`
interface (:mod:`prmlnet.priors`). The data term and the prior term stay separately
available for the evidence framework (§5.7.2).

Sums over patterns are computed in chunks of at most ``chunk_size`` patterns,
so memory does not grow with N, and the chunks' partial sums are added — the
same reduction a distributed objective would do. Terms that are sums over
patterns themselves (``Term.per_pattern``) are evaluated chunk by chunk beside
the data term; one of them may share the data term's forward and backward pass
(an optional method ``value_and_gradient_with_data(w, batch, beta)`` returning
β E_D + Ω and its gradient on the batch, as tangent propagation does).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .priors import Batch, GaussianPrior, Term, as_prior

__all__ = ["Objective", "default_chunk_size"]


def default_chunk_size(net) -> int:
    """Patterns per chunk: about 16,384 activations of the widest layer (128 KiB in
    float64, so a chunk's activations stay in cache), between 128 and 4096.

    Measured on one core: a 10-50-3 network is ~2.5× faster per pattern with
    chunks of 256 than with one chunk of 32,768; a 2-10-1 network is fastest
    near 2000 (Python overhead per chunk dominates small layers).
    """
    return int(min(4096, max(128, 16384 // max(net.sizes))))


class Objective:
    r"""E(w) = β E_D(w) + Ω_prior(w) + Σ_r Ω_r(w) for a network and a data set.

    Parameters
    ----------
    net : Network
    X : array of shape (N, D)
    T : array of shape (N, K)
        Checked once here; the evaluations use an unchecked fast path.
    prior : Term, float or dict, optional
        The prior over the weights: a :class:`~prmlnet.priors.GaussianPrior`
        (or any weight-only :class:`~prmlnet.priors.Term`), or shorthand turned into a
        Gaussian prior at once by :func:`~prmlnet.priors.as_prior` — a float α for
        every weight *and* bias (weight decay (5.112)), a dict ``{group name: α}``
        over ``net.weight_groups()`` names (``"W1"``, ``"b1"``, ``"W2"``, ...) with
        the groups not named unpenalised (the consistent priors of §5.5.1).
    alpha : float or dict, optional
        The same shorthand under the name the book uses; give ``prior`` or
        ``alpha``, not both.
    beta : float, default 1.0
        Multiplies the data term (the noise precision of §5.7).
    terms : sequence of Term, optional
        Further regularizers added to the error (for example tangent
        propagation, §5.5.4), each weighted as it defines itself.
    chunk_size : int, optional
        Patterns per chunk; default :func:`default_chunk_size`.

    Attributes
    ----------
    net, X, T, beta, prior, terms, chunk_size, n_patterns
    alpha_vector : ndarray of shape (W,)
        The α of each weight, for a Gaussian prior (zeros without a prior).

    Notes
    -----
    Calling the objective returns ``(E, ∇E)`` from one forward and one backward
    pass per chunk:

    .. math:: \nabla \widetilde{E} = \beta \sum_n \nabla E_n + \nabla\Omega_\text{prior}
              + \sum_r \nabla\Omega_r

    Examples
    --------
    >>> import numpy as np, prmlnet
    >>> net = prmlnet.Network((1, 3, 1))
    >>> X = np.linspace(-1, 1, 20)[:, None]; T = X ** 2
    >>> obj = Objective(net, X, T, alpha=0.01)
    >>> obj.prior
    GaussianPrior({w: 0.01 (10)}, W=10)
    >>> E, g = obj(net.init_weights(0))
    >>> g.shape
    (10,)
    """

    def __init__(self, net, X, T, prior=None, *, alpha=None, beta=1.0, terms=(),
                 chunk_size=None):
        X = net.check_inputs(X)
        T = net.check_targets(T, X.shape[0])
        if prior is not None and alpha is not None:
            raise ValueError("give the prior as prior= or its precision as alpha=, not both")
        prior = as_prior(net, alpha if prior is None else prior)
        if prior is not None and prior.per_pattern:
            raise ValueError("the prior must be a term over the weights alone; pass a "
                             "per-pattern term in terms=")
        terms = tuple(terms)
        for t in terms:
            if not isinstance(t, Term):
                raise ValueError(f"terms must be prmlnet.priors.Term objects; got "
                                 f"{type(t).__name__}")
        if not (isinstance(beta, Real) and not isinstance(beta, bool) and beta > 0
                and math.isfinite(beta)):
            raise ValueError(f"beta must be a finite number > 0; got {beta!r}")
        if chunk_size is None:
            chunk_size = default_chunk_size(net)
        if (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
                or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
        self.net = net
        self.X = X
        self.T = T
        self.prior = prior
        self.terms = terms
        self.beta = float(beta)
        self.chunk_size = int(chunk_size)
        self.n_patterns = X.shape[0]
        self._chunks = self._split(self.n_patterns)
        self._pattern_terms = tuple(t for t in terms if t.per_pattern)
        # A per-pattern term may evaluate the data term with itself from one shared
        # forward and backward pass (value_and_gradient_with_data); the first such
        # term does, the others are evaluated on their own.
        shared = [t for t in self._pattern_terms if hasattr(t, "value_and_gradient_with_data")]
        self._fused_term = shared[0] if shared else None
        self._unfused_terms = tuple(t for t in self._pattern_terms if t is not self._fused_term)
        self._weight_terms = ((prior,) if prior is not None else ()) + tuple(
            t for t in terms if not t.per_pattern)
        # Fast path: one α for every weight and nothing else (the common weight decay).
        self._alpha_scalar = None
        if prior is None and not terms:
            self._alpha_scalar = 0.0
        elif (not terms and isinstance(prior, GaussianPrior)
              and prior.n_penalised == net.n_weights and len(set(prior.alpha.values())) == 1):
            self._alpha_scalar = next(iter(prior.alpha.values()))

    def __repr__(self):
        extra = f", terms={list(self.terms)!r}" if self.terms else ""
        return (f"Objective({self.net!r}, N={self.n_patterns}, prior={self.prior!r}, "
                f"beta={self.beta:g}{extra}, chunk_size={self.chunk_size})")

    @property
    def alpha_vector(self):
        if self.prior is None:
            return np.zeros(self.net.n_weights)
        if not isinstance(self.prior, GaussianPrior):
            raise ValueError(f"alpha_vector needs a Gaussian prior; this objective has "
                             f"{type(self.prior).__name__}")
        return self.prior.alpha_vector

    def _split(self, n):
        return [slice(s, min(s + self.chunk_size, n)) for s in range(0, n, self.chunk_size)]

    # -- checks -----------------------------------------------------------------------
    def _w(self, w):
        """Check ``w``: a vector of length W (converted to the network's dtype), finite."""
        return self.net.check_weights(w)

    # -- the data term and the per-pattern terms ------------------------------------------
    def _data(self, w, X, T, chunks, rows=None):
        """β E_D plus the per-pattern terms, and the gradient, summed over ``chunks``.

        ``rows`` maps positions in (X, T) to rows of the objective's data (None:
        (X, T) are the objective's data themselves).
        """
        net, beta = self.net, self.beta
        if len(chunks) == 1 and not self._pattern_terms:
            E, g = net._error_and_gradient(w, X, T)
            if beta != 1.0:
                E = beta * E
                g *= beta
            return E, g
        E, g = 0.0, np.zeros(net.n_weights, dtype=net.dtype)
        buf = np.empty(net.n_weights, dtype=net.dtype)
        fused, others = self._fused_term, self._unfused_terms
        for s in chunks:
            batch = Batch(X[s], T[s], s if rows is None else rows[s])
            if fused is not None:          # the data term and this term share their passes
                Ec, gc = fused.value_and_gradient_with_data(w, batch, beta)
                E += Ec
                g += gc
            else:
                Ec, gc = net._error_and_gradient(w, X[s], T[s], out=buf)
                E += beta * Ec
                g += beta * gc if beta != 1.0 else gc
            for term in others:
                Et, gt = term.value_and_gradient(w, batch)
                E += Et
                g += gt
        return E, g

    def __call__(self, w):
        """``(E(w), ∇E(w))``: one forward and one backward pass per chunk."""
        w = self._w(w)
        E, g = self._data(w, self.X, self.T, self._chunks)
        return self._combine(w, E, g, 1.0)

    def _combine(self, w, E, g, share):
        """E + share·(weight-only terms) and its gradient; ``g`` is a fresh array, updated in place."""
        a = self._alpha_scalar
        if a == 0.0:
            return float(E), g
        if a is not None:
            aw = (share * a) * w
            g += aw
            return float(E) + 0.5 * float(aw @ w), g
        E = float(E)
        for term in self._weight_terms:
            Et, gt = term.value_and_gradient(w)
            if share != 1.0:
                Et, gt = share * Et, share * gt
            E += Et
            g += gt
        return E, g

    def minibatch(self, w, Xb, Tb, rows=None):
        r"""``(E_b, ∇E_b)`` for a batch, with the share |b|/N of the weight-only terms.

        .. math:: E_b(\mathbf{w}) = \beta E_{D,b}(\mathbf{w}) + \Omega_{r,b}(\mathbf{w})
                  + \frac{|b|}{N} \Omega_\text{prior}(\mathbf{w})

        so the batch errors of an epoch add up to E(w). ``Xb, Tb`` are trusted
        to be rows of this objective's data (no checks: the fast path of
        :func:`~prmlnet.optim.online.train_online`); ``rows``, their indices into
        the data, is needed by per-pattern terms that hold arrays of their own
        (train_online passes it).
        """
        w = self._w(w)
        n = Xb.shape[0]
        if rows is None and self._pattern_terms:
            raise ValueError("this objective has per-pattern terms; minibatch needs the "
                             "batch's row indices (rows=)")
        rows = None if rows is None else np.arange(self.n_patterns)[rows]
        E, g = self._data(w, Xb, Tb, self._split(n), rows=rows)
        return self._combine(w, E, g, n / self.n_patterns)

    def error(self, w) -> float:
        """E(w)."""
        return self(w)[0]

    def gradient(self, w):
        """∇E(w), shape (W,)."""
        return self(w)[1]

    def data_error(self, w) -> float:
        """E_D(w), the network error summed over patterns, not multiplied by β."""
        w = self._w(w)
        net = self.net
        total = 0.0
        for s in self._chunks:
            c = net._forward(w, self.X[s])
            total += float(net.output.error(c.a[-1], c.y, self.T[s]))
        return total

    def prior_error(self, w) -> float:
        r"""The prior's term, :math:`E_W(\mathbf{w}) = \sum_k \frac{\alpha_k}{2}\|\mathbf{w}_k\|^2`
        for a Gaussian prior; 0 without a prior."""
        w = self._w(w)
        return 0.0 if self.prior is None else float(self.prior.value_and_gradient(w)[0])

    def prior_terms(self, w) -> dict:
        r"""``{group: ½ ‖w_g‖²}`` over the Gaussian prior's groups (without α: the
        quantities the evidence framework re-estimates α_g from)."""
        if not isinstance(self.prior, GaussianPrior):
            raise ValueError("prior_terms needs a Gaussian prior")
        return self.prior.group_energies(self._w(w))

    # -- curvature (prmlnet.hessian, imported on first use) -------------------------------
    def _sum_chunks(self, fn, w, *extra):
        total = None
        for s in self._chunks:
            part = fn(self.net, w, self.X[s], self.T[s], *extra)
            total = part if total is None else total + part
        return self.beta * total

    def _term_curvature(self, w, method, *extra):
        """``method`` (``"hvp"`` or ``"hessian"``) of every term, per-pattern ones by chunks."""
        parts = [getattr(t, method)(w, *extra) for t in self._weight_terms]
        for s in self._chunks:
            batch = Batch(self.X[s], self.T[s], s)
            parts += [getattr(t, method)(w, *extra, batch) for t in self._pattern_terms]
        return parts

    def _whole_matrix(self, fn, w):
        # A (W, W) matrix: prmlnet.hessian splits the patterns into chunks itself,
        # so one call over all of them avoids adding W×W partial sums.
        w = self._w(w)
        H = fn(self.net, w, self.X, self.T)
        if self.beta != 1.0:
            H *= self.beta
        for part in self._term_curvature(w, "hessian"):
            if np.ndim(part) == 1:
                H[np.diag_indices_from(H)] += part
            else:
                H += part
        return H

    def hvp(self, w, v):
        r"""H v with H the Hessian of the whole objective: β ∇∇E_D by the R-operator
        (§5.4.6), chunk by chunk, plus each term's.

        ``v`` is one direction (W,) or R directions as rows (R, W); the data term
        pushes all R through one pass per chunk (:func:`prmlnet.hessian.hvp`), the
        terms take them one by one. Returns the shape of ``v``.
        """
        from . import hessian

        w = self._w(w)
        v = np.asarray(v, dtype=self.net.dtype)
        W = self.net.n_weights
        if v.shape != (W,) and not (v.ndim == 2 and v.shape[1] == W):
            raise ValueError(f"v has shape {v.shape}; it must be ({W},) or (R, {W})")
        Hv = self._sum_chunks(hessian.hvp, w, v)
        for vr, out in ([(v, Hv)] if v.ndim == 1 else zip(v, Hv)):
            for part in self._term_curvature(w, "hvp", vr):
                out += part
        return Hv

    def hessian(self, w):
        """The exact Hessian of the objective (data term §5.4.5, plus each term's), (W, W)."""
        from . import hessian

        return self._whole_matrix(hessian.exact, w)

    def outer_product(self, w):
        """The outer-product approximation of the data term β Σ_n b_n b_nᵀ (5.84, 5.85),
        plus each term's Hessian."""
        from . import hessian

        return self._whole_matrix(hessian.outer_product, w)

    def diagonal(self, w):
        """The diagonal approximation of the data term's Hessian (§5.4.1), plus the
        diagonal of each term's."""
        from . import hessian

        w = self._w(w)
        d = self._sum_chunks(hessian.diagonal, w)
        for part in self._term_curvature(w, "hessian"):
            d += part if np.ndim(part) == 1 else np.diagonal(part)
        return d
