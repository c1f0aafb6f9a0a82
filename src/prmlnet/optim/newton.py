r"""Trust-region Newton–CG with exact Hessian-vector products (§5.4.6 in training).

Newton's method minimises the local quadratic model
:math:`m(\mathbf{p}) = E + \mathbf{g}^\mathrm{T}\mathbf{p}
+ \tfrac12\mathbf{p}^\mathrm{T}\mathbf{H}\mathbf{p}`
at each step. With the R-operator, :math:`\mathbf{H}\mathbf{p}` costs about two
gradients and :math:`\mathbf{H}` is never formed, so the model is minimised by
conjugate gradients (Steihaug 1983; Nocedal & Wright 2006, Alg. 7.2) inside a
trust region of radius Δ:

- CG stops early when the residual is small (inexact Newton, forcing term
  :math:`\min(\tfrac12, \sqrt{\|\mathbf{g}\|})\|\mathbf{g}\|`, superlinear convergence);
- **negative curvature** :math:`\mathbf{d}^\mathrm{T}\mathbf{H}\mathbf{d} \le 0` — a
  network's Hessian is indefinite away from a minimum — is followed to the
  trust-region boundary, a descent step that Newton's method without a trust
  region could not take;
- the radius grows or shrinks with the ratio ρ of the actual to the predicted
  decrease (Nocedal & Wright, Alg. 4.1).
"""

from __future__ import annotations

import math

import numpy as np

from .result import Run, Status, Stop

__all__ = ["newton"]


def _to_boundary(z, d, radius):
    """τ >= 0 with ‖z + τ d‖ = radius."""
    a, b, c = d @ d, 2.0 * (z @ d), z @ z - radius * radius
    return (-b + math.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)


def _steihaug(Hv, g, radius, tol, max_cg):
    r"""Approximately minimise :math:`\mathbf{g}^\mathrm{T}\mathbf{p}
    + \tfrac12\mathbf{p}^\mathrm{T}\mathbf{H}\mathbf{p}` over ‖p‖ <= radius by CG.

    Returns ``(p, r, on_boundary)`` with r = g + H p."""
    z = np.zeros_like(g)
    r = g.copy()
    d = -r
    rr = float(r @ r)
    for _ in range(max_cg):
        Bd = Hv(d)
        dBd = float(d @ Bd)
        if dBd <= 0.0:                                  # negative curvature: go to the edge
            tau = _to_boundary(z, d, radius)
            return z + tau * d, r + tau * Bd, True
        alpha = rr / dBd
        z_new = z + alpha * d
        if float(z_new @ z_new) >= radius * radius:    # leaves the region: stop on its edge
            tau = _to_boundary(z, d, radius)
            return z + tau * d, r + tau * Bd, True
        z = z_new
        r = r + alpha * Bd
        rr_new = float(r @ r)
        if math.sqrt(rr_new) <= tol:
            break
        d = -r + (rr_new / rr) * d
        rr = rr_new
    return z, r, False


def _body(run, x, f, g, *, hvp, radius0, max_radius, eta, max_cg, cg_rtol):
    radius = radius0 if radius0 is not None else max(1.0, float(np.linalg.norm(g))) * 0.1
    while True:
        gnorm = float(np.linalg.norm(g))
        tol = (min(0.5, math.sqrt(gnorm)) if cg_rtol is None else cg_rtol) * gnorm
        p, r, on_boundary = _steihaug(lambda v: run.hvp(hvp, x, v), g, radius, tol,
                                      max_cg or 2 * x.size)
        predicted = -0.5 * float((g + r) @ p)           # m(0) - m(p), m = gᵀp + ½pᵀHp
        plen = float(np.linalg.norm(p))
        if not predicted > 0.0:
            raise Stop(Status.CONVERGED, "converged: the quadratic model predicts no decrease")
        x_new = x + p
        f_new, g_new = run.evaluate(x_new)
        rho = (f - f_new) / predicted if math.isfinite(f_new) else -math.inf
        if rho < 0.25:                                  # poor model: shrink the region
            radius = 0.25 * plen
        elif rho > 0.75 and on_boundary:                # good model, step limited: grow it
            radius = min(2.0 * radius, max_radius)
        if rho > eta:
            x, f, g = x_new, f_new, g_new
            run.accept(x, f, g, plen)
        elif radius < 1e-14 * max(1.0, float(np.linalg.norm(x))):
            raise Stop(Status.LINE_SEARCH_FAILED,
                       "newton: the trust region shrank to nothing without a decrease")


