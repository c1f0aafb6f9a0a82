"""The hyperparameter checks of the estimators, run before any work (a mix-in of
:class:`~prmlnet.estimators._base.BaseMLP`): a bad value is a one-line ValueError."""

from __future__ import annotations

import math

import numpy as np

from . import _invariance, _weight_prior

__all__ = ["ParamChecks", "ONLINE_METHODS", "batch_methods"]

ONLINE_METHODS = ("sgd", "momentum", "adam")


def _is_int(v) -> bool:
    """An integer that is not a bool (True is not a size or an iteration count)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v) -> bool:
    """A real number that is not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) and \
        not isinstance(v, (bool, np.bool_))


def batch_methods():
    """The names of the batch methods of :func:`prmlnet.optim.minimize`."""
    from ..optim import METHODS
    return tuple(METHODS)


class ParamChecks:
    """Checks of the hyperparameters every estimator shares."""

    def _hidden_sizes(self):
        h = self.hidden_layer_sizes
        if isinstance(h, (int, np.integer)):
            h = (h,)
        try:
            h = tuple(h)
        except TypeError:
            h = None
        if h is None or not all(_is_int(m) and m >= 1 for m in h):
            raise ValueError(f"hidden_layer_sizes must be a sequence of positive integers "
                             f"like (10,) or (20, 10); got {self.hidden_layer_sizes!r}")
        return tuple(int(m) for m in h)

    def _check_architecture(self):
        """Raise ValueError on bad hidden-layer sizes or activation names."""
        from ..activations import ACTIVATIONS
        self._hidden_sizes()
        a = self.activation
        try:
            acts = [a] if isinstance(a, str) else list(a)
        except TypeError:
            acts = [a]
        for a in acts:
            if a not in ACTIVATIONS:
                raise ValueError(f"unknown activation {a!r}; choose one of: "
                                 f"{', '.join(sorted(ACTIVATIONS))}")

    def _check_params(self):
        """Raise ValueError on a bad hyperparameter, before any work is done."""
        self._check_architecture()
        methods = batch_methods() + ONLINE_METHODS
        if self.method not in methods:
            raise ValueError(f"unknown method {self.method!r}; choose one of: {', '.join(methods)}")
        alphas = self.alpha.values() if isinstance(self.alpha, dict) else [self.alpha]
        if not all(_is_number(a) and a >= 0 and math.isfinite(a) for a in alphas):
            raise ValueError(f"alpha must be a finite number >= 0 (or a dict of them per weight "
                             f"group); got {self.alpha!r}")
        if not (_is_int(self.max_iter) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer; got {self.max_iter!r}")
        if not (_is_number(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0; got {self.tol!r}")
        if not (_is_number(self.validation_fraction) and 0.0 < self.validation_fraction < 1.0):
            raise ValueError(f"validation_fraction must lie in (0, 1); got "
                             f"{self.validation_fraction!r}")
        if not (_is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1):
            raise ValueError(f"n_iter_no_change must be a positive integer; got "
                             f"{self.n_iter_no_change!r}")
        if not (_is_int(self.batch_size) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer; got {self.batch_size!r}")
        if not (_is_number(self.learning_rate) and self.learning_rate > 0
                and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a number > 0; got {self.learning_rate!r}")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise ValueError(f"warm_start must be True or False; got {self.warm_start!r}")
        _weight_prior.check(self)
        _invariance.check_params(self)

    def _training_bytes(self, net, n_samples):
        """Bytes that training ``net`` needs at most: the weight-sized vectors of the
        optimizer (and BFGS's W×W matrix, L-BFGS's pairs), and one chunk of
        activations and deltas."""
        from ..objective import default_chunk_size
        W = net.n_weights
        vectors = 16 + (20 if self.method == "lbfgs" else 0)
        need = 8 * vectors * W + (8 * W * W if self.method == "bfgs" else 0)
        return need + 8 * 6 * min(n_samples, default_chunk_size(net)) * sum(net.sizes)

    def _check_memory(self, net, n_samples):
        """Refuse, naming the bytes, an architecture whose training would not fit."""
        from ..archive import _fmt_bytes
        from ..hessian._memory import available_memory
        need, have = self._training_bytes(net, n_samples), available_memory()
        if need > have:
            raise ValueError(f"{type(self).__name__}: a {'-'.join(map(str, net.sizes))} network "
                             f"has W = {net.n_weights:,} weights; training it with "
                             f"{self.method} needs about {_fmt_bytes(need)}, more than the "
                             f"{_fmt_bytes(have)} of memory available; use fewer hidden units")
