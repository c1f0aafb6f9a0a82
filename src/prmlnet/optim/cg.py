r"""Nonlinear conjugate gradients, Polak–Ribière with restarts (PRML §5.2.4 points to it;
Nocedal & Wright 2006, §5.2)."""

from __future__ import annotations

import math

from .linesearch import wolfe
from .result import Run

__all__ = ["cg"]


def _body(run, x, f, g, *, c1, c2, restart):
    W = x.size
    restart = W if restart is None else restart
    d = -g
    gg = float(g @ g)
    dg = -gg
    alpha1 = min(1.0, 1.0 / math.sqrt(gg))
    k = 0
    while True:
        alpha, x, f, g_new = wolfe(run, x, f, g, d, dg, alpha1, c1=c1, c2=c2)
        run.accept(x, f, g_new, alpha * math.sqrt(float(d @ d)))
        gg_new = float(g_new @ g_new)
        g_old_new = float(g_new @ g)
        k += 1
        # Polak–Ribière, clipped at 0 (PR+): β = g_{k+1}ᵀ(g_{k+1} − g_k) / g_kᵀg_k.
        beta = max(0.0, (gg_new - g_old_new) / gg)
        # Restart with steepest descent every `restart` steps, or when successive
        # gradients are far from orthogonal (Powell 1977).
        if k % restart == 0 or abs(g_old_new) >= 0.2 * gg_new:
            beta = 0.0
        d_new = -g_new + beta * d if beta else -g_new
        dg_new = float(g_new @ d_new)
        if dg_new >= 0.0:                              # not a descent direction
            d_new, dg_new = -g_new, -gg_new
        alpha1 = alpha * dg / dg_new                    # N&W (3.60): same first-order change
        d, dg, g, gg = d_new, dg_new, g_new, gg_new


def cg(fun_and_grad, w0, *, max_iter=1000, gtol=1e-6, ftol=1e-12, callback=None, hvp=None,
       c1=1e-4, c2=0.1, restart=None):
    r"""Nonlinear conjugate gradients (Polak–Ribière+, restarts, strong-Wolfe line search).

    Parameters
    ----------
    c1, c2 : float
        Strong-Wolfe constants (``c2 = 0.1``: a fairly exact line search, as
        conjugacy needs; a tiny ``c2`` gives exact line minimisation).
    restart : int, optional
        Restart with steepest descent every ``restart`` iterations (default W).

    Notes
    -----
    .. math:: \mathbf{d}_{k+1} = -\mathbf{g}_{k+1} + \beta_k \mathbf{d}_k, \qquad
              \beta_k = \max\Big(0, \frac{\mathbf{g}_{k+1}^\mathrm{T}(\mathbf{g}_{k+1}
              - \mathbf{g}_k)}{\mathbf{g}_k^\mathrm{T}\mathbf{g}_k}\Big)

    On a quadratic with exact line searches the directions are mutually
    conjugate and the minimum is reached in at most W iterations. ``hvp`` is
    ignored.
    """
    if not 0 < c1 < c2 < 1:
        raise ValueError(f"cg: need 0 < c1 < c2 < 1; got c1={c1}, c2={c2}")
    if restart is not None and (int(restart) != restart or restart < 1):
        raise ValueError(f"cg: restart must be a positive integer; got {restart!r}")
    run = Run(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol, callback=callback,
              method="cg")
    return run.drive(_body, c1=c1, c2=c2, restart=restart)
