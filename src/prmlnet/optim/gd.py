r"""Batch gradient descent (5.41): fixed learning rate, momentum, or a line search."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .linesearch import wolfe
from .result import Run

__all__ = ["gd"]


def _fixed(run, x, f, g, *, learning_rate, momentum):
    eta, mu = learning_rate, momentum
    dw = None
    while True:
        # (5.41): w ← w − η ∇E, plus μ times the previous step with momentum; one new
        # array for the step, one for w (the run keeps both), no other temporaries.
        step = np.multiply(g, -eta)
        if dw is not None and mu != 0.0:
            step += mu * dw
        x = step + x
        f, g = run.evaluate(x)
        dw = step
        run.accept(x, f, g, float(math.sqrt(step @ step)))


def _searched(run, x, f, g, *, c1, c2):
    gg = float(g @ g)
    alpha1 = min(1.0, 1.0 / math.sqrt(gg))
    while True:
        d = -g
        alpha, x, f_new, g = wolfe(run, x, f, g, d, -gg, alpha1, c1=c1, c2=c2)
        gg_new = float(g @ g)
        alpha1 = alpha * gg / gg_new if gg_new > 0 else alpha   # N&W (3.60)
        run.accept(x, f_new, g, alpha * math.sqrt(gg))
        f, gg = f_new, gg_new


def gd(fun_and_grad, w0, *, max_iter=1000, gtol=1e-6, ftol=1e-12, callback=None, hvp=None,
       learning_rate=None, momentum=0.0, line_search=False, c1=1e-4, c2=0.9):
    r"""Batch gradient descent.

    Parameters
    ----------
    learning_rate : float > 0
        η of (5.41); required unless ``line_search=True``.
    momentum : float in [0, 1)
        μ: each step adds μ times the previous step (Bishop 1995, §7.5.2; not
        one of PRML's equations). Only with a fixed learning rate.
    line_search : bool
        Steepest descent: the step along −∇E chosen by the strong-Wolfe line
        search (``c1``, ``c2``) instead of a fixed η.

    Notes
    -----
    .. math:: \mathbf{w}^{(\tau+1)} = \mathbf{w}^{(\tau)} - \eta \nabla E(\mathbf{w}^{(\tau)})
              + \mu\, \Delta\mathbf{w}^{(\tau-1)} \quad (5.41\ \text{with}\ \mu = 0)

    With a fixed η the error may rise; if it becomes NaN or infinite the run
    stops with ``Status.NONFINITE`` and the last finite weights. ``hvp`` is
    ignored. One evaluation of (E, ∇E) per iteration with a fixed rate.
    """
    run = Run(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol, callback=callback,
              method="gd")
    if line_search:
        if learning_rate is not None or momentum:
            raise ValueError("gd: give either line_search=True or learning_rate (with momentum), "
                             "not both")
        if not 0 < c1 < c2 < 1:
            raise ValueError(f"gd: need 0 < c1 < c2 < 1; got c1={c1}, c2={c2}")
        run.max_nonfinite = 40
        return run.drive(_searched, c1=c1, c2=c2)
    if learning_rate is None:
        raise ValueError("gd needs learning_rate=<float > 0> (or line_search=True)")
    if not (isinstance(learning_rate, Real) and learning_rate > 0 and math.isfinite(learning_rate)):
        raise ValueError(f"gd: learning_rate must be a finite number > 0; got {learning_rate!r}")
    if not (isinstance(momentum, Real) and 0 <= momentum < 1):
        raise ValueError(f"gd: momentum must be in [0, 1); got {momentum!r}")
    run.max_nonfinite = 1
    return run.drive(_fixed, learning_rate=float(learning_rate), momentum=float(momentum))
