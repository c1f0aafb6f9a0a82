r"""The Hessian as a SciPy ``LinearOperator``: curvature without forming H.

SciPy's iterative solvers and eigensolvers need only products
:math:`\mathbf{H}\mathbf{v}`, which the R-operator gives exactly in about two
gradient evaluations (§5.4.6). So a network of any size can have its extreme
Hessian eigenvalues (:func:`extreme_eigenvalues`) or Newton steps computed
with :math:`O(W)` memory.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.sparse import linalg as sla

from .rop import _hvp, check_direction
from ..network import Network
from ..distributed import DistributedObjective
from ..objective import Objective

#: what carries its own data and Hessian-vector products: the objective, local or on a cluster
_OBJECTIVES = (Objective, DistributedObjective)
from .._rng import as_rng

__all__ = ["linear_operator", "extreme_eigenvalues", "Eigenvalues"]


def linear_operator(net, w, X=None, T=None, *, alpha=0.0):
    r"""A symmetric :class:`scipy.sparse.linalg.LinearOperator` for
    :math:`\mathbf{H} + \alpha\mathbf{I}`.

    Parameters
    ----------
    net : Network, Objective or DistributedObjective
        With a :class:`~prmlnet.Network`, ``X`` and ``T`` give the data and the
        operator is the Hessian of the data error :math:`E_D` (sum over
        patterns) plus ``alpha`` times the identity. With a
        :class:`~prmlnet.Objective`, the operator is that objective's Hessian
        (for example :math:`\beta\mathbf{H} + \mathrm{diag}(\boldsymbol\alpha)`)
        plus ``alpha`` I; leave ``X``, ``T`` out. Anything else is a ValueError.
    w : ndarray of shape (W,)
    alpha : float, default 0

    Returns
    -------
    LinearOperator of shape (W, W); ``matvec`` is one R-operator pass and
    ``matmat`` pushes all columns through at once. Nothing W×W is formed.
    """
    alpha = float(alpha)
    if not isinstance(net, (Network, *_OBJECTIVES)):
        raise ValueError(f"linear_operator takes a prmlnet Network (with X and T) or an "
                         f"Objective; got {type(net).__name__}")
    if isinstance(net, _OBJECTIVES):
        if X is not None or T is not None:
            raise ValueError("an objective carries its own data; call "
                             "linear_operator(objective, w) without X and T")
        obj = net
        w = obj.net.check_weights(w)
        W = w.size

        def matvec(v):
            v = np.asarray(v, dtype=float).reshape(-1)
            return obj.hvp(w, v) + alpha * v

        matmat = None
        dtype = obj.net.dtype
    else:
        if X is None or T is None:
            raise ValueError("give the data: linear_operator(net, w, X, T), or pass an "
                             "Objective instead of a Network")
        w, X, T = net.check_data(w, X, T)
        W = net.n_weights
        ws = net.workspace()              # Lanczos asks for many products in a row

        def matvec(v):
            v = check_direction(net, np.asarray(v).reshape(-1))
            return _hvp(net, w, X, T, v, ws=ws) + alpha * v

        def matmat(V):
            V = check_direction(net, np.asarray(V).T, "V")
            return (_hvp(net, w, X, T, V, ws=ws) + alpha * V).T

        dtype = net.dtype
    return sla.LinearOperator((W, W), matvec=matvec, rmatvec=matvec, matmat=matmat,
                              dtype=dtype)


class Eigenvalues(NamedTuple):
    """The ``k`` smallest and ``k`` largest eigenvalues, each in ascending order."""

    smallest: np.ndarray
    largest: np.ndarray


def extreme_eigenvalues(net, w, X=None, T=None, *, k=1, alpha=0.0, tol=1e-10, rng=None):
    r"""The k smallest and k largest eigenvalues of :math:`\mathbf{H} + \alpha\mathbf{I}`.

    By Lanczos iteration (``scipy.sparse.linalg.eigsh``) on
    :func:`linear_operator`: only products :math:`\mathbf{H}\mathbf{v}`, never the
    W×W matrix. Accepts a Network with data or an Objective, like
    :func:`linear_operator`.

    Notes
    -----
    Away from a minimum :math:`\mathbf{H}` is indefinite; the smallest
    eigenvalues are then negative and are returned as they are (a negative
    one flags a saddle or a non-convex region; nothing is clipped). For
    W <= 2k + 1 the dense eigenvalues are computed instead.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    k = int(k)
    op = linear_operator(net, w, X, T, alpha=alpha)
    W = op.shape[0]
    if k > W:
        raise ValueError(f"k = {k} asks for more eigenvalues at each end than the W = {W} "
                         "the Hessian has; give k <= W")
    if W <= 2 * k + 1:
        lam = np.linalg.eigvalsh(op.matmat(np.eye(W)) if op.shape[0] else np.zeros((0, 0)))
        return Eigenvalues(lam[:k], lam[-k:])
    rng = as_rng(rng)
    v0 = rng.standard_normal(W)
    lam = sla.eigsh(op, k=2 * k, which="BE", v0=v0, tol=tol, return_eigenvectors=False)
    lam = np.sort(lam)
    return Eigenvalues(lam[:k], lam[-k:])
