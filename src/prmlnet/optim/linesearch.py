r"""A line search that meets the strong Wolfe conditions (Nocedal & Wright 2006,
Algorithms 3.5 and 3.6), with cubic interpolation.

Along a descent direction :math:`\mathbf{d}` from :math:`\mathbf{w}`, with
:math:`\phi(\alpha) = E(\mathbf{w} + \alpha\mathbf{d})`, it finds a step
:math:`\alpha > 0` with

.. math:: \phi(\alpha) \le \phi(0) + c_1 \alpha \phi'(0), \qquad
          |\phi'(\alpha)| \le c_2 |\phi'(0)|, \qquad 0 < c_1 < c_2 < 1.

Every trial evaluates the error *and* its gradient (one backward pass more
than the error alone, but the gradient at the accepted point is then free).
On a quadratic, the cubic through two trials is the quadratic itself, so the
second trial lands on the exact minimiser along the line (§5.2 of PRML uses
exact line minimisation for conjugate gradients).
"""

from __future__ import annotations

import math

from .result import Status, Stop

__all__ = ["wolfe"]


def _cubic_min(a, fa, da, b, fb, db):
    """Minimiser of the cubic through (a, fa, da) and (b, fb, db), or None."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if disc < 0.0:
        return None
    d2 = math.copysign(math.sqrt(disc), b - a)
    denom = db - da + 2.0 * d2
    if denom == 0.0:
        return None
    t = b - (b - a) * (db + d2 - d1) / denom
    return t if math.isfinite(t) else None


def wolfe(run, x, f0, g0, d, dg0, alpha1, c1=1e-4, c2=0.9, max_evals=25):
    """Strong-Wolfe step along ``d``.

    Parameters
    ----------
    run : Run
        Supplies :meth:`Run.evaluate` (counted evaluations).
    x, f0, g0 : the current point, its error and gradient.
    d : ndarray
        A descent direction (``dg0 = g0 @ d < 0``).
    alpha1 : float
        First trial step.

    Returns
    -------
    alpha, x_new, f_new, g_new
        The step and the new point, error and gradient.

    Raises
    ------
    Stop
        :attr:`Status.LINE_SEARCH_FAILED` after ``max_evals`` trials (or
        :attr:`Status.NONFINITE` if the last trial gave a non-finite error).
    """
    a_prev, f_prev, d_prev = 0.0, f0, dg0
    a = alpha1
    # Sufficient decrease, with a slack at the rounding level of E: near a minimum
    # the decrease c1 α φ'(0) falls below the rounding error of E itself, and the
    # derivative conditions must then decide (cf. Hager & Zhang's approximate Wolfe).
    slack = 1e-13 * abs(f0)
    f_ok = f0 + slack
    for i in range(max_evals):
        xa = x + a * d
        fa, ga = run.evaluate(xa)
        if fa == math.inf:                            # overflow: treat as far too long
            a = a_prev + 0.1 * (a - a_prev)
            continue
        da = float(ga @ d)
        if fa > f_ok + c1 * a * dg0 or (i > 0 and fa >= f_prev + slack):
            return _zoom(run, x, f_ok, dg0, d, a_prev, f_prev, d_prev, a, fa, da, c1, c2,
                         max_evals - i - 1, slack)
        if abs(da) <= -c2 * dg0:
            return a, xa, fa, ga
        if da >= 0.0:
            return _zoom(run, x, f_ok, dg0, d, a, fa, da, a_prev, f_prev, d_prev, c1, c2,
                         max_evals - i - 1, slack)
        # Still going down: extrapolate with the cubic, within [1.1 a, 10 a].
        t = _cubic_min(a_prev, f_prev, d_prev, a, fa, da)
        lo, hi = a + 0.1 * (a - a_prev), a + 9.0 * (a - a_prev)
        t = hi if t is None or t > hi or t < a else max(t, lo)
        a_prev, f_prev, d_prev, a = a, fa, da, t
    raise Stop(Status.NONFINITE if run.n_nonfinite else Status.LINE_SEARCH_FAILED)


def _zoom(run, x, f0, dg0, d, lo, flo, dlo, hi, fhi, dhi, c1, c2, evals, slack):
    """Algorithm 3.6: shrink [lo, hi] (``lo`` the best step so far) to a Wolfe step.

    ``f0`` is φ(0) plus the rounding slack."""
    for _ in range(max(evals, 1) + 5):
        width = hi - lo
        t = None if fhi == math.inf else _cubic_min(lo, flo, dlo, hi, fhi, dhi)
        margin = 0.01 * abs(width)
        if t is None or not (min(lo, hi) + margin <= t <= max(lo, hi) - margin):
            t = lo + 0.5 * width
        xt = x + t * d
        ft, gt = run.evaluate(xt)
        if ft == math.inf:
            hi, fhi, dhi = t, ft, math.nan
            continue
        dt = float(gt @ d)
        if ft > f0 + c1 * t * dg0 or ft > flo + slack:
            hi, fhi, dhi = t, ft, dt
        else:
            if abs(dt) <= -c2 * dg0:
                return t, xt, ft, gt
            if dt * (hi - lo) >= 0.0:
                hi, fhi, dhi = lo, flo, dlo
            lo, flo, dlo = t, ft, dt
        if abs(hi - lo) <= 1e-10 * max(abs(lo), abs(hi)):     # relative: steps of any size
            break
    if lo > 0.0 and flo < f0:                         # not Wolfe, but a decrease: take it
        xl = x + lo * d
        fl, gl = run.evaluate(xl)
        return lo, xl, fl, gl
    raise Stop(Status.NONFINITE if run.n_nonfinite else Status.LINE_SEARCH_FAILED)
