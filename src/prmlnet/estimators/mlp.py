r"""Multilayer perceptrons with the scikit-learn API: regression and classification.

The output model is the canonical partner of the error (PRML §5.2): linear
outputs with the sum-of-squares error for regression (5.14); for
classification, chosen from the labels — one logistic output for two classes
(5.21), softmax outputs for more (5.24), K logistic outputs for a label
indicator matrix (5.23).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._base import ONLINE_METHODS, BaseMLP, column_scales, pooled_variance
from ._docs import _MLP_PARAMS_DOC

__all__ = ["MLPRegressor", "MLPClassifier"]

def _mlp_init(self, hidden_layer_sizes, activation, alpha, weight_prior, n_prior_components,
              method, max_iter, tol, early_stopping, validation_fraction, n_iter_no_change,
              batch_size, learning_rate, standardize, warm_start, random_state, verbose,
              **invariance):
    BaseMLP.__init__(self, hidden_layer_sizes=hidden_layer_sizes, activation=activation,
                     alpha=alpha, method=method, max_iter=max_iter, tol=tol,
                     early_stopping=early_stopping, validation_fraction=validation_fraction,
                     n_iter_no_change=n_iter_no_change, batch_size=batch_size,
                     learning_rate=learning_rate, standardize=standardize,
                     warm_start=warm_start, random_state=random_state, verbose=verbose)
    self.weight_prior = weight_prior
    self.n_prior_components = n_prior_components
    for name, value in invariance.items():          # image_shape, invariances, ... (§5.5.3-5.5.5)
        setattr(self, name, value)


def _is_indicator(y):
    return getattr(y, "ndim", 1) == 2 and y.shape[1] > 1


def _warn_unscaled_targets(T, name):
    """Warn when unstandardised targets are so large, small or offset that a network
    of unit-scale weights (under weight decay) can hardly fit them."""
    spread = float(np.std(T)) if T.shape[0] > 1 else 0.0
    offset = float(np.max(np.abs(T.mean(axis=0))))
    if spread > 0 and (spread < 1e-6 or spread > 1e6 or offset > 1e6 * spread):
        warnings.warn(f"{name}: the targets have a spread of {spread:.3g} about a mean of "
                      f"size {offset:.3g}; unscaled, a network learns them poorly (the weight "
                      "decay and the tolerances work at unit scale) — set standardize=True",
                      UserWarning, stacklevel=6)


def _target_arrays(est):
    """The target standardisation as model-file arrays (none when there is none)."""
    if getattr(est, "y_mean_", None) is None:
        return {}
    return {"y_mean": est.y_mean_, "y_scale": est.y_scale_}


def _check_target_arrays(mf, K):
    """Raise ValueError unless a file's target standardisation is whole and sane."""
    m, s = mf.arrays.get("y_mean"), mf.arrays.get("y_scale")
    if m is None and s is None:
        return
    if m is None or s is None:
        raise ValueError("it holds only one of y_mean and y_scale")
    for name, v in (("y_mean", m), ("y_scale", s)):
        if v.dtype.kind != "f" or v.shape != (K,) or not np.all(np.isfinite(v)):
            raise ValueError(f"its {name} is not a finite float vector of length {K}")
    if not np.all(s > 0):
        raise ValueError("its target scales y_scale are not all positive")


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = r"""Multilayer-perceptron regression: linear outputs, sum-of-squares error.

    Minimises :math:`E(\mathbf{w}) = \frac12 \sum_n \|\mathbf{y}(\mathbf{x}_n, \mathbf{w})
    - \mathbf{t}_n\|^2 + \frac{\alpha}{2}\mathbf{w}^\mathrm{T}\mathbf{w}` (5.14, 5.112).
    ``y`` may have several columns (one network output each).
    """ + _MLP_PARAMS_DOC + r"""
    Examples
    --------
    >>> import numpy as np
    >>> from prmlnet import MLPRegressor
    >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(5,), random_state=0).fit(X, np.sin(3 * X).ravel())
    >>> bool(reg.score(X, np.sin(3 * X).ravel()) > 0.99)
    True
    """

    def __init__(self, hidden_layer_sizes=(10,), activation="tanh", alpha=0.01,
                 weight_prior="gaussian", n_prior_components=3, method="scg", max_iter=200,
                 tol=1e-5, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 batch_size=32, learning_rate=0.01, standardize=False, warm_start=False,
                 random_state=None, verbose=0, image_shape=None, invariances=(),
                 tangent_prop=0.0, tikhonov=0.0, augment=None, n_augment=5):
        _mlp_init(self, hidden_layer_sizes, activation, alpha, weight_prior,
                  n_prior_components, method, max_iter, tol, early_stopping,
                  validation_fraction, n_iter_no_change, batch_size, learning_rate,
                  standardize, warm_start, random_state, verbose, image_shape=image_shape,
                  invariances=invariances, tangent_prop=tangent_prop, tikhonov=tikhonov,
                  augment=augment, n_augment=n_augment)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _encode_targets(self, y, first, classes=None, sample_weight=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first:
            self._y_ndim = y.ndim
        elif y.ndim == 1 and self.net_.n_outputs != 1 or \
                y.ndim == 2 and y.shape[1] != self.net_.n_outputs:
            raise ValueError(f"y has {1 if y.ndim == 1 else y.shape[1]} columns but the model "
                             f"was fitted with {self.net_.n_outputs}")
        T = np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=np.float64)
        if first:
            self.y_mean_, self.y_scale_ = (column_scales(T, "target", sample_weight)
                                           if self.standardize and self._standardize_targets
                                           else (None, None))
            if not self.standardize and self._standardize_targets:
                _warn_unscaled_targets(T, type(self).__name__)
        if getattr(self, "y_mean_", None) is not None:
            T = (T - self.y_mean_) / self.y_scale_
        return T

    #: whether ``standardize=True`` standardises the targets too (not for the Bayesian
    #: regressor, whose β is the noise precision in the targets' units)
    _standardize_targets = True

    def _gtol(self, T, sample_weight=None):
        s = pooled_variance(T, sample_weight) ** 0.5
        return self.tol * (s if s > 0 else 1.0)

    def _plateau_tol(self, T, sample_weight=None):
        v = pooled_variance(T, sample_weight)
        return super()._plateau_tol(T, sample_weight) * (v if v > 0 else 1.0)

    def _output_model(self, T):
        return "linear", T.shape[1]

    def predict(self, X):
        """Network outputs :math:`\\mathbf{y}(\\mathbf{x}, \\mathbf{w})` (mapped back to
        the targets' units when they were standardised), shape (n_samples,) or
        (n_samples, n_targets) like the ``y`` of ``fit``."""
        y = self._forward(X)
        if getattr(self, "y_mean_", None) is not None:
            y = y * self.y_scale_ + self.y_mean_
        return y.ravel() if getattr(self, "_y_ndim", 1) == 1 and y.shape[1] == 1 else y

    @available_if(lambda self: self.method in ONLINE_METHODS)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the online method over ``(X, y)``, continuing from the
        current weights and optimizer state (fresh weights on the first call).

        The epoch's error (``loss_curve_``) is the sum of its mini-batch errors;
        ``verbose`` prints it. ``early_stopping=True`` is refused (there is no
        validation set to watch)."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _extra_state(self):
        return _target_arrays(self), {"y_ndim": int(getattr(self, "_y_ndim", 1))}

    def _restore_state(self, arrays, meta):
        self._y_ndim = int(meta.get("y_ndim", 1))
        self.y_mean_, self.y_scale_ = arrays.get("y_mean"), arrays.get("y_scale")

    _file_outputs = ("linear",)

    @classmethod
    def _check_file(cls, mf):
        super()._check_file(mf)
        if mf.classes is not None:
            raise ValueError("it holds class labels, which a regression model has none of")
        if mf.meta.get("y_ndim", 1) not in (1, 2):
            raise ValueError(f"meta.y_ndim is {str(mf.meta.get('y_ndim'))[:20]}, not 1 or 2")
        _check_target_arrays(mf, mf.network.n_outputs)


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = r"""Multilayer-perceptron classification with the cross-entropy error.

    The output model follows the labels: two classes — one logistic-sigmoid
    output and the cross-entropy (5.21); more classes — softmax outputs and the
    multiclass cross-entropy (5.24); a label indicator matrix (several binary
    labels per sample) — K independent logistic outputs (5.23). In every case
    :math:`\partial E/\partial a_k = y_k - t_k` (5.18).
    """ + _MLP_PARAMS_DOC + r"""
    classes_ : ndarray
        The class labels (``arange(K)`` for a label indicator matrix).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from prmlnet import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(standardize=True, random_state=0).fit(X, y)
    >>> clf.net_.output.name, clf.predict_proba(X[:2]).shape
    ('softmax', (2, 3))
    """

    _y_numeric = False

    def __init__(self, hidden_layer_sizes=(10,), activation="tanh", alpha=0.01,
                 weight_prior="gaussian", n_prior_components=3, method="scg", max_iter=200,
                 tol=1e-5, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 batch_size=32, learning_rate=0.01, standardize=False, warm_start=False,
                 random_state=None, verbose=0, image_shape=None, invariances=(),
                 tangent_prop=0.0, tikhonov=0.0, augment=None, n_augment=5):
        _mlp_init(self, hidden_layer_sizes, activation, alpha, weight_prior,
                  n_prior_components, method, max_iter, tol, early_stopping,
                  validation_fraction, n_iter_no_change, batch_size, learning_rate,
                  standardize, warm_start, random_state, verbose, image_shape=image_shape,
                  invariances=invariances, tangent_prop=tangent_prop, tikhonov=tikhonov,
                  augment=augment, n_augment=n_augment)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # -- labels -> targets ----------------------------------------------------------
    def _encode_targets(self, y, first, classes=None, sample_weight=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"MLPClassifier takes class labels or a label indicator matrix; "
                             f"got targets of type {kind!r}")
        if first:
            if kind == "multilabel-indicator":
                self._label_kind = "multilabel"
                self.classes_ = np.arange(y.shape[1])
            else:
                labels = unique_labels(y) if classes is None else np.unique(classes)
                if classes is not None:
                    missing = np.setdiff1d(unique_labels(y), labels)
                    if missing.size:
                        raise ValueError(f"y holds labels {missing.tolist()[:5]} that are not "
                                         f"in classes={labels.tolist()}")
                if labels.size < 2:
                    raise ValueError(
                        f"only one class ({labels[0]!r}) is present in y; a classifier needs "
                        "at least two classes — check the target column")
                if sample_weight is not None:
                    weighed = unique_labels(y[sample_weight > 0])
                    if weighed.size < 2:
                        raise ValueError(
                            f"only one class ({weighed[0]!r}) has samples of non-zero weight; "
                            "a classifier needs at least two classes with weight")
                self._label_kind = "binary" if labels.size == 2 else "multiclass"
                self.classes_ = labels
        if self._label_kind == "multilabel":
            if kind != "multilabel-indicator" or y.shape[1] != self.classes_.size:
                raise ValueError(f"y must be a label indicator matrix with "
                                 f"{self.classes_.size} columns, like the first fit")
            return np.ascontiguousarray(y, dtype=np.float64)
        if kind == "multilabel-indicator":
            raise ValueError("y is a label indicator matrix but the model was fitted on labels")
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, self.classes_.size - 1)
        unseen = self.classes_[idx] != y
        if unseen.any():
            raise ValueError(f"y holds labels {np.unique(y[unseen]).tolist()[:5]} not seen in "
                             f"the first fit (classes {self.classes_.tolist()})")
        if self._label_kind == "binary":
            return (idx == 1).astype(np.float64)[:, None]
        T = np.zeros((y.shape[0], self.classes_.size))
        T[np.arange(y.shape[0]), idx] = 1.0                 # 1-of-K coding
        return T

    def _output_model(self, T):
        if self._label_kind == "multiclass":
            return "softmax", T.shape[1]
        return "logistic", T.shape[1]

    # -- prediction -----------------------------------------------------------------
    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes): the network outputs
        (for two classes, ``[1 - y, y]`` of the single logistic output)."""
        y = self._forward(X)
        if self._label_kind == "binary":
            return np.hstack([1.0 - y, y])
        return y

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the output pre-activations
        (log-sigmoid, log-softmax), so that saturated outputs give finite logs."""
        check_is_fitted(self, "w_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._log_proba_from(self.net_.forward(self.w_, self._transform(X)).a[-1])

    def _log_proba_from(self, a):
        r""":math:`\ln p` from pre-activations ``a`` (N, K): :math:`a_k - \ln\sum_j e^{a_j}`
        for softmax outputs, :math:`\ln\sigma(\pm a) = -\ln(1 + e^{\mp a})` for logistic
        ones, never the log of a probability rounded to 0."""
        if self.net_.output.name == "softmax":
            return a - special.logsumexp(a, axis=1, keepdims=True)
        log_y = -np.logaddexp(0.0, -a)                        # ln σ(a)
        if self._label_kind == "binary":
            return np.hstack([-np.logaddexp(0.0, a), log_y])  # ln(1 - σ(a)) = ln σ(-a)
        return log_y

    def predict(self, X):
        """Most probable class of each sample (a 0/1 matrix for indicator targets)."""
        p = self.predict_proba(X)
        if self._label_kind == "multilabel":
            return (p > 0.5).astype(np.int64)
        return self.classes_[np.argmax(p, axis=1)]

    @available_if(lambda self: self.method in ONLINE_METHODS)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of the online method over ``(X, y)``, continuing from the
        current weights and optimizer state.

        ``classes`` (all labels that will ever appear) is required on the first
        call, as in scikit-learn, unless ``y`` is a label indicator matrix; a
        later call may repeat it but not change it. The epoch's error
        (``loss_curve_``) is the sum of its mini-batch errors; ``verbose``
        prints it. ``early_stopping=True`` is refused (there is no validation
        set to watch)."""
        if not hasattr(self, "w_"):
            self._check_params()
            if classes is None and type_of_target(y) != "multilabel-indicator":
                raise ValueError("classes must be given on the first call to partial_fit")
        elif classes is not None:
            given = np.unique(np.asarray(classes))
            if not np.array_equal(given, self.classes_):
                raise ValueError(f"classes={given.tolist()} is not the classes "
                                 f"{self.classes_.tolist()} of the first call to partial_fit; "
                                 "the network's outputs are fixed — fit afresh for new classes")
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def _check_warm_classes(self, y):
        if getattr(self, "_label_kind", None) in ("binary", "multiclass") and \
                not _is_indicator(y) and not hasattr(y, "__dask_graph__"):
            labels = unique_labels(y)
            if not np.array_equal(labels, self.classes_):
                raise ValueError(f"warm_start can only continue on the classes of the previous "
                                 f"fit ({self.classes_.tolist()}); y has {labels.tolist()} — "
                                 "fit afresh (warm_start=False)")

    def _extra_state(self):
        return {}, {"label_kind": self._label_kind}

    def _restore_state(self, arrays, meta):
        self._label_kind = meta.get("label_kind") or (
            "binary" if self.classes_.size == 2 else "multiclass")

    _file_outputs = ("logistic", "softmax")

    @classmethod
    def _check_file(cls, mf):
        super()._check_file(mf)
        if mf.classes is None:
            raise ValueError("it holds no class labels")
        K, C, output = mf.network.n_outputs, mf.classes.size, mf.network.output.name
        kind = mf.meta.get("label_kind") or ("binary" if C == 2 else "multiclass")
        if not isinstance(kind, str):
            raise ValueError(f"meta.label_kind is {str(kind)[:20]}, not a string")
        fits = {"binary": output == "logistic" and K == 1 and C == 2,
                "multiclass": output == "softmax" and K == C >= 2,
                "multilabel": output == "logistic" and K == C
                and np.array_equal(mf.classes, np.arange(K))}.get(kind)
        if not fits:
            raise ValueError(f"its {C} class labels ({kind!s:.20}) do not fit a network with "
                             f"{K} {output} output{'s' * (K > 1)}")
