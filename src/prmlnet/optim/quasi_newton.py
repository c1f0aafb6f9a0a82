r"""Quasi-Newton methods (PRML §5.2.4 points to them; Nocedal & Wright 2006, ch. 6–7):
BFGS with an O(W²) update of the inverse Hessian, and limited-memory BFGS.

Both build from gradient differences :math:`\mathbf{y}_k = \mathbf{g}_{k+1} - \mathbf{g}_k`
along steps :math:`\mathbf{s}_k = \mathbf{w}_{k+1} - \mathbf{w}_k` an approximation
of the *inverse* Hessian, so no linear system is ever solved, and take the
step from a strong-Wolfe line search (which guarantees
:math:`\mathbf{s}^\mathrm{T}\mathbf{y} > 0`, keeping the approximation positive definite).
"""

from __future__ import annotations

import math
import numpy as np

from .linesearch import wolfe
from .result import Run

__all__ = ["bfgs", "lbfgs"]


def _bfgs_body(run, x, f, g, *, c1, c2):
    # Level-2 BLAS on the upper triangle of the symmetric H (Fortran order, updated
    # in place): a few µs per iteration for small W, where numpy's temporaries dominate.
    from scipy.linalg.blas import dsymv, dsyr, dsyr2

    W = x.size
    Hinv = None                                        # identity until the first step
    alpha1 = min(1.0, 1.0 / math.sqrt(float(g @ g)))
    while True:
        d = -g if Hinv is None else dsymv(-1.0, Hinv, g)
        dg = float(g @ d)
        if dg >= 0.0:                                  # lost positive definiteness: reset
            Hinv, d, dg = None, -g, -float(g @ g)
        alpha, x_new, f, g_new = wolfe(run, x, f, g, d, dg, alpha1, c1=c1, c2=c2)
        s = x_new - x
        y = g_new - g
        sy = float(s @ y)
        yy = float(y @ y)
        if sy > 1e-12 * math.sqrt(float(s @ s) * yy):
            if Hinv is None:                           # scale H₀ = (sᵀy / yᵀy) I  (N&W 6.20)
                Hinv = np.asfortranarray(np.eye(W) * (sy / yy))
            # Inverse update in O(W²) (N&W 6.17):
            # H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
            #   = H − ρ (H y sᵀ + s yᵀH) + (ρ² yᵀHy + ρ) s sᵀ,   ρ = 1 / sᵀy
            rho = 1.0 / sy
            Hy = dsymv(1.0, Hinv, y)
            c = rho * rho * float(y @ Hy) + rho
            dsyr2(-rho, Hy, s, a=Hinv, overwrite_a=1)
            dsyr(c, s, a=Hinv, overwrite_a=1)
        x, g = x_new, g_new
        alpha1 = 1.0
        run.accept(x, f, g, math.sqrt(float(s @ s)))


class _Pairs:
    """The last ``m`` pairs (s, y), oldest first, as the rows of Z = [S; Y] (2m × W),
    with R = triu(SᵀY) and YᵀY kept up to date, so that H g costs a handful of array
    operations. Unused rows are zero and R has ones on their diagonal, so every
    array keeps its full size m and no slicing is needed."""

    def __init__(self, m, W):
        from scipy.linalg.blas import dtrsv      # triangular solve, ~1 µs for small m

        self._trsv = dtrsv
        self.m = m
        self.Z = np.zeros((2 * m, W))
        self.S, self.Y = self.Z[:m], self.Z[m:]
        self.R = np.asfortranarray(np.eye(m))     # R_ij = s_iᵀ y_j for i <= j
        self.YY = np.zeros((m, m))
        self.D = np.ones(m)                       # s_iᵀ y_i
        self.coef = np.empty(2 * m)
        self.k = 0
        self.gamma = 1.0

    def add(self, s, y, sy, yy):
        S, Y, R, YY, m = self.S, self.Y, self.R, self.YY, self.m
        k = self.k
        if k == m:                                # full: drop the oldest pair
            S[:-1], Y[:-1] = S[1:], Y[1:]
            R[:-1, :-1], YY[:-1, :-1] = R[1:, 1:], YY[1:, 1:]
            self.D[:-1] = self.D[1:]
            k -= 1
        S[k], Y[k] = s, y
        R[:k, k] = S[:k] @ y                      # s_iᵀ y_k, i < k
        R[k, k] = self.D[k] = sy
        YY[k, :k] = YY[:k, k] = Y[:k] @ y
        YY[k, k] = yy
        self.k = k + 1
        self.gamma = sy / yy                      # H₀ = γ I  (N&W 7.20)

    def direction(self, g):
        """−H g by the compact representation (Byrd, Nocedal & Schnabel 1994), which
        equals the two-loop recursion (N&W Algorithm 7.4) with H₀ = γI, γ = sᵀy/yᵀy
        of the latest pair (N&W 7.20):

        H g = γ g + [S; γY]ᵀ p,  u = R⁻¹ Sᵀg,  p = [R⁻ᵀ(D u + γ YᵀY u − γ Yᵀg); −u]
        """
        if self.k == 0:
            return -g
        m, gamma, coef = self.m, self.gamma, self.coef
        ab = self.Z @ g                                          # [Sᵀg; Yᵀg]
        u = self._trsv(self.R, ab[:m])                           # R⁻¹ Sᵀg
        v = self.YY @ u
        v -= ab[m:]
        v *= gamma
        v += self.D * u
        coef[:m] = self._trsv(self.R, v, trans=1)                # R⁻ᵀ v
        np.multiply(u, -gamma, out=coef[m:])
        h = coef @ self.Z
        h += gamma * g
        h *= -1.0
        return h

    def clear(self):
        self.__init__(self.m, self.Z.shape[1])


