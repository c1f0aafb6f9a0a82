r"""The training objective: data term plus prior term (PRML §5.5.1, (5.112)).

.. math:: E(\mathbf{w}) = \beta E_D(\mathbf{w}) + \sum_i \frac{\alpha_i}{2} w_i^2

with :math:`E_D` the network's error **summed over patterns** (5.11, 5.24), β the
noise precision (1 by default, giving the book's plain error) and :math:`\alpha_i`
the prior precision of weight i: one α for every weight and bias (simple weight
decay, (5.112)), or one α per named group of weights (the consistent priors of
§5.5.1, biases usually unpenalised). The data term and the prior term stay
separately available for the evidence framework (§5.7.2).

Sums over patterns are computed in chunks of at most ``chunk_size`` patterns,
so memory does not grow with N, and the chunks' partial sums are added — the
same reduction a distributed objective would do.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

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
    r"""E(w) = β E_D(w) + ½ Σ_i α_i w_i² for a network and a data set.

    Parameters
    ----------
    net : Network
    X : array of shape (N, D)
    T : array of shape (N, K)
        Checked once here; the evaluations use an unchecked fast path.
    alpha : float or dict, default 0.0
        A float: the same α for every weight *and* bias (weight decay (5.112)).
        A dict ``{group name: α}`` over ``net.weight_groups()`` names (``"W1"``,
        ``"b1"``, ``"W2"``, ...): groups not named are unpenalised (the
        consistent priors of §5.5.1).
    beta : float, default 1.0
        Multiplies the data term (the noise precision of §5.7).
    chunk_size : int, optional
        Patterns per chunk; default :func:`default_chunk_size`.

    Attributes
    ----------
    net, X, T, beta, alpha, chunk_size
    alpha_vector : ndarray of shape (W,)
        The α of each weight.
    groups : dict
        ``name -> index array`` from ``net.weight_groups()``.
    n_patterns : int

    Notes
    -----
    Calling the objective returns ``(E, ∇E)`` from one forward and one backward
    pass per chunk:

    .. math:: \nabla E = \beta \sum_n \nabla E_n + \boldsymbol{\alpha} \odot \mathbf{w}

    Examples
    --------
    >>> import numpy as np, prmlnet
    >>> net = prmlnet.Network((1, 3, 1))
    >>> X = np.linspace(-1, 1, 20)[:, None]; T = X ** 2
    >>> obj = Objective(net, X, T, alpha=0.01)
    >>> E, g = obj(net.init_weights(0))
    >>> g.shape
    (10,)
    """

    def __init__(self, net, X, T, alpha=0.0, beta=1.0, chunk_size=None):
        X = net.check_inputs(X)
        T = net.check_targets(T, X.shape[0])
        groups = net.weight_groups()
        W = net.n_weights
        if isinstance(alpha, dict):
            unknown = sorted(set(alpha) - set(groups))
            if unknown:
                raise ValueError(f"alpha names unknown weight groups {unknown}; "
                                 f"this network's groups are {list(groups)}")
            alpha_vector = np.zeros(W)
            for name, a in alpha.items():
                _check_nonneg(f"alpha[{name!r}]", a)
                alpha_vector[groups[name]] = float(a)
            self._alpha_scalar = None
        elif isinstance(alpha, Real):
            _check_nonneg("alpha", alpha)
            alpha_vector = np.full(W, float(alpha))
            self._alpha_scalar = float(alpha)
        else:
            raise ValueError(f"alpha must be a float >= 0 or a dict {{group: alpha}} over "
                             f"{list(groups)}; got {type(alpha).__name__}")
        if not (isinstance(beta, Real) and beta > 0 and math.isfinite(beta)):
            raise ValueError(f"beta must be a finite number > 0; got {beta!r}")
        if chunk_size is None:
            chunk_size = default_chunk_size(net)
        if int(chunk_size) != chunk_size or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
        self.net = net
        self.X = X
        self.T = T
        self.alpha = alpha
        self.beta = float(beta)
        self.alpha_vector = alpha_vector
        self.alpha_vector.setflags(write=False)
        self.groups = groups
        self.chunk_size = int(chunk_size)
        self.n_patterns = X.shape[0]
        self._chunks = [slice(s, min(s + self.chunk_size, self.n_patterns))
                        for s in range(0, self.n_patterns, self.chunk_size)]

    def __repr__(self):
        return (f"Objective({self.net!r}, N={self.n_patterns}, alpha={self.alpha!r}, "
                f"beta={self.beta:g}, chunk_size={self.chunk_size})")

    # -- checks -----------------------------------------------------------------------
    def _w(self, w):
        """Check ``w``: a vector of length W (converted to the network's dtype), finite."""
        return self.net.check_weights(w)

    # -- data term ----------------------------------------------------------------------
    def _data(self, w, X, T, chunks):
        """Unweighted E_D and its gradient summed over ``chunks`` of (X, T)."""
        net = self.net
        if len(chunks) == 1:
            s = chunks[0]
            return net._error_and_gradient(w, X[s], T[s])
        E, g = 0.0, np.zeros(net.n_weights, dtype=net.dtype)
        buf = np.empty(net.n_weights, dtype=net.dtype)
        for s in chunks:
            Ec, gc = net._error_and_gradient(w, X[s], T[s], out=buf)
            E += Ec
            g += gc
        return E, g

    def __call__(self, w):
        """``(E(w), ∇E(w))``: one forward and one backward pass per chunk."""
        w = self._w(w)
        ED, gD = self._data(w, self.X, self.T, self._chunks)
        return self._combine(w, ED, gD, 1.0)

    def _combine(self, w, ED, gD, share):
        """β E_D + share·E_W and its gradient; ``gD`` is a fresh array, updated in place."""
        beta = self.beta
        if beta != 1.0:
            ED = beta * ED
            gD *= beta
        a = self._alpha_scalar
        if a == 0.0:
            return float(ED), gD
        if a is None:
            aw = self.alpha_vector * w
            if share != 1.0:
                aw *= share
        else:
            aw = (share * a) * w
        gD += aw
        return float(ED) + 0.5 * float(aw @ w), gD

    def minibatch(self, w, Xb, Tb):
        r"""``(E_b, ∇E_b)`` for a batch, with the share |b|/N of the prior.

        .. math:: E_b(\mathbf{w}) = \beta E_{D,b}(\mathbf{w}) + \frac{|b|}{N} E_W(\mathbf{w})

        so the batch errors of an epoch add up to E(w). ``Xb, Tb`` are trusted
        to be rows of this objective's data (no checks: the fast path of
        :func:`~prmlnet.optim.online.train_online`).
        """
        w = self._w(w)
        n = Xb.shape[0]
        chunks = [slice(s, min(s + self.chunk_size, n)) for s in range(0, n, self.chunk_size)]
        ED, gD = self._data(w, Xb, Tb, chunks)
        return self._combine(w, ED, gD, n / self.n_patterns)

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
        r"""E_W(w) = ½ Σ_i α_i w_i²."""
        w = self._w(w)
        return 0.5 * float(self.alpha_vector @ (w * w))

    def prior_terms(self, w) -> dict:
        r"""``{group: ½ ‖w_g‖²}`` for every group of ``net.weight_groups()``
        (without α: the quantities the evidence framework re-estimates α_g from)."""
        w = self._w(w)
        return {name: 0.5 * float(w[idx] @ w[idx]) for name, idx in self.groups.items()}

    # -- curvature (prmlnet.hessian, imported on first use) -------------------------------
    def _sum_chunks(self, fn, w, *extra):
        w = self._w(w)
        total = None
        for s in self._chunks:
            part = fn(self.net, w, self.X[s], self.T[s], *extra)
            total = part if total is None else total + part
        return w, self.beta * total

    def _whole_matrix(self, fn, w):
        # A (W, W) matrix: prmlnet.hessian splits the patterns into chunks itself,
        # so one call over all of them avoids adding W×W partial sums.
        H = fn(self.net, self._w(w), self.X, self.T)
        if self.beta != 1.0:
            H *= self.beta
        H[np.diag_indices_from(H)] += self.alpha_vector
        return H

    def hvp(self, w, v):
        r"""H v with H = β ∇∇E_D + diag(α), by the R-operator (§5.4.6), chunk by chunk."""
        from . import hessian

        v = np.asarray(v, dtype=self.net.dtype)
        if v.shape != (self.net.n_weights,):
            raise ValueError(f"v has shape {v.shape}; it must be ({self.net.n_weights},)")
        w, Hv = self._sum_chunks(hessian.hvp, w, v)
        return Hv + self.alpha_vector * v

    def hessian(self, w):
        """The exact Hessian β ∇∇E_D + diag(α), shape (W, W) (§5.4.5)."""
        from . import hessian

        return self._whole_matrix(hessian.exact, w)

    def outer_product(self, w):
        """The outer-product approximation β Σ_n b_n b_nᵀ + diag(α) (5.84, 5.85)."""
        from . import hessian

        return self._whole_matrix(hessian.outer_product, w)

    def diagonal(self, w):
        """The diagonal approximation of the Hessian (§5.4.1), plus α."""
        from . import hessian

        w, d = self._sum_chunks(hessian.diagonal, w)
        return d + self.alpha_vector


def _check_nonneg(name, a):
    if not (isinstance(a, Real) and a >= 0 and math.isfinite(a)):
        raise ValueError(f"{name} must be a finite number >= 0; got {a!r}")
