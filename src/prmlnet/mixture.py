r"""Gaussian mixtures as predictions: the conditional density p(t|x) of a
mixture density network (PRML §5.6), its mean, variance, mode and samples.

A :class:`Mixture` holds, for N input patterns, the mixing coefficients π_k,
widths σ_k and means μ_k of L isotropic Gaussian components over K-dimensional
targets (5.148); :meth:`prmlnet.mdn.MixtureDensity.mixture` builds one from the
network outputs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

from ._rng import as_rng

__all__ = ["Mixture"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class Mixture(NamedTuple):
    r"""The conditional density p(t|x_n) of N input patterns: an isotropic
    Gaussian mixture per pattern.

    Attributes
    ----------
    pi : ndarray of shape (N, L)     mixing coefficients π_k(x)
    sigma : ndarray of shape (N, L)  widths σ_k(x) (standard deviations)
    mu : ndarray of shape (N, L, K)  means μ_k(x)
    """

    pi: np.ndarray
    sigma: np.ndarray
    mu: np.ndarray

    @property
    def n_targets(self) -> int:
        return self.mu.shape[-1]

    def _log_components(self, T):
        """ln π_k + ln N(t|μ_k, σ_k²I) for targets T of shape (N, G, K): (N, G, L)."""
        K = self.n_targets
        with np.errstate(divide="ignore"):
            log_pi = np.log(self.pi)
        log_v = 2.0 * np.log(self.sigma)
        d2 = np.sum((T[:, :, None, :] - self.mu[:, None, :, :]) ** 2, axis=-1)
        return (log_pi[:, None, :] - 0.5 * K * (_LOG_2PI + log_v[:, None, :])
                - 0.5 * d2 / self.sigma[:, None, :] ** 2)

    def _as_targets(self, T, name):
        T = np.asarray(T, dtype=float)
        K = self.n_targets
        if K == 1 and T.ndim == 1:
            T = T[:, None]
        if T.ndim != 2 or T.shape[1] != K:
            raise ValueError(f"{name} must have shape (·, {K}); got {T.shape}")
        return T

    def log_pdf(self, T):
        """ln p(t_n | x_n) for one target per pattern, T of shape (N, K): (N,)."""
        T = self._as_targets(T, "T")
        if T.shape[0] != self.pi.shape[0]:
            raise ValueError(f"T has {T.shape[0]} rows for {self.pi.shape[0]} patterns; "
                             "use log_pdf_grid for a grid of targets shared by all patterns")
        return special.logsumexp(self._log_components(T[:, None, :])[:, 0, :], axis=-1)

    def log_pdf_grid(self, grid):
        """ln p(t_g | x_n) on a grid of targets (G, K) shared by all patterns: (N, G)."""
        grid = self._as_targets(grid, "grid")
        G = np.broadcast_to(grid, (self.pi.shape[0],) + grid.shape)
        return special.logsumexp(self._log_components(G), axis=-1)

    def pdf_grid(self, grid):
        """p(t_g | x_n) on a grid of targets (G, K): (N, G)."""
        return np.exp(self.log_pdf_grid(grid))

    def mean(self):
        r"""The conditional mean :math:`\sum_k \pi_k \boldsymbol\mu_k` (5.158), (N, K)."""
        return np.einsum("nl,nlk->nk", self.pi, self.mu)

    def covariance(self):
        r"""The conditional covariance :math:`\sum_k \pi_k\{\sigma_k^2\mathbf{I} +
        (\boldsymbol\mu_k - \mathbf{m})(\boldsymbol\mu_k - \mathbf{m})^\mathrm{T}\}`, (N, K, K)."""
        d = self.mu - self.mean()[:, None, :]
        C = np.einsum("nl,nlj,nlk->njk", self.pi, d, d)
        i = np.arange(self.n_targets)
        C[:, i, i] += np.sum(self.pi * self.sigma ** 2, axis=1)[:, None]
        return C

    def variance(self):
        r"""Per-coordinate conditional variances, (N, K): the diagonal of
        :meth:`covariance`. For K = 1 this is
        :math:`s^2(\mathbf{x}) = \sum_k \pi_k\{\sigma_k^2 + \|\boldsymbol\mu_k - \sum_l \pi_l\boldsymbol\mu_l\|^2\}`
        (5.160)."""
        d = self.mu - self.mean()[:, None, :]
        return np.einsum("nl,nlk->nk", self.pi, d ** 2) + np.sum(
            self.pi * self.sigma ** 2, axis=1)[:, None]

    def mode(self, max_iter=200, tol=1e-10, return_density=False):
        r"""The conditional mode: the most probable t for each pattern, (N, K).

        Starting from every component mean, the fixed-point (mean-shift)
        iteration for a stationary point of the mixture density,

        .. math:: \mathbf{t} \leftarrow \frac{\sum_k w_k \boldsymbol\mu_k}{\sum_k w_k},
                  \qquad w_k = \pi_k \mathcal{N}(\mathbf{t}|\boldsymbol\mu_k,\sigma_k^2\mathbf{I})/\sigma_k^2,

        climbs monotonically to a local maximum; the highest of the L maxima is
        returned. This is the most probable *branch* of a multi-valued inverse
        problem (Figure 5.21); the mean (5.158) may fall between branches.
        With ``return_density`` also the log-density there, (N,).
        """
        mu = self.mu
        t = mu.copy()                                                # (N, S=L, K) starts
        log_v = 2.0 * np.log(self.sigma)
        for _ in range(max_iter):
            log_w = self._log_components(t) - log_v[:, None, :]     # (N, S, L)
            w = np.exp(log_w - special.logsumexp(log_w, axis=-1, keepdims=True))
            t_new = np.einsum("nsl,nlk->nsk", w, mu)
            step = np.max(np.abs(t_new - t))
            t = t_new
            if step <= tol * max(1.0, float(np.max(np.abs(t)))):
                break
        logp = special.logsumexp(self._log_components(t), axis=-1)  # (N, S)
        best = np.argmax(logp, axis=1)
        n = np.arange(t.shape[0])
        return (t[n, best], logp[n, best]) if return_density else t[n, best]

    def sample(self, rng, n_samples=1):
        """Draw ``n_samples`` targets from each p(t|x_n): shape (n_samples, N, K).

        ``rng`` is a numpy Generator (or an int seed); it is the only source of
        randomness.
        """
        rng = as_rng(rng)
        n_samples = int(n_samples)
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1; got {n_samples}")
        N, L, K = self.mu.shape
        cdf = np.cumsum(self.pi, axis=1)
        u = rng.random((n_samples, N, 1)) * cdf[:, -1:]
        k = np.minimum(np.sum(u > cdf[None], axis=-1), L - 1)       # component per draw
        n = np.arange(N)[None, :]
        return self.mu[n, k] + self.sigma[n, k][..., None] * rng.standard_normal((n_samples, N, K))
