r"""Mixture density networks (PRML §5.6): a whole conditional density p(t|x).

A least-squares network predicts the conditional mean of t, which is useless
when the target is multi-valued (an inverse problem: the robot arm of Figure
5.18, the toy problem of Figure 5.19). A *mixture density network* lets the
network outputs be the parameters of a Gaussian mixture

.. math:: p(\mathbf{t}|\mathbf{x}) = \sum_{k=1}^{L} \pi_k(\mathbf{x})
          \,\mathcal{N}\big(\mathbf{t}\,|\,\boldsymbol\mu_k(\mathbf{x}),
          \sigma_k^2(\mathbf{x}) \mathbf{I}\big)  \quad (5.148)

with L isotropic components over K-dimensional targets.

**Notation.** The book's (5.148)–(5.157) write K for the number of components
(index k) and L for the dimension of t (index l, as in :math:`a^\mu_{kl}`). The
code and the formulas in this module use the letters the other way round — L
components, K target dimensions, ``MixtureDensity(n_components=L, n_targets=K)``
— so that K counts targets as everywhere else in the package; the index k still
runs over components. The tour and the equation index use the book's letters.

Here it is one more
:class:`~prmlnet.outputs.OutputModel`: the network is
``Network((D, M, L*(K+2)), output=MixtureDensity(L, K))`` and backpropagation,
the R-operator (H·v, the exact Hessian) and the optimizers are reused unchanged.

Layout of the L(K+2) output pre-activations of one pattern::

    a[:L]        a^π_k   mixing coefficients   π = softmax(a^π)          (5.150)
    a[L:2L]      a^σ_k   widths                σ_k = exp(a^σ_k)          (5.151)
    a[2L:]       a^μ_kj  means, component-major, μ_kj = a^μ_kj          (5.152)
                         a[2L + k*K + j] is the j-th coordinate of μ_k

The network's "outputs" ``y = output(a)`` are the mixture parameters packed the
same way: ``[π, σ, μ]``. :meth:`MixtureDensity.mixture` unpacks them into a
:class:`Mixture`, whose methods are the predictions: density, mean, variance,
mode and samples.

Errors are **sums over patterns** of the negative log-likelihood (5.153),
evaluated in log space (log-sum-exp), never as the log of a sum of densities.

**Variance collapse.** The likelihood of a mixture is unbounded: a component
that sits on one training point and shrinks its width sends the likelihood to
infinity (§9.2.1). The guard here is a *soft floor on the variance*,

.. math:: \sigma_k^2 = e^{2 a^\sigma_k} + \sigma_\text{min}^2,

``min_width`` = σ_min, in target units (default 1e-3, meant for standardised
targets). It bounds every component density by :math:`(2\pi\sigma_\text{min}^2)^{-K/2}`,
hence bounds the likelihood, and is smooth, so the R-operator and Hessians stay
exact. ``min_width=0`` gives the book's plain form σ_k = exp(a^σ_k) exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .mixture import Mixture
from .outputs import OutputModel, register_output
from ._rng import as_rng

__all__ = ["MixtureDensity", "Mixture", "predict_mixture", "init_weights"]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _rowsum(x):
    """Sum over the last axis, keeping it. For the few mixture components of an
    MDN a loop over columns is several times faster than ``np.sum(axis=-1)``,
    whose per-row reduction overhead dominates on short rows."""
    if x.shape[-1] > 16:
        return np.sum(x, axis=-1, keepdims=True)
    out = x[..., :1].copy()
    for k in range(1, x.shape[-1]):
        out += x[..., k:k + 1]
    return out


def _rowmax(x):
    """Maximum over the last axis, keeping it (column loop, as :func:`_rowsum`)."""
    if x.shape[-1] > 16:
        return np.max(x, axis=-1, keepdims=True)
    out = x[..., :1].copy()
    for k in range(1, x.shape[-1]):
        np.maximum(out, x[..., k:k + 1], out=out)
    return out


def _logsumexp(x, keepdims=False):
    r""":math:`\ln \sum_i e^{x_i}` over the last axis, shifted by the maximum so
    nothing overflows; ``-inf`` where every term is ``-inf``.

    Same values as ``scipy.special.logsumexp`` (the tests pin it), several
    times faster on the short rows of an MDN.
    """
    m = _rowmax(x)
    m[~np.isfinite(m)] = 0.0
    with np.errstate(divide="ignore"):
        out = np.log(_rowsum(np.exp(x - m))) + m
    return out if keepdims else out[..., 0]


class _Terms(NamedTuple):
    """Per-pattern quantities shared by the error, the deltas and the R-operator.

    Shapes: ``pi, rho, q, log_v, gamma, ell`` are (N, L); ``diff`` = μ - t is
    (N, L, K); ``lse`` = ln p(t_n|x_n) is (N,).
    """

    pi: np.ndarray
    log_v: np.ndarray     # ln σ_k²
    inv_v: np.ndarray     # 1 / σ_k²
    rho: np.ndarray       # ∂ ln σ_k² / ∂(2 a^σ_k) = e^{2a^σ} / σ_k²  (1 when min_width = 0)
    diff: np.ndarray      # μ_k - t
    q: np.ndarray         # ‖t - μ_k‖² / σ_k²
    ell: np.ndarray       # ln π_k + ln N(t | μ_k, σ_k² I)
    lse: np.ndarray       # ln Σ_k π_k N(t | μ_k, σ_k² I)
    gamma: np.ndarray     # responsibilities (5.154)


class MixtureDensity(OutputModel):
    r"""Gaussian-mixture output model of a mixture density network (§5.6).

    Parameters
    ----------
    n_components : int
        L, the number of mixture components.
    n_targets : int, default 1
        K, the dimension of the target vector t.
    min_width : float, default 1e-3
        σ_min of the soft variance floor :math:`\sigma_k^2 = e^{2a^\sigma_k} +
        \sigma_\text{min}^2` (module docstring), in target units. ``0`` gives the
        book's form :math:`\sigma_k = e^{a^\sigma_k}` (5.151), whose likelihood is
        unbounded as a width collapses onto one point.

    Notes
    -----
    With :math:`\ell_{nk} = \ln\pi_k + \ln\mathcal{N}(\mathbf{t}_n|\boldsymbol\mu_k,\sigma_k^2\mathbf{I})`,

    .. math::
        E = -\sum_n \ln \sum_k e^{\ell_{nk}}  \quad (5.153), \qquad
        \gamma_{nk} = \frac{e^{\ell_{nk}}}{\sum_j e^{\ell_{nj}}}  \quad (5.154)

    and the output deltas (here :math:`\rho_k = e^{2a^\sigma_k}/\sigma_k^2`, which
    is 1 for ``min_width=0``, giving the book's forms exactly)

    .. math::
        \frac{\partial E_n}{\partial a^\pi_k} = \pi_k - \gamma_k  \quad (5.155), \qquad
        \frac{\partial E_n}{\partial a^\mu_{kj}} = \gamma_k \frac{\mu_{kj} - t_j}{\sigma_k^2}  \quad (5.156),

    .. math::
        \frac{\partial E_n}{\partial a^\sigma_k} = \gamma_k \rho_k
        \Big(K - \frac{\|\mathbf{t} - \boldsymbol\mu_k\|^2}{\sigma_k^2}\Big)  \quad (5.157).

    :meth:`r_delta` is the R-operator of these deltas (§5.4.6), so H·v and the
    exact Hessian of an MDN come from the network's R-passes unchanged.
    """

    name = "mdn"

    def __init__(self, n_components: int, n_targets: int = 1, min_width: float = 1e-3):
        L, K = n_components, n_targets
        for label, v in (("n_components", L), ("n_targets", K)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{label} must be an integer >= 1; got {v!r}")
        try:
            m = float(min_width)
        except (TypeError, ValueError):
            raise ValueError(f"min_width must be a number >= 0; got {min_width!r}") from None
        if not (m >= 0.0 and np.isfinite(m)):
            raise ValueError(f"min_width must be a finite number >= 0; got {min_width!r} "
                             "(0 gives the book's unguarded widths)")
        self.L, self.K, self.min_width = int(L), int(K), m

    # -- bookkeeping ------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self.L

    @property
    def n_outputs(self) -> int:
        """L(K + 2): the number of network outputs this model needs."""
        return self.L * (self.K + 2)

    def n_targets(self, n_outputs: int) -> int:
        if n_outputs != self.n_outputs:
            raise ValueError(
                f"{self!r} needs a network with L*(K+2) = {self.n_outputs} outputs; "
                f"the network has {n_outputs}; build it as Network((D, M, {self.n_outputs}), ...)"
            )
        return self.K

    def config(self) -> dict:
        return {"name": self.name, "n_components": self.L, "n_targets": self.K,
                "min_width": self.min_width}

    def __repr__(self):
        return f"MixtureDensity({self.L}, {self.K}, min_width={self.min_width:g})"

    def __eq__(self, other):
        return (type(other) is type(self)
                and (self.L, self.K, self.min_width) == (other.L, other.K, other.min_width))

    def __hash__(self):
        return hash((type(self), self.L, self.K, self.min_width))

    def split(self, a):
        r"""Views ``(a^π, a^σ, a^μ)`` of pre-activations (or outputs) ``(..., L(K+2))``:
        shapes (..., L), (..., L) and (..., L, K)."""
        L, K = self.L, self.K
        return a[..., :L], a[..., L:2 * L], a[..., 2 * L:].reshape(a.shape[:-1] + (L, K))

    def _widths(self, s):
        """``(ln σ², 1/σ², ρ)`` from a^σ, with ρ = e^{2a^σ}/σ² (1 when min_width = 0)."""
        if self.min_width == 0.0:
            with np.errstate(over="ignore"):
                return 2.0 * s, np.exp(-2.0 * s), np.ones_like(s)
        with np.errstate(over="ignore"):
            e = np.exp(2.0 * s)
        v = e + self.min_width ** 2
        log_v, inv_v = np.log(v), 1.0 / v
        with np.errstate(invalid="ignore"):
            rho = e * inv_v
        huge = ~np.isfinite(v)                       # a^σ > 354: σ² = e^{2a^σ} exactly
        if huge.any():
            log_v[huge], inv_v[huge], rho[huge] = 2.0 * s[huge], 0.0, 1.0
        return log_v, inv_v, rho

    # -- the output activations (5.150–5.152) -----------------------------------
    def output(self, a):
        """Mixture parameters ``[π, σ, μ]`` packed like ``a``, shape (N, L(K+2))."""
        ap, s, _ = self.split(a)
        y = np.array(a, copy=True)
        y[..., :self.L] = np.exp(ap - _logsumexp(ap, keepdims=True))  # (5.150)
        with np.errstate(over="ignore"):
            y[..., self.L:2 * self.L] = (np.exp(s) if self.min_width == 0.0 else   # (5.151)
                                         np.sqrt(np.exp(2.0 * s) + self.min_width ** 2))
        return y                                                        # μ = a^μ (5.152)

    def mixture(self, y) -> "Mixture":
        """The :class:`Mixture` described by outputs ``y = output(a)``."""
        pi, sigma, mu = self.split(np.asarray(y))
        return Mixture(pi.copy(), sigma.copy(), mu.copy())

    def output_jacobian(self, a, y):
        r""":math:`\partial y_n / \partial a_n`, shape (N, P, P), P = L(K+2):
        the softmax block, :math:`\partial\sigma_k/\partial a^\sigma_k = \rho_k\sigma_k`,
        and the identity on the means."""
        L = self.L
        N, P = a.shape
        pi, sigma, _ = self.split(y)
        rho = np.exp(2.0 * self.split(a)[1] - 2.0 * np.log(sigma))
        J = np.zeros((N, P, P), dtype=a.dtype)
        J[:, :L, :L] = -pi[:, :, None] * pi[:, None, :]
        i = np.arange(L)
        J[:, i, i] += pi
        J[:, L + i, L + i] = rho * sigma
        j = np.arange(2 * L, P)
        J[:, j, j] = 1.0
        return J

    # -- the error (5.153) and responsibilities (5.154) --------------------------
    def check_targets(self, T):
        if T.ndim != 2 or T.shape[1] != self.K:
            raise ValueError(f"{self!r} needs targets of shape (N, {self.K}); got {T.shape}")

    def _terms(self, a, T) -> _Terms:
        ap, s, mu = self.split(a)
        log_pi = ap - _logsumexp(ap, keepdims=True)
        log_v, inv_v, rho = self._widths(s)
        diff = mu - T[:, None, :]                                   # μ_k - t, (N, L, K)
        with np.errstate(over="ignore", invalid="ignore"):
            q = np.einsum("nlk,nlk->nl", diff, diff) * inv_v        # ‖t - μ_k‖² / σ_k²
            ell = log_pi - 0.5 * self.K * (_LOG_2PI + log_v) - 0.5 * q
        bad = np.isnan(ell)                                         # 0·∞ from an underflowed σ
        if bad.any():
            ell[bad] = -np.inf
        lse = _logsumexp(ell)                                       # ln p(t_n | x_n)
        with np.errstate(invalid="ignore"):
            gamma = np.exp(ell - lse[:, None])                      # (5.154)
        bad = ~np.isfinite(gamma)
        if bad.any():
            gamma[bad] = 0.0
        return _Terms(np.exp(log_pi), log_v, inv_v, rho, diff, q, ell, lse, gamma)

    def error(self, a, y, T):
        r""":math:`E = -\sum_n \ln \sum_k \pi_k \mathcal{N}(\mathbf{t}_n|\boldsymbol\mu_k,
        \sigma_k^2\mathbf{I})` (5.153), by log-sum-exp; a float (``inf`` only if
        every component's density underflows for some pattern)."""
        return -float(np.sum(self._terms(a, T).lse))

    def pattern_errors(self, a, y, T):
        r"""Per-pattern errors :math:`E_n = -\ln p(\mathbf{t}_n|\mathbf{x}_n)`, shape (N,)."""
        return -self._terms(a, T).lse

    def log_likelihood(self, a, T):
        """Per-pattern ln p(t_n | x_n), shape (N,)."""
        return self._terms(a, T).lse

    def responsibilities(self, a, T):
        r"""Posterior probabilities :math:`\gamma_{nk}` of the components (5.154), (N, L)."""
        return self._terms(a, T).gamma

    def _delta(self, t: _Terms):
        g = t.gamma
        d_pi = t.pi - g                                             # (5.155)
        with np.errstate(invalid="ignore", over="ignore"):
            d_s = np.where(g > 0, g * t.rho * (self.K - t.q), 0.0)  # (5.157)
            d_mu = np.where(g[..., None] > 0,
                            (g * t.inv_v)[..., None] * t.diff, 0.0)  # (5.156)
        N = d_pi.shape[0]
        return np.concatenate([d_pi, d_s, d_mu.reshape(N, -1)], axis=1)

    def delta(self, a, y, T):
        """∂E_n/∂a_n, shape (N, L(K+2)): (5.155)–(5.157)."""
        return self._delta(self._terms(a, T))

    def error_and_delta(self, a, y, T):
        t = self._terms(a, T)
        return -float(np.sum(t.lse)), self._delta(t)

    # -- second order: the R-operator (§5.4.6) ----------------------------------
    def r_delta(self, a, y, T, ra):
        r""":math:`\mathcal{R}\{\partial E_n/\partial \mathbf{a}_n\}` for directions ``ra``.

        Parameters
        ----------
        a, y : ndarray of shape (N, P), P = L(K+2)
        T : ndarray of shape (N, K)
        ra : ndarray of shape (N, P) or (R, N, P)
            :math:`\mathcal{R}\{\mathbf{a}\}`; a leading axis holds R directions.

        Returns
        -------
        ndarray of the shape of ``ra``: :math:`\nabla^2_{\mathbf{a}} E_n \cdot \mathcal{R}\{\mathbf{a}_n\}`.

        Notes
        -----
        With :math:`h_k = \rho_k(q_k - K)`, :math:`q_k = \|\mathbf{t}-\boldsymbol\mu_k\|^2/\sigma_k^2`,
        the directional derivatives of :math:`\ell_k` and :math:`\gamma_k` are

        .. math::
            \mathcal{R}\{\ell_k\} = \mathcal{R}\{\ln\pi_k\} + h_k\,\mathcal{R}\{a^\sigma_k\}
              - (\boldsymbol\mu_k - \mathbf{t})^\mathrm{T}\mathcal{R}\{\boldsymbol\mu_k\}/\sigma_k^2,
            \qquad
            \mathcal{R}\{\gamma_k\} = \gamma_k\big(\mathcal{R}\{\ell_k\} - \textstyle\sum_j \gamma_j
              \mathcal{R}\{\ell_j\}\big),

        and the deltas (5.155)–(5.157) are differentiated by the product rule.
        """
        t = self._terms(a, T)
        rp, rs, rmu = self.split(ra)
        pi, g, rho, iv = t.pi, t.gamma, t.rho, t.inv_v
        K = self.K
        with np.errstate(invalid="ignore", over="ignore"):
            h = np.where(g > 0, rho * (t.q - K), 0.0)
            q = np.where(g > 0, t.q, 0.0)
        r_logpi = rp - _rowsum(pi * rp)
        r_pi = pi * r_logpi
        d_dot_rmu = np.einsum("...nlk,nlk->...nl", rmu, t.diff)     # (μ_k - t)ᵀ R{μ_k}
        r_ell = r_logpi + h * rs - d_dot_rmu * iv
        r_gamma = g * (r_ell - _rowsum(g * r_ell))
        r_logv = 2.0 * rho * rs                                    # R{ln σ_k²}
        r_q = 2.0 * d_dot_rmu * iv - q * r_logv
        r_h = 2.0 * rho * (1.0 - rho) * (q - K) * rs + rho * r_q
        rd_pi = r_pi - r_gamma                                     # R{(5.155)}
        rd_s = -(r_gamma * h + g * r_h)                            # R{(5.157)}
        rd_mu = ((r_gamma * iv)[..., None] * t.diff                # R{(5.156)}
                 + (g * iv)[..., None] * (rmu - t.diff * r_logv[..., None]))
        return np.concatenate([rd_pi, rd_s, rd_mu.reshape(rd_mu.shape[:-2] + (-1,))], axis=-1)

    def curvature(self, a, y, T=None, psd=True):
        r"""The weights :math:`\mathbf{C}_n` of the outer-product approximation, (N, P, P).

        The per-pattern Hessians :math:`\partial^2 E_n/\partial \mathbf{a}_n^2`,
        which, unlike those of the canonical pairs, depend on the targets: ``T``
        is required. They are *not* positive semi-definite in general (a target
        between two components makes the error locally concave in a), so by
        default (``psd=True``) each block is projected onto the positive
        semi-definite cone — eigenvalues below zero set to zero — and the
        outer-product (generalised Gauss–Newton) approximation
        :math:`\mathbf{H} \approx \sum_n \mathbf{B}_n^\mathrm{T} \mathbf{C}_n \mathbf{B}_n`
        (§5.4.2) stays positive semi-definite, as it is for the canonical pairs.
        ``psd=False`` returns the exact blocks (the same as
        ``prmlnet.hessian.output_curvature``).
        """
        if T is None:
            raise ValueError("the MDN curvature depends on the targets: pass T, "
                             "as curvature(a, y, T)")
        N, P = a.shape
        eye = np.broadcast_to(np.eye(P, dtype=a.dtype)[:, None, :], (P, N, P))
        C = np.moveaxis(self.r_delta(a, y, T, eye), 0, 1)           # C[n, :, p] = H_n e_p
        C = 0.5 * (C + np.swapaxes(C, 1, 2))
        if psd:
            lam, U = np.linalg.eigh(C)
            C = np.einsum("npk,nk,nqk->npq", U, np.maximum(lam, 0.0), U)
        return C


register_output("mdn", lambda **kw: MixtureDensity(**kw))


def predict_mixture(net, w, X) -> Mixture:
    """The conditional densities p(t|x_n) of an MDN ``net`` with weights ``w``
    at inputs ``X`` (N, D), as a :class:`Mixture`."""
    if not isinstance(net.output, MixtureDensity):
        raise ValueError(f"predict_mixture needs a network with a MixtureDensity output; "
                         f"this one has {net.output!r}")
    return net.output.mixture(net.predict(w, X))


def init_weights(net, T, rng=None, scale=0.1, sample_weight=None):
    r"""Initial weights for an MDN that start the mixture where the targets are.

    The hidden layers are drawn as :meth:`Network.init_weights` does; the
    output layer's weights are shrunk by ``scale``, and its biases set so that
    at the start every input gets the same sensible mixture (Netlab's
    ``mdninit`` idea, with a few k-means steps instead of a full EM fit):
    equal mixing coefficients, means at L centres of the targets, and widths
    equal to the root-mean-square distance of the targets to their centre.

    Parameters
    ----------
    net : Network with a :class:`MixtureDensity` output
    T : ndarray of shape (N, K)   training targets
    rng : numpy Generator, int seed or None
    scale : float   factor on the output layer's initial weights
    sample_weight : ndarray (N,), optional
        Weights of the targets: the k-means centres and the widths are those of
        the targets repeated :math:`s_n` times (the first centres are drawn
        among the targets of non-zero weight).
    """
    md = net.output
    if not isinstance(md, MixtureDensity):
        raise ValueError(f"init_weights needs a network with a MixtureDensity output; "
                         f"this one has {md!r}")
    rng = as_rng(rng)
    T = np.asarray(T, dtype=float)
    if T.ndim != 2 or T.shape[1] != md.K or T.shape[0] < 1:
        raise ValueError(f"T must have shape (N, {md.K}) with N >= 1; got {T.shape}")
    s = None
    if sample_weight is not None:
        s = np.asarray(sample_weight, dtype=float)
        if s.shape != (T.shape[0],) or not (np.all(s >= 0) and s.sum() > 0):
            raise ValueError(f"sample_weight must be {T.shape[0]} weights >= 0, not all zero")
        T, s = T[s > 0], s[s > 0]

    def mean(A, rows=slice(None)):                  # (weighted) mean over the rows of A
        return A.mean(axis=0) if s is None else np.average(A, axis=0, weights=s[rows])
    w = net.init_weights(rng)
    W, b = net.unpack(w)[-1]
    W *= scale
    L = md.L
    centres = T[rng.choice(T.shape[0], L, replace=T.shape[0] < L)].copy()
    for _ in range(10):                                             # k-means (§9.1)
        d2 = np.sum((T[:, None, :] - centres[None]) ** 2, axis=-1)
        k = np.argmin(d2, axis=1)
        for j in range(L):
            if np.any(k == j):
                centres[j] = mean(T[k == j], k == j)
    d2 = np.min(np.sum((T[:, None, :] - centres[None]) ** 2, axis=-1), axis=1)
    # a floor on the widths relative to the targets' own spread (any units), never absolute
    sd = float(np.std(T)) if s is None else float(np.sqrt(mean((T - mean(T).mean()) ** 2).mean()))
    spread = sd or float(np.max(np.abs(T))) or 1.0
    floor = 1e-6 * spread
    sigma = max(np.sqrt(mean(d2) / md.K), 2.0 * md.min_width, floor)
    b_pi, b_s, b_mu = md.split(b)
    b_pi[...] = 0.0
    b_s[...] = 0.5 * np.log(max(sigma ** 2 - md.min_width ** 2, floor ** 2))
    b_mu[...] = centres
    return w