def _lbfgs_body(run, x, f, g, *, memory, c1, c2):
    pairs = _Pairs(memory, x.size)
    alpha1 = min(1.0, 1.0 / math.sqrt(float(g @ g)))
    while True:
        d = pairs.direction(g)
        dg = float(g @ d)
        if dg >= 0.0:
            pairs.clear()
            d, dg = -g, -float(g @ g)
        alpha, x_new, f, g_new = wolfe(run, x, f, g, d, dg, alpha1, c1=c1, c2=c2)
        s = x_new - x
        y = g_new - g
        sy = float(s @ y)
        yy = float(y @ y)
        if sy > 1e-12 * math.sqrt(float(s @ s) * yy):
            pairs.add(s, y, sy, yy)
        x, g = x_new, g_new
        alpha1 = 1.0
        run.accept(x, f, g, math.sqrt(float(s @ s)))


def _check_wolfe(name, c1, c2):
    if not 0 < c1 < c2 < 1:
        raise ValueError(f"{name}: need 0 < c1 < c2 < 1; got c1={c1}, c2={c2}")


def bfgs(fun_and_grad, w0, *, max_iter=1000, gtol=1e-6, ftol=1e-12, callback=None, hvp=None,
         c1=1e-4, c2=0.9):
    r"""BFGS with the inverse-Hessian update in O(W²) per iteration.

    Notes
    -----
    .. math:: \mathbf{H}_{k+1} = (\mathbf{I} - \rho\,\mathbf{s}\mathbf{y}^\mathrm{T})
              \mathbf{H}_k (\mathbf{I} - \rho\,\mathbf{y}\mathbf{s}^\mathrm{T})
              + \rho\,\mathbf{s}\mathbf{s}^\mathrm{T}, \qquad \rho = 1/\mathbf{s}^\mathrm{T}\mathbf{y}

    expanded so that only matrix-vector products and rank-one updates occur.
    Memory W²; ``hvp`` is ignored.
    """
    _check_wolfe("bfgs", c1, c2)
    run = Run(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol, callback=callback,
              method="bfgs")
    return run.drive(_bfgs_body, c1=c1, c2=c2)


def lbfgs(fun_and_grad, w0, *, max_iter=1000, gtol=1e-6, ftol=1e-12, callback=None, hvp=None,
          memory=10, c1=1e-4, c2=0.9):
    r"""Limited-memory BFGS: the inverse Hessian from the last ``memory`` pairs (s, y).

    Parameters
    ----------
    memory : int
        Number m of stored pairs; memory and work O(m W) per iteration.

    Notes
    -----
    The product :math:`\mathbf{H}\mathbf{g}` is the two-loop recursion's
    (Nocedal & Wright 2006, Algorithm 7.4), formed in the compact representation
    (Byrd, Nocedal & Schnabel 1994) — a few matrix products instead of 4m
    vector operations, which matters for small W — with
    :math:`\mathbf{H}_0 = (\mathbf{s}^\mathrm{T}\mathbf{y}/\mathbf{y}^\mathrm{T}\mathbf{y})\,\mathbf{I}`
    from the latest pair. ``hvp`` is ignored.
    """
    _check_wolfe("lbfgs", c1, c2)
    if int(memory) != memory or memory < 1:
        raise ValueError(f"lbfgs: memory must be a positive integer; got {memory!r}")
    run = Run(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol, callback=callback,
              method="lbfgs")
    return run.drive(_lbfgs_body, memory=int(memory), c1=c1, c2=c2)
