r"""The predictive distribution of the Laplace posterior (PRML §5.7.1, §5.7.3): error bars
of a regression network (5.172, 5.173) and class probabilities under the Gaussian over
the output activations.

:class:`Predictive` holds the methods of :class:`~prmlnet.bayes.LaplacePosterior` that
map the Gaussian over the weights to the outputs; the functions below turn the
Gaussian of the activations into class probabilities.

Linearising the network about :math:`\mathbf{w}_\text{MAP}`, the Laplace posterior
gives each input's output pre-activations the Gaussian
:math:`p(\mathbf{a} \mid \mathbf{x}, D) = \mathcal{N}(\mathbf{a}_\text{MAP},
\boldsymbol\Sigma)`, :math:`\boldsymbol\Sigma = \mathbf{B}\mathbf{A}^{-1}\mathbf{B}^\mathrm{T}`
with :math:`\mathbf{B} = \partial\mathbf{a}/\partial\mathbf{w}` (K, W). The predictive
probabilities are the average of the output function over it,

.. math:: p(\mathcal{C}_k \mid \mathbf{x}, D) = \int f_k(\mathbf{a})\,
          \mathcal{N}(\mathbf{a} \mid \mathbf{a}_\text{MAP}, \boldsymbol\Sigma)\, d\mathbf{a}

(f the logistic sigmoid of each output, or the softmax), which has no closed form.
Three ways to compute it (``method``):

``"probit"``
    Logistic outputs: :math:`\sigma(\kappa(\Sigma_{kk})\, a_k)` (5.190), the probit
    approximation of §4.5.2, :math:`\kappa(\sigma^2) = (1 + \pi\sigma^2/8)^{-1/2}`;
    its error is below 0.02 in probability. Softmax outputs: the same scaling per
    class applied to the **centred** activations and their centred variances,
    :math:`\operatorname{softmax}_k\big(\kappa(\tilde\Sigma_{kk})\,\tilde a_k\big)` with
    :math:`\tilde{\mathbf{a}} = \mathbf{P}\mathbf{a}`, :math:`\tilde{\boldsymbol\Sigma} =
    \mathbf{P}\boldsymbol\Sigma\mathbf{P}`, :math:`\mathbf{P} = \mathbf{I} -
    \mathbf{1}\mathbf{1}^\mathrm{T}/K`. The softmax ignores a shift of all K activations
    by one amount, and so does the integral (it depends on the distribution of
    :math:`\mathbf{P}\mathbf{a}` alone); the variance of that common shift — for a
    network, of the directions in weight space that move every class's output
    weights alike, which the data never see and the prior alone sets — must not
    enter. It is a heuristic (the covariances between classes are ignored) and
    moderates less than the integral.
``"pairwise"``
    The probit approximation applied to the pairwise differences of the
    activations (the mean-field approximation of Lu, Ie & Sha 2020):

    .. math:: p_k \propto \Big(\sum_j \exp\big(-\kappa(\sigma^2_{kj})(a_k - a_j)\big)\Big)^{-1},
              \qquad \sigma^2_{kj} = \Sigma_{kk} + \Sigma_{jj} - 2\Sigma_{kj}

    It uses the covariances, is invariant to the common shift by construction and
    for K = 2 is exactly (5.190) for the log-odds :math:`a_1 - a_2`.
``"mc"``
    Monte Carlo over the Gaussian of the activations: ``n_samples`` draws of
    :math:`\mathbf{a}`, the same standard normal numbers for every input (so the
    result of an input does not depend on the others), averaged through f. Exact as
    the number of samples grows; the reference for the other two.

Logistic outputs are independent sigmoids, so only the variances
:math:`\Sigma_{kk}` enter; ``"pairwise"`` is ``"probit"`` there.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, special

from .._rng import as_rng

__all__ = ["PREDICTIVES", "Predictive", "kappa", "class_log_probabilities",
           "class_probabilities"]

PREDICTIVES = ("probit", "pairwise", "mc")

# Activations of this many (input, sample) pairs at once in the Monte Carlo average.
_MC_BLOCK = 1_000_000
# Rows of an (n, W) block handled at once in the predictive solves (bounded memory).
BLOCK_FLOATS = 2_000_000


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


def _check(output, a, C, method):
    if output not in ("logistic", "softmax"):
        raise ValueError(f"class probabilities need logistic or softmax outputs; got {output!r}")
    if method not in PREDICTIVES:
        raise ValueError(f"method must be one of {PREDICTIVES}; got {method!r}")
    a = np.asarray(a, dtype=float)
    C = np.asarray(C, dtype=float)
    N, K = a.shape
    want = (N, K) if output == "logistic" else (N, K, K)
    if C.shape != want:
        raise ValueError(f"the activation {'variances' if output == 'logistic' else 'covariances'}"
                         f" must have shape {want}; got {C.shape}")
    return a, C


def class_log_probabilities(output, a, C, method="probit", *, n_samples=2000, rng=0):
    r"""Log predictive class probabilities from the Gaussian of the activations.

    Parameters
    ----------
    output : {"logistic", "softmax"}
    a : ndarray (N, K)
        :math:`\mathbf{a}_\text{MAP}` of each input.
    C : ndarray
        Logistic outputs: the variances :math:`\Sigma_{kk}`, (N, K). Softmax outputs:
        the covariances :math:`\boldsymbol\Sigma`, (N, K, K).
    method : {"probit", "pairwise", "mc"}
        See the module docstring.
    n_samples : int
        Draws of ``"mc"``.
    rng : Generator or seed
        The draws of ``"mc"`` (default seed 0: the same probabilities on every call).

    Returns
    -------
    log_p : ndarray (N, K)
        :math:`\ln p(\mathcal{C}_k \mid \mathbf{x}, D)`, finite where p rounds to 0.
    log_q : ndarray (N, K) or None
        Logistic outputs: :math:`\ln(1 - p)`, as accurately; None for softmax.
    """
    a, C = _check(output, a, C, method)
    if output == "logistic":
        if method == "mc":
            z = _draws(rng, n_samples, 1)[:, 0]
            p, q = np.empty_like(a), np.empty_like(a)
            for s in _blocks(a.size, z.size):
                m, sd = a.reshape(-1)[s, None], np.sqrt(np.maximum(C.reshape(-1)[s], 0))[:, None]
                u = m + sd * z
                p.reshape(-1)[s] = special.expit(u).mean(axis=1)
                q.reshape(-1)[s] = special.expit(-u).mean(axis=1)
            with np.errstate(divide="ignore"):
                return np.log(p), np.log(q)
        m = kappa(C) * a                                                         # (5.190)
        return -np.logaddexp(0.0, -m), -np.logaddexp(0.0, m)
    K = a.shape[1]
    if method == "probit":
        ac = a - a.mean(axis=1, keepdims=True)                                   # P a
        d = np.diagonal(C, axis1=1, axis2=2)
        row = C.mean(axis=2)
        dc = d - 2.0 * row + row.mean(axis=1, keepdims=True)                     # diag(P Σ P)
        m = kappa(np.maximum(dc, 0.0)) * ac
        return m - special.logsumexp(m, axis=1, keepdims=True), None
    if method == "pairwise":
        d = np.diagonal(C, axis1=1, axis2=2)
        var = np.maximum(d[:, :, None] + d[:, None, :] - 2.0 * C, 0.0)          # Var(a_k − a_j)
        diff = a[:, :, None] - a[:, None, :]
        log_p = -special.logsumexp(-kappa(var) * diff, axis=2)
        return log_p - special.logsumexp(log_p, axis=1, keepdims=True), None
    z = _draws(rng, n_samples, K)
    lam, Q = np.linalg.eigh(0.5 * (C + np.swapaxes(C, 1, 2)))                    # Σ = Q Λ Qᵀ
    R = Q * np.sqrt(np.maximum(lam, 0.0))[:, None, :]                           # Σ = R Rᵀ
    p = np.empty_like(a)
    for s in _blocks(a.shape[0], z.size):
        u = a[s, None, :] + np.einsum("sk,njk->nsj", z, R[s])                  # (n, S, K)
        p[s] = special.softmax(u, axis=2).mean(axis=1)
    with np.errstate(divide="ignore"):
        return np.log(p), None


def class_probabilities(output, a, C, method="probit", *, n_samples=2000, rng=0):
    """:func:`class_log_probabilities` as probabilities, (N, K)."""
    return np.exp(class_log_probabilities(output, a, C, method, n_samples=n_samples,
                                          rng=rng)[0])


def _draws(rng, n_samples, K):
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}")
    return as_rng(rng).standard_normal((int(n_samples), K))


def _blocks(n, per):
    step = max(1, _MC_BLOCK // max(1, per))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


class Predictive:
    """The predictive distribution of a Gaussian N(w_MAP, A⁻¹) over a network's weights
    (the methods of :class:`~prmlnet.bayes.LaplacePosterior` that need only ``net``,
    ``w``, ``beta``, the Cholesky factor ``chol`` of A and :meth:`quadratic`)."""

    def _output_blocks(self, X, wrt):
        """Yield (slice, per-pattern output gradients (n, K, W)) in bounded blocks."""
        net = self.net
        X = net.check_inputs(X)
        K = net.n_outputs
        step = max(1, BLOCK_FLOATS // (K * self.n_weights))
        for i in range(0, X.shape[0], step):
            yield slice(i, i + step), net.output_gradients(self.w, X[i:i + step], wrt=wrt)

    def _covariances(self, X, wrt):
        r""":math:`\mathbf{G}\mathbf{A}^{-1}\mathbf{G}^\mathrm{T}` of each pattern, (N, K, K)."""
        N, K = self.net.check_inputs(X).shape[0], self.net.n_outputs
        cov = np.empty((N, K, K))
        for s, G in self._output_blocks(X, wrt):
            n = G.shape[0]
            V = linalg.solve_triangular(self.chol, G.reshape(n * K, -1).T, lower=True,
                                        check_finite=False).reshape(-1, n, K)
            cov[s] = np.einsum("wnk,wnl->nkl", V, V)
        return cov

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
        cov = None
        if return_cov:
            cov = self._covariances(X, "y")
            cov[:, np.arange(K), np.arange(K)] += 1.0 / self.beta
            std = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        else:
            std = np.empty((N, K))
            for s, G in self._output_blocks(X, "y"):
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
        for s, B in self._output_blocks(X, "a"):
            s2[s] = self.quadratic(B)
        return a, s2

    def activation_covariance(self, X):
        r"""The Gaussian of the output pre-activations under the linearised posterior:
        ``(a_MAP, Σ)`` with :math:`\boldsymbol\Sigma = \mathbf{B}\mathbf{A}^{-1}\mathbf{B}^\mathrm{T}`,
        :math:`\mathbf{B} = \partial\mathbf{a}/\partial\mathbf{w}` at the mode; (N, K), (N, K, K)."""
        X = self.net.check_inputs(X)
        return self.net.forward(self.w, X).a[-1], self._covariances(X, "a")

    def predict_log_proba(self, X, moderated=True, *, method="probit", n_samples=2000, rng=0):
        r"""Logarithms of :meth:`predict_proba`, finite where a probability rounds to 0;
        for logistic outputs also :math:`\ln(1 - p)`: returns ``(log_p, log_q)``
        (``log_q`` None for softmax outputs)."""
        name = self.net.output.name
        if name not in ("logistic", "softmax"):
            raise ValueError(f"predict_proba needs logistic or softmax outputs; this network "
                             f"has {name!r} outputs — use predict(X, return_std=True)")
        if method not in PREDICTIVES:
            raise ValueError(f"method must be one of {PREDICTIVES}; got {method!r}")
        if not moderated:
            a = self.net.forward(self.w, self.net.check_inputs(X)).a[-1]
            if name == "softmax":
                return a - np.logaddexp.reduce(a, axis=1, keepdims=True), None
            return -np.logaddexp(0.0, -a), -np.logaddexp(0.0, a)
        if name == "logistic":
            a, C = self.activation_variance(X)
        else:
            a, C = self.activation_covariance(X)
        return class_log_probabilities(name, a, C, method, n_samples=n_samples, rng=rng)

    def predict_proba(self, X, moderated=True, *, method="probit", n_samples=2000, rng=0):
        r"""Approximate predictive class probabilities of a classifier (§5.7.3).

        Parameters
        ----------
        X : ndarray (N, D)
        moderated : bool
            ``False`` gives the MAP network's own outputs :math:`y(\mathbf{x}, \mathbf{w}_\text{MAP})`.
        method : {"probit", "pairwise", "mc"}
            How the average of the outputs over the Gaussian of the activations is
            computed (:mod:`prmlnet.bayes.predictive`).
        n_samples, rng :
            The draws of ``method="mc"`` (the same for every input; seed 0 by default).

        Returns
        -------
        ndarray (N, K)

        Notes
        -----
        The activations are linearised about the mode, so
        :math:`p(\mathbf{a} \mid \mathbf{x}, D) = \mathcal{N}(\mathbf{a}_\text{MAP},
        \mathbf{B}\mathbf{A}^{-1}\mathbf{B}^\mathrm{T})`. For logistic outputs the probit
        approximation gives

        .. math:: p(t = 1 \mid \mathbf{x}, D) \simeq \sigma\big(\kappa(\sigma_a^2)\, a_\text{MAP}\big),
                  \qquad \kappa(\sigma^2) = (1 + \pi\sigma^2/8)^{-1/2}

        For softmax outputs ``"probit"`` scales the centred activations the same way
        (the common shift of all K activations, which the softmax ignores, left out),
        ``"pairwise"`` applies the probit approximation to the differences
        :math:`a_k - a_j` with their variances, and ``"mc"`` averages over samples.
        """
        if not moderated:
            name = self.net.output.name
            if name not in ("logistic", "softmax"):
                self.predict_log_proba(X, moderated=False)          # the clear refusal
            return self.net.predict(self.w, X)
        return np.exp(self.predict_log_proba(X, method=method, n_samples=n_samples,
                                             rng=rng)[0])
