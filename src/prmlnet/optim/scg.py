r"""Scaled conjugate gradients (Møller 1993) — the default trainer of Netlab.

Conjugate gradients without a line search: the step along each direction comes
from a local quadratic model whose curvature :math:`\mathbf{d}^\mathrm{T}\mathbf{H}\mathbf{d}`
is either estimated by a finite difference of gradients or, with ``hvp=``,
computed exactly by the R-operator (§5.4.6); a Levenberg–Marquardt-like scale
λ keeps the model positive definite and is adapted by comparing the predicted
and the actual decrease, as in a trust-region method.

Names follow Møller (1993) and Netlab's ``scg.m``: μ = dᵀg, κ = dᵀd, σ, δ, λ
and the comparison ratio Δ.
"""

from __future__ import annotations

import math

from .result import Run, Status, Stop

__all__ = ["scg"]


def _body(run, x, f, g, *, hvp, sigma0, lambda0, lambda_min, lambda_max):
    W = x.size
    lam = lambda0
    d = -g
    success = True
    n_success = 0
    n_fail = 0
    while True:
        if success:
            # Second-order information along d: δ = dᵀ H d.
            mu = float(d @ g)
            if mu >= 0.0:                              # not downhill: restart
                d = -g
                mu = float(d @ g)
            kappa = float(d @ d)
            if not (math.isfinite(kappa) and math.isfinite(mu)):
                raise Stop(Status.NONFINITE, "scg: the gradient is too large to square "
                                             "(dᵀd overflows); rescale the data or lower alpha")
            if kappa < 1e-300:
                raise Stop(Status.CONVERGED, "converged: the search direction vanished")
            if hvp is not None:
                gamma = float(d @ run.hvp(hvp, x, d))   # exact curvature, H·d by the R-operator
            else:
                sigma = sigma0 / math.sqrt(kappa)
                _, g_plus = run.evaluate(x + sigma * d)
                gamma = float(d @ (g_plus - g)) / sigma  # finite difference of gradients
        # Scale the curvature: δ = dᵀHd + λ κ; if that is not positive, raise λ until it is.
        delta = gamma + lam * kappa
        if delta <= 0.0:
            delta = lam * kappa
            lam = lam - gamma / kappa
        # Step to the minimum of the scaled quadratic model along d.
        alpha = -mu / delta
        x_new = x + alpha * d
        f_new, g_new = run.evaluate(x_new)
        # Comparison ratio Δ: actual decrease over the decrease the model predicted.
        if f_new == math.inf:
            Delta = -math.inf
        elif abs(f_new - f) <= 1e-13 * abs(f):
            Delta = 1.0        # a change below the rounding error of E: trust the model
        else:
            Delta = 2.0 * (f_new - f) / (alpha * mu)
        success = Delta >= 0.0
        if success:
            n_success += 1
            n_fail = 0
            g_old = g
            x, f, g = x_new, f_new, g_new
            run.accept(x, f, g, abs(alpha) * math.sqrt(kappa))
        else:
            n_fail += 1
            if n_fail > 60:
                raise Stop(Status.LINE_SEARCH_FAILED,
                           "scg: no step lowered the error after 60 increases of lambda")
        # Adapt λ like a trust region: trust the model more when it predicted well.
        if Delta < 0.25:
            if lam >= lambda_max:
                raise Stop(Status.LINE_SEARCH_FAILED, "scg: lambda reached lambda_max")
            lam = min(4.0 * lam, lambda_max)
        elif Delta > 0.75:
            lam = max(0.5 * lam, lambda_min)
        # New conjugate direction (Hestenes–Stiefel/Polak–Ribière form), restart every W.
        if n_success == W:
            d = -g
            n_success = 0
        elif success:
            beta = float((g_old - g) @ g) / mu
            d = beta * d - g


def scg(fun_and_grad, w0, *, max_iter=1000, gtol=1e-6, ftol=1e-12, callback=None, hvp=None,
        sigma0=1e-4, lambda0=1e-6, lambda_min=1e-15, lambda_max=1e100):
    r"""Scaled conjugate gradients (Møller 1993).

    Parameters
    ----------
    hvp : callable ``hvp(w, v) -> H v``, optional
        Exact Hessian-vector product (e.g. ``Objective.hvp``); replaces the
        finite-difference curvature, saving one gradient evaluation per step.
    sigma0 : float
        Finite-difference scale: σ = σ₀/‖d‖.
    lambda0, lambda_min, lambda_max : float
        Initial value and bounds of the scale λ.

    Notes
    -----
    With :math:`\mathbf{s} \approx \mathbf{H}\mathbf{d}`,

    .. math:: \delta = \mathbf{d}^\mathrm{T}\mathbf{s} + \lambda\|\mathbf{d}\|^2, \qquad
              \alpha = -\frac{\mathbf{d}^\mathrm{T}\mathbf{g}}{\delta}, \qquad
              \Delta = \frac{2\,[E(\mathbf{w} + \alpha\mathbf{d}) - E(\mathbf{w})]}
              {\alpha\, \mathbf{d}^\mathrm{T}\mathbf{g}}

    The step is taken if Δ ≥ 0; λ is multiplied by 4 if Δ < 1/4 and halved if
    Δ > 3/4. Each iteration costs two evaluations of (E, ∇E) (one with
    ``hvp``, plus one H·v). An iteration (``nit``, callback) is a successful
    step; rejected steps only count in ``nfev``.
    """
    for name, v in (("sigma0", sigma0), ("lambda0", lambda0), ("lambda_min", lambda_min),
                    ("lambda_max", lambda_max)):
        if not v > 0:
            raise ValueError(f"scg: {name} must be > 0; got {v!r}")
    if hvp is not None and not callable(hvp):
        raise ValueError("scg: hvp must be callable hvp(w, v) -> H v, or None")
    run = Run(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol, callback=callback,
              method="scg")
    return run.drive(_body, hvp=hvp, sigma0=sigma0, lambda0=lambda0, lambda_min=lambda_min,
                     lambda_max=lambda_max)
