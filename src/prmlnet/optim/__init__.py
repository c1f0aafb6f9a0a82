r"""Training (PRML §5.2): batch methods behind one front door, and online methods.

Batch methods
-------------
:func:`minimize` ``(fun_and_grad, w0, method=...)`` with ``fun_and_grad(w) -> (E, ∇E)``
(an :class:`~prmlnet.objective.Objective` is such a callable):

==========  ============================================================
``gd``      gradient descent (5.41): fixed rate, momentum, or line search
``cg``      conjugate gradients, Polak–Ribière+ with restarts, Wolfe line search
``scg``     scaled conjugate gradients (Møller 1993), optional exact H·v
``bfgs``    BFGS, O(W²) inverse-Hessian update, Wolfe line search
``lbfgs``   limited-memory BFGS (two-loop recursion)
``newton``  trust-region Newton–CG (Steihaug) with exact H·v
==========  ============================================================

Every method is a function ``f(fun_and_grad, w0, *, max_iter, gtol, ftol, callback,
hvp, **options) -> OptimizeResult`` in the registry :data:`METHODS`; a new method
is one more entry. Results carry scipy's field names, a :class:`Status` and a
per-iteration :class:`History`. Ctrl-C returns the best weights seen
(``Status.INTERRUPTED``); a NaN error stops with the last finite weights
(``Status.NONFINITE``).

Online methods
--------------
:mod:`prmlnet.optim.online`: ``sgd`` (5.43), ``momentum``, ``adam`` as pure
``(init, update)`` pairs, learning-rate schedules and :func:`train_online`.
"""

from __future__ import annotations

import inspect

from . import online
from .callbacks import EarlyStopping
from .cg import cg
from .gd import gd
from .online import train_online
from .quasi_newton import bfgs, lbfgs
from .result import History, IterInfo, OptimizeResult, Status
from .scg import scg
from .newton import newton

__all__ = [
    "minimize", "METHODS", "scipy_method",
    "OptimizeResult", "Status", "History", "IterInfo", "EarlyStopping",
    "gd", "cg", "scg", "bfgs", "lbfgs", "newton",
    "online", "train_online",
]

#: name -> batch method ``f(fun_and_grad, w0, *, max_iter, gtol, ftol, callback, hvp, **options)``
METHODS = {"gd": gd, "cg": cg, "scg": scg, "bfgs": bfgs, "lbfgs": lbfgs, "newton": newton}

_COMMON = {"max_iter", "gtol", "ftol", "callback", "hvp"}


def minimize(fun_and_grad, w0, method="scg", *, max_iter=1000, gtol=1e-6, ftol=1e-12,
             callback=None, hvp=None, **options) -> OptimizeResult:
    r"""Minimise E(w) from ``w0`` with a batch method.

    Parameters
    ----------
    fun_and_grad : callable ``w -> (E, ∇E)``
        Error and gradient from one pass, e.g. an
        :class:`~prmlnet.objective.Objective`. It must return a new gradient
        array on each call (the methods keep earlier gradients), and must not
        modify ``w``.
    w0 : ndarray of shape (W,)
        Starting weights (copied, never modified).
    method : str
        A key of :data:`METHODS`: ``gd``, ``cg``, ``scg`` (default), ``bfgs``,
        ``lbfgs``.
    max_iter : int
        Largest number of iterations (accepted steps).
    gtol : float
        Converged when :math:`\|\nabla E\|_\infty \le` ``gtol``. Errors are sums
        over patterns, so scale ``gtol`` with N if needed.
    ftol : float
        Converged when a step lowers E by at most ``ftol · max(|E_old|, |E|, u)``
        with ``u = min(1, |E(w0)|)``: relative to E, and to its size at the start
        when E is small, so the test does not depend on E's units; 0 switches
        this test off.
    callback : callable ``info -> bool``, optional
        Called once per iteration with an :class:`IterInfo` (``x, fun, jac,
        nit, nfev, elapsed``); returning True (or raising StopIteration)
        stops the run with ``Status.CALLBACK_STOP``. See :class:`EarlyStopping`.
    hvp : callable ``(w, v) -> H v``, optional
        Exact Hessian-vector product for methods that use curvature (``scg``).
    **options
        Method options, e.g. ``learning_rate``, ``momentum``, ``line_search``
        for ``gd``; ``memory`` for ``lbfgs``; ``c1``, ``c2`` for line searches.

    Returns
    -------
    OptimizeResult
        ``x, fun, jac, nit, nfev, njev, nhev, success, status, message, history``.

    Examples
    --------
    >>> import numpy as np
    >>> res = minimize(lambda w: (0.5 * w @ w, w), np.array([3.0, -4.0]), method="cg")
    >>> res.status.name, bool(np.allclose(res.x, 0.0))
    ('CONVERGED', True)
    """
    fn = METHODS.get(method) if isinstance(method, str) else None
    if fn is None:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    allowed = [p for p in inspect.signature(fn).parameters if p not in _COMMON][2:]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"method {method!r} has no option {', '.join(unknown)}; "
                         f"its options are: {', '.join(allowed) or 'none'}")
    return fn(fun_and_grad, w0, max_iter=max_iter, gtol=gtol, ftol=ftol, callback=callback,
              hvp=hvp, **options)


def scipy_method(name):
    """One of our methods as a custom method for :func:`scipy.optimize.minimize`.

    Examples
    --------
    >>> import numpy as np, scipy.optimize
    >>> res = scipy.optimize.minimize(lambda w: (0.5 * w @ w, w), np.ones(3), jac=True,
    ...                               method=scipy_method("lbfgs"))
    >>> bool(res.success)
    True

    ``fun`` may return ``(E, ∇E)`` (``jac=True``) or ``jac`` may be a function;
    scipy's ``options`` pass through (``maxiter`` → ``max_iter``, ``tol`` →
    ``gtol``); ``hessp`` becomes ``hvp``. A scipy-style ``callback(xk)`` or
    ``callback(intermediate_result)`` is supported.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(sorted(METHODS))}")

    def method(fun, x0, args=(), jac=None, hess=None, hessp=None, bounds=None,
               constraints=(), callback=None, **options):
        if bounds is not None or constraints:
            raise ValueError(f"{name}: bounds and constraints are not supported")
        if not callable(jac):
            raise ValueError(f"{name} needs gradients: pass jac=True (fun returns (E, grad)) "
                             "or jac=<gradient function>")

        def fun_and_grad(w):
            return fun(w, *args), jac(w, *args)

        options = dict(options)
        if "maxiter" in options:
            options["max_iter"] = options.pop("maxiter")
        if "tol" in options:
            options["gtol"] = options.pop("tol")
        options.pop("disp", None)
        hvp = None
        if hessp is not None:
            def hvp(w, v):
                return hessp(w, v, *args)
        cb = None
        if callback is not None:
            keyword = set(inspect.signature(callback).parameters) == {"intermediate_result"}

            def cb(info):
                if keyword:
                    return callback(intermediate_result=OptimizeResult(x=info.x.copy(),
                                                                       fun=info.fun))
                return callback(info.x.copy())
        return minimize(fun_and_grad, x0, name, callback=cb, hvp=hvp, **options)

    method.__name__ = method.__qualname__ = f"prmlnet_{name}"
    return method