def _finite_difference_hvp(fun_and_grad, run):
    """H·v ≈ (∇E(w + εv) − ∇E(w − εv)) / 2ε: two gradients, counted in nfev."""

    def hvp(w, v):
        eps = 1e-6 * max(1.0, float(np.linalg.norm(w))) / max(float(np.linalg.norm(v)), 1e-300)
        run.nfev += 2
        return (fun_and_grad(w + eps * v)[1] - fun_and_grad(w - eps * v)[1]) / (2.0 * eps)

    return hvp


def newton(fun_and_grad, w0, *, max_iter=1000, gtol=1e-6, ftol=1e-12, callback=None, hvp=None,
           radius0=None, max_radius=1e3, eta=0.1, max_cg=None, cg_rtol=None):
    r"""Trust-region Newton–CG (Steihaug) using exact Hessian-vector products.

    Parameters
    ----------
    hvp : callable ``hvp(w, v) -> H v``, optional
        Exact Hessian-vector product, e.g. ``Objective.hvp`` (R-operator). If
        omitted and ``fun_and_grad`` has an ``hvp`` method (an Objective), that
        is used; otherwise central differences of the gradient (two extra
        gradient evaluations per product, counted in ``nfev``).
    radius0 : float, optional
        Initial trust-region radius (default ``0.1 · max(1, ‖g₀‖)``).
    max_radius : float
        Largest radius.
    eta : float in [0, 1/4)
        A step is accepted when the actual decrease is more than ``eta`` times
        the predicted one.
    max_cg : int, optional
        CG iterations per step (default 2W).
    cg_rtol : float, optional
        CG stops when the residual falls below ``cg_rtol · ‖g‖``; default the
        forcing term ``min(1/2, √‖g‖)`` (Nocedal & Wright 2006, §7.1). A small
        value (say 1e-3) solves each Newton system more accurately: fewer
        iterations (gradient evaluations), more H·v products each.

    Notes
    -----
    Each iteration costs one (E, ∇E) evaluation and a few H·v products
    (``nhev``). Near a minimum with positive definite H the convergence is
    superlinear; at a saddle, negative curvature is used to escape it.
    """
    if hvp is None and callable(getattr(fun_and_grad, "hvp", None)):
        hvp = fun_and_grad.hvp
    if hvp is not None and not callable(hvp):
        raise ValueError("newton: hvp must be callable hvp(w, v) -> H v, or None")
    if radius0 is not None and not radius0 > 0:
        raise ValueError(f"newton: radius0 must be > 0; got {radius0!r}")
    if not max_radius > 0:
        raise ValueError(f"newton: max_radius must be > 0; got {max_radius!r}")
    if not 0 <= eta < 0.25:
        raise ValueError(f"newton: eta must be in [0, 0.25); got {eta!r}")
    if cg_rtol is not None and not 0 < cg_rtol < 1:
        raise ValueError(f"newton: cg_rtol must be in (0, 1); got {cg_rtol!r}")
    if max_cg is not None and not (int(max_cg) == max_cg and max_cg >= 1):
        raise ValueError(f"newton: max_cg must be a positive integer; got {max_cg!r}")
    run = Run(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol, callback=callback,
              method="newton")
    if hvp is None:
        hvp = _finite_difference_hvp(fun_and_grad, run)
    return run.drive(_body, hvp=hvp, radius0=radius0, max_radius=max_radius, eta=eta,
                     max_cg=max_cg, cg_rtol=cg_rtol)
