r"""The shared machinery of prmlnet's scikit-learn estimators.

:class:`BaseMLP` builds a :class:`~prmlnet.Network` from hyperparameters,
validates ``X`` and ``y`` with scikit-learn's utilities, trains the flat weight
vector with :mod:`prmlnet.optim` on a :class:`~prmlnet.objective.Objective`,
and saves and loads through :mod:`prmlnet.modelfile`. A concrete estimator supplies
only what differs:

``_encode_targets(y, first, classes)``  y -> the target matrix T (N, K) for
                               the network, setting label attributes
                               (``classes_``) on the first fit
``_output_model(T)``           ``(output model or name, number of outputs)``
``_build_network(D, output, K)``  the network (default: dense ``hidden_layer_sizes``)
``_initial_weights(T)``        starting weights (default: ``net_.init_weights``)
``_make_objective(net, X, T)`` the objective (default: weight decay α, β = 1; with
                               ``weight_prior="mixture"`` α on the biases only, the
                               soft-weight-sharing mixture joined in :meth:`_trained`)
``_train_batch(w0, X, T, callback)``  a batch training run (default:
                               :func:`._training.train_batch`)
``_after_fit(X, T)``           anything to compute at the trained weights
``_extra_state()``             ``(arrays, meta)`` to store in a model file
``_restore_state(arrays, meta)``  the reverse

With sample weights, ``fit`` passes them to the hooks that need them as the
keyword ``sample_weight=`` — ``_encode_targets``, ``_initial_weights``,
``_make_objective`` and the training runs — and only then, so a hook written
without the parameter serves unweighted fits unchanged.

Conventions
-----------
* **No standardisation by default.** ``standardize=True`` subtracts the mean
  and divides by the standard deviation of each input column (stored as
  ``x_mean_`` and ``x_scale_``, and in model files), and regressors
  (:class:`MLPRegressor`, :class:`MDNRegressor`) do the same to the targets
  (``y_mean_``, ``y_scale_``), mapping their predictions back; the Bayesian
  regressor never scales its targets (its β is the noise precision in their
  units). The threshold under which a column counts as constant is relative
  to its magnitude, so the units of the data do not matter.
* **Tolerances follow the data's scale.** A regressor's gradient tolerance is
  ``tol`` times the standard deviation of the targets the network is trained
  on; every ending that is not a convergence (iteration limit, failed line
  search, overflow, interrupt) gives a warning.
* **Warm starts.** ``warm_start=True`` makes ``fit`` continue from the weights
  (and the standardisation, target encoding and prior mixture) of the previous
  fit, with a fresh optimizer: ``loss_curve_`` and ``n_iter_`` go on counting,
  ``max_iter`` bounds each call. The parameters must build the same network and
  a classifier must see the same classes. ``partial_fit`` always continues,
  the online method's state included.
* **Sums, not means.** The training error is the book's
  :math:`E(\mathbf{w}) = \sum_n E_n(\mathbf{w}) + \frac{\alpha}{2}\mathbf{w}^\mathrm{T}\mathbf{w}`
  (5.11, 5.112), summed over patterns, with α **not** divided by the number of
  samples. scikit-learn's MLP minimises a *mean* loss plus
  ``alpha / (2 n_samples) * ||W||²``; multiplied by ``n_samples`` that is the
  same objective, so the same ``alpha`` gives the same minimum (except that
  here α also applies to the biases). ``loss_curve_`` and ``loss_`` are values
  of this summed E.
* **Dask arrays.** ``fit`` on dask arrays runs the batch methods on a
  :class:`~prmlnet.distributed.DistributedObjective`, with the targets, the
  standardisation and early stopping computed on the cluster too
  (:mod:`prmlnet.estimators._dask`); online methods are refused there.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import modelfile
from ..network import Network
from . import _dask, _invariance, _training, _weight_prior
from ._params import ONLINE_METHODS, ParamChecks, batch_methods
from ._scaling import _count, _warn_unscaled, column_scales, pooled_variance
from ._files import KINDS, _json_params, from_model_file, load

__all__ = ["BaseMLP", "ONLINE_METHODS", "batch_methods", "column_scales", "pooled_variance",
           "from_model_file", "load", "KINDS"]

class BaseMLP(ParamChecks, BaseEstimator):
    """Base class of the multilayer-perceptron estimators (see the module docstring).

    Subclasses with exactly these parameters inherit ``__init__``; those with
    more define ``__init__`` with their full parameter list (scikit-learn reads
    the signature) and call ``super().__init__`` or set the same attributes.
    """

    # Estimators without these parameters (MDN, Bayesian) keep the Gaussian prior.
    weight_prior = "gaussian"
    # ... and start every fit afresh
    warm_start = False
    #: whether the estimator's own ``_train_batch`` weighs the patterns: a subclass that
    #: trains by a ``_train_batch`` of its own (the Bayesian estimators' evidence loop)
    #: sets it True once that training takes ``sample_weight``; until then its ``fit``
    #: has no ``sample_weight`` parameter (so scikit-learn's checks expect none)
    _weighs_patterns = True
    n_prior_components = 3
    # ... and no invariances (§5.5.3-5.5.5; see _invariance.py)
    image_shape, invariances, augment = None, (), None
    tangent_prop = tikhonov = 0.0
    n_augment = 5

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            KINDS[cls.__name__] = cls
        owner = next(k for k in cls.__mro__ if "_train_batch" in k.__dict__)
        if owner is not BaseMLP and not owner.__dict__.get("_weighs_patterns", False) \
                and "fit" not in cls.__dict__:
            cls.fit = BaseMLP._fit_unweighted

    def __init__(self, hidden_layer_sizes=(10,), activation="tanh", alpha=0.01, method="scg",
                 max_iter=200, tol=1e-5, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, batch_size=32, learning_rate=0.01, standardize=False,
                 warm_start=False, random_state=None, verbose=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.standardize = standardize
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # -- hooks (overridden by concrete estimators) ------------------------------
    def _encode_targets(self, y, first, classes=None):
        raise NotImplementedError

    def _output_model(self, T):
        raise NotImplementedError

    def _build_network(self, n_features, output, n_out):
        """The network of a fresh fit: dense layers of ``hidden_layer_sizes``."""
        return Network((n_features, *self._hidden_sizes(), n_out), hidden=self.activation,
                       output=output)

    def _initial_weights(self, T, sample_weight=None):
        """Starting weights of a fresh fit (``net_`` and ``_rng_`` are set)."""
        return self.net_.init_weights(self._rng_)

    def _make_objective(self, net, X, T, sample_weight=None):
        from ..priors import as_prior
        prior = (_weight_prior.bias_prior(net, self.alpha) if self.weight_prior == "mixture"
                 else as_prior(net, self.alpha))
        if _dask.is_dask(X):                  # partitions on a Dask cluster (prmlnet.distributed)
            from ..distributed import DistributedObjective
            return DistributedObjective(net, X, T, prior=prior, sample_weight=sample_weight)
        from ..objective import Objective
        return Objective(net, X, T, prior=prior, terms=_invariance.terms(self, net, X),
                         sample_weight=sample_weight)

    def _trained(self, obj, w0):
        """``(fun, x0)``: the objective over what is trained and its start (see
        :func:`._weight_prior.trained`)."""
        return _weight_prior.trained(self, obj, w0)

    def _after_fit(self, X, T):
        pass

    def _extra_state(self):
        return {}, {}

    def _restore_state(self, arrays, meta):
        pass

    #: output models this estimator's networks have (a model file is checked against it)
    _file_outputs = ("linear", "logistic", "softmax", "mdn")

    @classmethod
    def _check_file(cls, mf):
        """Raise ValueError (saying what is wrong) unless the model file ``mf``
        can be this estimator; subclasses add their own checks."""
        output = mf.network.output.name
        if output not in cls._file_outputs:
            raise ValueError(f"its network has {output} outputs, but a {cls.__name__} has "
                             f"{' or '.join(cls._file_outputs)} outputs")

    def _rng(self):
        rs = self.random_state
        if rs is None or isinstance(rs, (int, np.integer)):
            return np.random.default_rng(rs)
        return np.random.default_rng(check_random_state(rs).randint(2**31 - 1))

    # -- standardisation ----------------------------------------------------------
    def _set_standardisation(self, X, sample_weight=None):
        if self.standardize:
            if _dask.is_dask(X):              # the statistics are summed on the cluster
                mean, scale = _dask.column_stats(X, sample_weight)
                scale[~(scale > 1e-12 * np.abs(mean))] = 1.0
            else:
                mean, scale = column_scales(X, "input", sample_weight)
            self.x_mean_, self.x_scale_ = mean, scale
        else:
            self.x_mean_ = self.x_scale_ = None
            if not _dask.is_dask(X):
                _warn_unscaled(X, type(self).__name__)

    def _gtol(self, T, sample_weight=None):
        """The gradient tolerance for the optimizer (``tol``; regressors scale it)."""
        return self.tol

    def _plateau_tol(self, T, sample_weight=None):
        """The loss-plateau tolerance of online methods in units of E: ``tol`` per
        pattern (regressors scale it by the targets' variance), times N (Σ s_n)."""
        return self.tol * _count(T, sample_weight)

    def _error_scale(self, T, sample_weight=None):
        """The size of the training error set by the data: N (Σ s_n) times the
        variance of the targets."""
        v = pooled_variance(T, sample_weight)
        return _count(T, sample_weight) * v if v > 0 else 1.0

    def _transform(self, X):
        if self.x_mean_ is None:
            return X
        return (X - self.x_mean_) / self.x_scale_

    # -- fitting ------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, callback=None):
        """Train the network on ``(X, y)``: from fresh random weights, or with
        ``warm_start=True`` from the weights of the previous fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Or a dask array (dask DataFrame): the batch methods then run on the
            Dask cluster, without bringing the data to this process (see
            :mod:`prmlnet.estimators._dask`); y must then be a dask collection too.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), optional
            Weights :math:`s_n \\ge 0` of the samples: the error is
            :math:`\\sum_n s_n E_n` (and so are its gradient, its Hessian and the
            held-out error of early stopping), the standardisation statistics and
            the tolerances are weighted alike, so integer weights give what
            repeating each sample :math:`s_n` times gives (exactly, up to
            rounding, for the batch methods; online methods shuffle N samples,
            not the repeated ones). None: every sample weighs 1.
        callback : callable, optional
            Called once per iteration (epoch for online methods) with the
            optimizer's :class:`~prmlnet.optim.result.IterInfo`; returning True
            stops training. The command line's progress bar uses it.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, callback=callback, sample_weight=sample_weight)

    def _fit_unweighted(self, X, y, callback=None):
        """Train the network on ``(X, y)`` (see :meth:`BaseMLP.fit`; this estimator's
        training takes no sample weights)."""
        return self._fit(X, y, incremental=False, callback=callback)

    _fit_unweighted.__name__ = "fit"

    def _validate(self, X, y, reset):
        if _dask.is_dask(X, y):
            return _dask.validate(self, X, y, reset)
        X, y = validate_data(self, X, y, reset=reset, multi_output=True,
                             y_numeric=self._y_numeric, dtype=np.float64)
        return X, y

    _y_numeric = True

    def _fit(self, X, y, incremental, callback=None, classes=None, sample_weight=None):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not hold out a validation set, so it cannot "
                             "stop early: set early_stopping=False for partial_fit, or use fit")
        first = not (hasattr(self, "w_") and (incremental or self.warm_start))
        X, y = self._validate(X, y, reset=first)
        s = _training.sample_weights(sample_weight, X)
        kw = {} if s is None else {"sample_weight": s}
        _invariance.check_features(self, X.shape[1])
        if _dask.is_dask(X, y) and _invariance.active(self):
            raise ValueError("the invariance parameters (tangent_prop, tikhonov, augment) do not "
                             "go with dask arrays yet; pass NumPy arrays")
        if not first and not incremental:
            self._check_warm_classes(y)
        T = (_dask.encode_targets(self, y, first, classes, s) if _dask.is_dask(y)
             else self._encode_targets(y, first, classes, **kw))
        if first:
            self._set_standardisation(X, s)
            output, n_out = self._output_model(T)
            net = self._build_network(X.shape[1], output, n_out)
            self._check_memory(net, X.shape[0])         # before anything is allocated
            self.net_ = net
            self._rng_ = self._rng()
            w0 = self._initial_weights(T, **kw)
            self.loss_curve_ = []
            self.n_iter_ = 0
            self._online_state_ = None
            self.__dict__.pop("mixture_", None)
        else:
            if not incremental:
                _training.check_warm_start(self, X)
                self._online_state_ = None     # fit starts the online method afresh
            w0 = self.w_
        if not incremental:                    # held-out errors belong to this fit alone
            self.validation_errors_ = self.best_validation_error_ = None
        Xs = self._transform(X)
        if not _dask.is_dask(Xs) and not np.all(np.isfinite(Xs)):
            raise ValueError("the standardised inputs overflow (values too large for their "
                             "spread); rescale the input columns")
        t0 = time.perf_counter()
        if incremental:
            result = self._train_epoch(w0, Xs, T, callback, **kw)
        elif self.method in ONLINE_METHODS:
            result = self._train_online(w0, Xs, T, callback, **kw)
        else:
            result = self._train_batch(w0, Xs, T, callback, **kw)
        seconds = time.perf_counter() - t0
        _weight_prior.take(self, result.x)
        self.result_ = result
        if result.history is None or len(result.history.fun) < 2:
            new = [float(result.fun)]
        else:
            new = [float(v) for v in result.history.fun[1:]]
        self.loss_curve_ = list(self.loss_curve_) + new
        self.n_iter_ = max(int(self.n_iter_) + int(result.nit), 1)
        obj = self._make_objective(self.net_, Xs, T, **kw)
        self.loss_ = float(obj(self.w_)[0])
        if getattr(self, "mixture_", None) is not None:
            self.loss_ += float(self.mixture_.value_and_gradient(self.w_)[0])
        n = float(X.shape[0] if s is None else s.sum())
        self.training_ = {
            "n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
            "method": self.method, "n_iter": int(self.n_iter_), "error": self.loss_,
            "error_per_pattern": self.loss_ / n,
            "status": getattr(result.status, "name", str(result.status)),
            "message": str(result.message), "nfev": int(result.nfev),
            "seconds": seconds, "interrupted": self._interrupted(result),
        }
        if s is not None:
            self.training_["sample_weight_sum"] = n
        self._after_fit(Xs, T)
        self._warn(result)
        return self

    def _check_warm_classes(self, y):
        """A classifier's hook: raise unless y has the fitted classes (warm_start)."""

    @staticmethod
    def _interrupted(result):
        from ..optim import Status
        return result.status == Status.INTERRUPTED

    def _warn(self, result):
        from ..optim import Status
        if result.status == Status.MAX_ITER:
            warnings.warn(f"{type(self).__name__}: max_iter={self.max_iter} iterations reached "
                          f"before convergence; raise max_iter (or tol)", ConvergenceWarning,
                          stacklevel=4)
        elif result.status == Status.INTERRUPTED:
            warnings.warn(f"{type(self).__name__}: training interrupted after {result.nit} "
                          f"iterations; keeping the best weights so far", UserWarning,
                          stacklevel=4)
        elif result.status == Status.NONFINITE:
            warnings.warn(f"{type(self).__name__}: the error became NaN or infinite; keeping "
                          f"the last finite weights (lower learning_rate, or rescale the data "
                          f"or alpha): {result.message}", ConvergenceWarning, stacklevel=4)
        elif result.status in (Status.LINE_SEARCH_FAILED, Status.STALLED):
            warnings.warn(f"{type(self).__name__}: training stopped after {result.nit} "
                          f"iterations without converging ({result.message}); the fit may be "
                          "poor — try standardize=True or another method", ConvergenceWarning,
                          stacklevel=4)

    def _callbacks(self, callback, start=0):
        """The user's callback and verbose printing, as one optimizer callback
        (``start``: the iterations done before, partial_fit's epochs)."""
        if not self.verbose and callback is None:
            return None
        word = "epoch" if self.method in ONLINE_METHODS else "iteration"

        def cb(info):
            if self.verbose:
                print(f"{word} {start + info.nit}, E = {info.fun:.6g}")
            return callback(info) if callback is not None else False
        return cb

    # -- training (prmlnet.estimators._training); the Bayesian estimators override
    # _train_batch with the evidence loop
    def _train_batch(self, w0, X, T, callback, sample_weight=None):
        return _training.train_batch(self, w0, X, T, callback, sample_weight)

    def _online_pair(self):
        from ..optim import online
        return getattr(online, self.method)(learning_rate=self.learning_rate)

    def _train_online(self, w0, X, T, callback, sample_weight=None):
        return _training.train_online(self, w0, X, T, callback, sample_weight)

    def _train_epoch(self, w0, X, T, callback, sample_weight=None):
        return _training.train_epoch(self, w0, X, T, callback, sample_weight)

    # -- prediction ---------------------------------------------------------------
    def _forward(self, X):
        """Network outputs y (N, K) for new inputs, checked and standardised."""
        check_is_fitted(self, "w_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.net_.predict(self.w_, self._transform(X))

    # -- pickling (Network holds functions; rebuild it from its description) -------
    def __getstate__(self):
        state = super().__getstate__()
        if "net_" in state:
            state = dict(state)
            state["net_"] = modelfile.network_config(state["net_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("net_"), dict):
            state = dict(state)
            state["net_"] = modelfile.network_from_config(state["net_"])
        super().__setstate__(state)

    # -- model files ----------------------------------------------------------------
    def to_model_file(self) -> modelfile.ModelFile:
        """The fitted estimator as an :class:`prmlnet.modelfile.ModelFile`."""
        check_is_fitted(self, "w_")
        arrays, meta = self._extra_state()
        training = dict(getattr(self, "training_", {}))
        names = getattr(self, "feature_names_in_", None)
        training["feature_names"] = None if names is None else [str(n) for n in names]
        training["n_iter"] = int(self.n_iter_)
        arrays = dict(arrays)
        arrays["loss_curve"] = np.asarray(self.loss_curve_, dtype=np.float64)
        arrays.update(_weight_prior.file_arrays(self))
        return modelfile.ModelFile(
            kind=type(self).__name__, network=self.net_, w=self.w_,
            x_mean=self.x_mean_, x_scale=self.x_scale_,
            classes=getattr(self, "classes_", None),
            params=_json_params(self.get_params(deep=False)),
            training=training, arrays=arrays, meta=meta)

    def _restore_prior(self, arrays):
        _weight_prior.restore(self, arrays)

    def save(self, path):
        """Write the fitted estimator to a model file (see :mod:`prmlnet.modelfile`)."""
        return modelfile.save(path, self.to_model_file())

    @classmethod
    def load(cls, path, *, max_bytes=None):
        """Read an estimator of this class from a model file (``max_bytes``: the
        bound on its size, see :func:`prmlnet.modelfile.load`)."""
        est = load(path, max_bytes=max_bytes)
        if not isinstance(est, cls):
            raise ValueError(f"{path} holds a {type(est).__name__}, not a {cls.__name__}; "
                             "use prmlnet.estimators.load to read any model file")
        return est

