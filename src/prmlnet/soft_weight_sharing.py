r"""Soft weight sharing (PRML §5.5.7): a mixture of Gaussians over the weights, learned with them.

Instead of forcing groups of weights to be equal, soft weight sharing lets the
weights fall into groups of similar values. The prior over each weight is a
mixture of J Gaussians whose mixing coefficients, means and variances are
themselves learned (§5.5.7, Nowlan and Hinton 1992):

.. math:: p(\mathbf{w}) = \prod_i \sum_{j=1}^J \pi_j \mathcal{N}(w_i \mid \mu_j, \sigma_j^2),
          \qquad \Omega(\mathbf{w}) = -\sum_i \ln\Big(\sum_j \pi_j
          \mathcal{N}(w_i \mid \mu_j, \sigma_j^2)\Big)

and the training error is :math:`\widetilde{E}(\mathbf{w}) = E(\mathbf{w}) + \lambda
\Omega(\mathbf{w})`. With the responsibilities (the posterior probability of
component j for weight i)

.. math:: \gamma_j(w_i) = \frac{\pi_j \mathcal{N}(w_i \mid \mu_j, \sigma_j^2)}
          {\sum_k \pi_k \mathcal{N}(w_i \mid \mu_k, \sigma_k^2)}

the derivatives are (§5.5.7)

.. math::
    \frac{\partial\widetilde{E}}{\partial w_i} = \frac{\partial E}{\partial w_i}
        + \lambda \sum_j \gamma_j(w_i) \frac{w_i - \mu_j}{\sigma_j^2}, \qquad
    \frac{\partial\widetilde{E}}{\partial \mu_j} = \lambda \sum_i \gamma_j(w_i)
        \frac{\mu_j - w_i}{\sigma_j^2},

    \frac{\partial\widetilde{E}}{\partial \ln\sigma_j} = \lambda \sum_i \gamma_j(w_i)
        \Big(1 - \frac{(w_i - \mu_j)^2}{\sigma_j^2}\Big), \qquad
    \frac{\partial\widetilde{E}}{\partial \eta_j} = \lambda \sum_i \big(\pi_j - \gamma_j(w_i)\big)

with :math:`\pi_j = e^{\eta_j} / \sum_k e^{\eta_k}` (softmax parameters keep the
π_j positive and summing to one) and the widths through :math:`\ln\sigma_j`
(positive without constraints). The book writes the width derivative for σ_j;
the one for ln σ_j is σ_j times it. A weight is pulled towards the centres in
proportion to their responsibilities; each centre moves towards the weights it
is responsible for; each width towards their spread.

One guard is added to the book's Ω. Like a Gaussian mixture fitted by maximum
likelihood, Ω is unbounded below: a component can shrink onto weights that it
pulls together until σ_j → 0. A hyperprior on each precision, the term
:math:`\sum_j \frac{s_0^2}{2\sigma_j^2}` (an exponential prior on
:math:`1/\sigma_j^2`) added to Ω, keeps every width above about
:math:`s_0/\sqrt{n_j}` for n_j weights in the component; ``s0=0`` gives the
book's unguarded form.

With one component of mean 0 and width 1 held fixed, λΩ is weight decay with
α = λ (5.112) plus a constant.

The mixture's parameters θ = (η, μ, ln σ) are learned jointly with w:
:class:`SharedObjective` is the objective over the joint vector
:math:`\mathbf{z} = (\mathbf{w}, \boldsymbol\theta)`, with the same ``(E, ∇E)``
and ``minibatch`` interface as :class:`~prmlnet.objective.Objective`, so every
batch method of :func:`prmlnet.optim.minimize` and every online method trains
it. (The alternative — alternate training of w with an EM update of the
mixture — was not chosen: each EM step needs w at a minimum, and the joint
gradient gives curvature methods the coupling between w and θ at no extra cost.)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .priors import Term

__all__ = ["SoftWeightSharing", "SharedObjective"]

_LOG_2PI = math.log(2 * math.pi)


class SoftWeightSharing(Term):
    r"""A mixture-of-Gaussians prior over (some of) the weights, with its own parameters.

    Parameters
    ----------
    n_weights : int
        W, the length of the weight vector.
    eta, mu, log_sigma : array-like of shape (J,)
        The mixture: softmax parameters of the mixing coefficients π, the centres μ
        and the log widths ln σ. Build a sensible start with :meth:`initial`.
    indices : int array or boolean mask, optional
        The weights under the mixture (default: all); the others get nothing
        from this term (give them a Gaussian prior in the objective).
    lam : float, default 1.0
        λ, the strength of the term: :math:`\lambda\Omega(\mathbf{w})` (the guard
        included); 1 makes Ω the negative log of a proper prior.
    pin_zero : bool, default False
        Hold μ_0 = 0 (not learned): the first component collects the weights that
        can be pruned — the compression view.
    s0 : float, default 0.0
        The scale of the guard against collapsing widths (module docstring).

    Attributes
    ----------
    pi, sigma : ndarray (J,)
        The mixing coefficients and widths.
    n_params : int
        The number of learned mixture parameters (3J, or 3J - 1 with ``pin_zero``).
    theta : ndarray (n_params,)
        Those parameters as one vector: ``[eta, mu (without mu_0 when pinned), log_sigma]``.
    """

    per_pattern = False

    def __init__(self, n_weights, eta, mu, log_sigma, *, indices=None, lam=1.0,
                 pin_zero=False, s0=0.0):
        W = int(n_weights)
        if W < 1:
            raise ValueError(f"n_weights must be >= 1; got {n_weights!r}")
        eta, mu, log_sigma = (np.array(v, dtype=float).ravel() for v in (eta, mu, log_sigma))
        J = eta.size
        if J < 1 or mu.size != J or log_sigma.size != J:
            raise ValueError(f"eta, mu and log_sigma must have one entry per component; got "
                             f"{eta.size}, {mu.size}, {log_sigma.size}")
        if not all(np.all(np.isfinite(v)) for v in (eta, mu, log_sigma)):
            raise ValueError("the mixture parameters must be finite")
        if pin_zero and mu[0] != 0.0:
            raise ValueError(f"pin_zero holds mu[0] = 0; got mu[0] = {mu[0]!r}")
        for name, v, low in (("lam", lam, 0.0), ("s0", s0, 0.0)):
            if isinstance(v, bool) or not (isinstance(v, (int, float, np.number))
                                           and math.isfinite(v) and v >= low):
                raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
        idx = np.arange(W) if indices is None else np.asarray(indices).ravel()
        if idx.dtype == bool:
            if idx.size != W:
                raise ValueError(f"the mask has {idx.size} entries; W = {W}")
            idx = np.flatnonzero(idx)
        elif idx.dtype.kind not in "iu":
            raise ValueError(f"indices must be integers or a boolean mask; got dtype {idx.dtype}")
        if idx.size == 0 or idx.min() < 0 or idx.max() >= W or np.unique(idx).size != idx.size:
            raise ValueError(f"indices must be distinct weights in [0, {W}), at least one")
        idx = idx.astype(np.intp)
        for v in (eta, mu, log_sigma, idx):
            v.setflags(write=False)
        self.n_weights, self.indices = W, idx
        self.eta, self.mu, self.log_sigma = eta, mu, log_sigma
        self.lam, self.pin_zero, self.s0 = float(lam), bool(pin_zero), float(s0)

    @classmethod
    def initial(cls, w, n_components=3, *, indices=None, pin_zero=False, lam=1.0, s0=None,
                spread=None):
        r"""A mixture to start learning from, for weights ``w``.

        Equal mixing coefficients; centres evenly spaced over ±1.5 ``spread``
        (with ``pin_zero`` the one nearest 0 moved to 0 and put first); every
        width half the spacing of the centres (``spread`` for one component).
        ``spread`` defaults to the standard deviation of the selected weights of
        ``w`` (at least 1e-3), ``s0`` to ``spread`` / 100.
        """
        w = np.asarray(w, dtype=float)
        J = int(n_components)
        if isinstance(n_components, bool) or J != n_components or J < 1:
            raise ValueError(f"n_components must be an integer >= 1; got {n_components!r}")
        sel = w if indices is None else w[np.asarray(indices)]
        s = float(spread) if spread is not None else max(float(np.std(sel)), 1e-3)
        if not s > 0:
            raise ValueError(f"spread must be > 0; got {spread!r}")
        mu = np.linspace(-1.5 * s, 1.5 * s, J) if J > 1 else np.zeros(1)
        width = 0.75 * s / (J - 1) if J > 1 else s
        if pin_zero:
            k = int(np.argmin(np.abs(mu)))
            mu = np.r_[0.0, np.delete(mu, k)]
        return cls(w.size, np.zeros(J), mu, np.full(J, math.log(width)),
                   indices=indices, lam=lam, pin_zero=pin_zero,
                   s0=s / 100 if s0 is None else s0)

    # -- parameters ------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        return self.eta.size

    @property
    def pi(self):
        return special.softmax(self.eta)

    @property
    def sigma(self):
        return np.exp(self.log_sigma)

    @property
    def n_params(self) -> int:
        return 3 * self.n_components - int(self.pin_zero)

    @property
    def theta(self):
        mu = self.mu[1:] if self.pin_zero else self.mu
        return np.concatenate([self.eta, mu, self.log_sigma])

    def _unpack(self, theta):
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta has shape {theta.shape}; this mixture has "
                             f"{self.n_params} parameters")
        J = self.n_components
        eta = theta[:J]
        k = J - int(self.pin_zero)
        mu = theta[J:J + k]
        if self.pin_zero:
            mu = np.r_[0.0, mu]
        return eta, mu, theta[J + k:]

    def with_params(self, theta):
        """The same mixture prior with new parameters ``theta`` (see :attr:`theta`)."""
        eta, mu, log_sigma = self._unpack(theta)
        return SoftWeightSharing(self.n_weights, eta, mu, log_sigma, indices=self.indices,
                                 lam=self.lam, pin_zero=self.pin_zero, s0=self.s0)

    def __repr__(self):
        comps = ", ".join(f"{p:.3g}·N({m:.3g}, {s:.3g}²)"
                          for p, m, s in zip(self.pi, self.mu, self.sigma))
        return (f"SoftWeightSharing({comps}; {self.indices.size} of {self.n_weights} weights"
                + (f", lam={self.lam:g}" if self.lam != 1.0 else "")
                + (", mu_0 pinned at 0" if self.pin_zero else "") + ")")

    # -- the mixture ------------------------------------------------------------------
    def log_density(self, x):
        r""":math:`\ln\sum_j \pi_j\mathcal{N}(x \mid \mu_j, \sigma_j^2)` for each value in ``x``."""
        x = np.asarray(x, dtype=float)
        return special.logsumexp(self._log_joint(x.ravel(), self.eta, self.mu,
                                                 self.log_sigma), axis=1).reshape(x.shape)

    def density(self, x):
        """The mixture density at ``x`` (any shape), for plotting over a histogram of weights."""
        return np.exp(self.log_density(x))

    def responsibilities(self, w):
        r""":math:`\gamma_j(w_i)` for the weights under the mixture, shape (n, J)."""
        w = self._w(w)
        lj = self._log_joint(w[self.indices], self.eta, self.mu, self.log_sigma)
        return np.exp(lj - special.logsumexp(lj, axis=1, keepdims=True))

    @staticmethod
    def _log_joint(x, eta, mu, log_sigma):
        """ln π_j + ln N(x_i | μ_j, σ_j²), shape (n, J)."""
        z = (x[:, None] - mu) * np.exp(-log_sigma)
        return (eta - special.logsumexp(eta)) - 0.5 * _LOG_2PI - log_sigma - 0.5 * z * z

    # -- value and derivatives -------------------------------------------------------------
    def value_and_gradients(self, w, theta=None):
        r"""``(λ(Ω + guard), ∂/∂w (W,), ∂/∂θ (n_params,))`` at ``w`` and parameters ``theta``
        (default: this prior's own). Pure: nothing is stored."""
        w = self._w(w)
        eta, mu, log_sigma = (self.eta, self.mu, self.log_sigma) if theta is None \
            else self._unpack(theta)
        lam, x = self.lam, w[self.indices]
        lj = self._log_joint(x, eta, mu, log_sigma)
        L = special.logsumexp(lj, axis=1, keepdims=True)
        gam = np.exp(lj - L)                                    # γ_j(w_i), (n, J)
        inv_var = np.exp(-2.0 * log_sigma)
        d = x[:, None] - mu                                     # w_i - μ_j
        guard = 0.5 * self.s0 ** 2 * inv_var
        value = lam * (float(guard.sum()) - float(L.sum()))
        g_w = np.zeros(self.n_weights)
        g_w[self.indices] = lam * np.sum(gam * d * inv_var, axis=1)
        g_mu = -lam * np.sum(gam * d, axis=0) * inv_var
        g_ls = lam * (np.sum(gam * (1.0 - d * d * inv_var), axis=0) - 2.0 * guard)
        g_eta = lam * (x.size * special.softmax(eta) - gam.sum(axis=0))
        if self.pin_zero:
            g_mu = g_mu[1:]
        return value, g_w, np.concatenate([g_eta, g_mu, g_ls])

    def value_and_gradient(self, w, batch=None):
        """``(λ(Ω(w) + guard), ∂/∂w)`` at this prior's own parameters (the Term interface)."""
        value, g_w, _ = self.value_and_gradients(w)
        return value, g_w

    def hessian(self, w=None, batch=None):
        r"""The Hessian of λΩ with respect to w at fixed mixture parameters: diagonal, (W,).

        .. math:: \frac{\partial^2\Omega}{\partial w_i^2} = \sum_j \frac{\gamma_{ij}}{\sigma_j^2}
                  - \sum_j \gamma_{ij} a_{ij}^2 + \Big(\sum_j \gamma_{ij} a_{ij}\Big)^2,
                  \qquad a_{ij} = \frac{w_i - \mu_j}{\sigma_j^2}
        """
        w = self._w(w)
        gam = self.responsibilities(w)
        inv_var = np.exp(-2.0 * self.log_sigma)
        a = (w[self.indices][:, None] - self.mu) * inv_var
        h = np.zeros(self.n_weights)
        h[self.indices] = self.lam * (gam @ inv_var - np.sum(gam * a * a, axis=1)
                                      + np.sum(gam * a, axis=1) ** 2)
        return h

    def hvp(self, w, v, batch=None):
        return self.hessian(w) * np.asarray(v, dtype=float)

    def _w(self, w):
        w = np.asarray(w, dtype=float)
        if w.shape != (self.n_weights,):
            raise ValueError(f"w has shape {w.shape}; this prior is over {self.n_weights} weights")
        return w


class SharedObjective:
    r"""The objective over w and the mixture's parameters together (§5.5.7).

    .. math:: \widetilde{E}(\mathbf{w}, \boldsymbol\theta) = E(\mathbf{w})
              + \lambda\Omega(\mathbf{w}; \boldsymbol\theta)

    with :math:`E` an :class:`~prmlnet.objective.Objective` that does *not* hold
    the mixture (its data term and any other prior or terms), evaluated on the
    joint vector :math:`\mathbf{z} = (\mathbf{w}, \boldsymbol\theta)` of length
    W + ``prior.n_params``.

    Parameters
    ----------
    objective : Objective
    prior : SoftWeightSharing
        Its parameters are the starting θ of :meth:`join`.

    Examples
    --------
    >>> import numpy as np, prmlnet
    >>> from prmlnet.objective import Objective
    >>> from prmlnet.optim import minimize
    >>> net = prmlnet.Network((1, 4, 1))
    >>> X = np.linspace(-1, 1, 30)[:, None]; T = np.sin(3 * X)
    >>> w0 = net.init_weights(0)
    >>> joint = SharedObjective(Objective(net, X, T), SoftWeightSharing.initial(w0, 3))
    >>> res = minimize(joint, joint.join(w0), "bfgs", max_iter=300)
    >>> w, mixture = joint.split(res.x)
    >>> mixture.n_components, w.shape
    (3, (13,))
    """

    def __init__(self, objective, prior):
        if not isinstance(prior, SoftWeightSharing):
            raise ValueError(f"prior must be a SoftWeightSharing; got {type(prior).__name__}")
        if prior.n_weights != objective.net.n_weights:
            raise ValueError(f"the mixture is over {prior.n_weights} weights; the network "
                             f"has {objective.net.n_weights}")
        if any(t is prior for t in objective.terms) or objective.prior is prior:
            raise ValueError("the objective already holds this mixture; give SharedObjective "
                             "the objective without it")
        self.objective = objective
        self.prior = prior
        self.n_weights = objective.net.n_weights
        self.n_params = prior.n_params

    def __repr__(self):
        return f"SharedObjective({self.objective!r}, {self.prior!r})"

    def join(self, w, prior=None):
        """The joint vector (w, θ), θ from ``prior`` (default: the starting mixture)."""
        p = self.prior if prior is None else prior
        return np.concatenate([self.objective.net.check_weights(w), p.theta])

    def split(self, z):
        """``(w, SoftWeightSharing with the parameters in z)``."""
        z = self._z(z)
        return z[:self.n_weights].copy(), self.prior.with_params(z[self.n_weights:])

    def _z(self, z):
        z = np.asarray(z, dtype=float)
        if z.shape != (self.n_weights + self.n_params,):
            raise ValueError(f"z has shape {z.shape}; it must be (W + n_params,) = "
                             f"({self.n_weights + self.n_params},)")
        return z

    def _add(self, z, E, g, share):
        w, th = z[:self.n_weights], z[self.n_weights:]
        Om, g_w, g_th = self.prior.value_and_gradients(w, th)
        return E + share * Om, np.concatenate([g + share * g_w, share * g_th])

    def __call__(self, z):
        """``(Ẽ(z), ∇Ẽ(z))``, the gradient over w and θ."""
        z = self._z(z)
        E, g = self.objective(z[:self.n_weights])
        return self._add(z, E, g, 1.0)

    def minibatch(self, z, Xb, Tb, rows=None):
        """``(E_b, ∇E_b)`` for a batch; the mixture, a weight-only term, gets the share
        |b|/N as the prior does in :meth:`Objective.minibatch`."""
        E, g = self.objective.minibatch(z[:self.n_weights], Xb, Tb, rows)
        return self._add(z, E, g, Xb.shape[0] / self.objective.n_patterns)

    def error(self, z) -> float:
        return self(z)[0]

    def gradient(self, z):
        return self(z)[1]

