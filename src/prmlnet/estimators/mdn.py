r"""The mixture density network with the scikit-learn API (PRML §5.6).

:class:`MDNRegressor` fits a conditional density p(t|x) — a mixture of
isotropic Gaussians whose parameters are network outputs
(:class:`prmlnet.mdn.MixtureDensity`) — and predicts from it: the conditional
mode (the most probable branch of a multi-valued inverse problem) or mean,
densities on a grid, samples, and the log-likelihood as its score.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..mdn import Mixture, MixtureDensity, init_weights
from ._base import ONLINE_METHODS, BaseMLP, column_scales, pooled_variance
from ._docs import _PARAMS_DOC
from .mlp import _check_target_arrays, _target_arrays

__all__ = ["MDNRegressor"]

_PREDICTIONS = ("mode", "mean")


def _shared_params_doc():
    """The MLP parameter list without its header, with this estimator's defaults."""
    doc = _PARAMS_DOC.split("----------\n", 1)[1]
    return (doc.replace('method : str, default "scg"', 'method : str, default "bfgs"')
               .replace("max_iter : int, default 200", "max_iter : int, default 500"))


class MDNRegressor(RegressorMixin, BaseMLP):
    __doc__ = r"""Mixture density network: a conditional Gaussian-mixture density p(t|x).

    Minimises the negative log-likelihood (5.153), summed over patterns, plus
    :math:`\frac{\alpha}{2}\mathbf{w}^\mathrm{T}\mathbf{w}` (5.112). The network
    has ``n_components * (K + 2)`` outputs for K target columns: mixing
    coefficients by softmax, widths by exponential, means linear (5.150–5.152).

    Parameters
    ----------
    n_components : int, default 3
        L, the number of mixture components.
    prediction : {"mode", "mean"}, default "mode"
        What :meth:`predict` returns: the conditional mode (the most probable
        branch, found from every component mean by fixed-point iteration) or
        the conditional mean (5.158), which for a multi-valued target may fall
        between the branches.
    min_width : float, default 1e-3
        The floor on the component widths against variance collapse, **relative
        to the standard deviation of the training targets** (pooled over
        columns): the network's output model gets
        ``MixtureDensity(min_width=min_width * t_scale_)``, so
        :math:`\sigma_k^2 = e^{2a^\sigma_k} + (\text{min\_width}\cdot s_t)^2`
        (``min_width`` itself when the targets are standardised, their scale
        then being 1). ``0`` gives the book's unguarded form.
    """ + "    " + _shared_params_doc().lstrip() + r"""
    t_scale_ : float
        Standard deviation of the training targets (the unit of ``min_width``).

    Notes
    -----
    The initial weights start every pattern at the same mixture placed on the
    targets (:func:`prmlnet.mdn.init_weights`: k-means centres, equal mixing
    coefficients), which makes training far less prone to collapsed or unused
    components than purely random weights.

    Examples
    --------
    >>> import numpy as np
    >>> from prmlnet import MDNRegressor, datasets
    >>> X, t = datasets.toy_inverse(300, rng=0)
    >>> mdn = MDNRegressor(n_components=3, hidden_layer_sizes=(5,), standardize=True,
    ...                    random_state=0).fit(X, t.ravel())
    >>> mdn.predict_mixture(np.array([[0.5]])).mu.shape
    (1, 3, 1)
    """

    def __init__(self, n_components=3, hidden_layer_sizes=(10,), activation="tanh", alpha=0.01,
                 method="bfgs", max_iter=500, tol=1e-5, prediction="mode", min_width=1e-3,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 batch_size=32, learning_rate=0.01, standardize=False, warm_start=False,
                 random_state=None, verbose=0):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation,
                         alpha=alpha, method=method, max_iter=max_iter, tol=tol,
                         early_stopping=early_stopping, validation_fraction=validation_fraction,
                         n_iter_no_change=n_iter_no_change, batch_size=batch_size,
                         learning_rate=learning_rate, standardize=standardize,
                         warm_start=warm_start, random_state=random_state, verbose=verbose)
        self.n_components = n_components
        self.prediction = prediction
        self.min_width = min_width

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # score is the mean log-likelihood, not R²: scikit-learn's "score > 0.5"
        # sanity check of regressors does not apply to it
        tags.regressor_tags.poor_score = True
        return tags

    # -- hooks of BaseMLP ---------------------------------------------------------
    def _check_params(self):
        super()._check_params()
        L = self.n_components
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"n_components must be an integer >= 1; got {L!r}")
        if self.prediction not in _PREDICTIONS:
            raise ValueError(f"prediction must be 'mode' or 'mean'; got {self.prediction!r}")
        m = self.min_width
        if isinstance(m, bool) or not isinstance(m, (int, float, np.number)) or not (
                np.isfinite(m) and m >= 0):
            raise ValueError(f"min_width must be a finite number >= 0 (relative to the "
                             f"targets' standard deviation); got {m!r}")

    def _encode_targets(self, y, first, classes=None, sample_weight=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        T = np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=np.float64)
        if first:
            self._y_ndim = y.ndim
            big = float(np.max(np.abs(T))) if T.size else 0.0
            s = pooled_variance(T / big, sample_weight) ** 0.5 * big if big > 0 else 0.0
            self.t_scale_ = s if s > 1e-12 * big else 1.0                # (no overflow)
            self.y_mean_ = self.y_scale_ = None
            if self.standardize:      # one scale for every column: the components stay isotropic
                self.y_mean_ = column_scales(T, "target", sample_weight)[0]
                self.y_scale_ = np.full(T.shape[1], self.t_scale_)
        elif T.shape[1] != self.net_.n_targets:
            raise ValueError(f"y has {T.shape[1]} columns but the model was fitted with "
                             f"{self.net_.n_targets}")
        if self.y_mean_ is not None:
            T = (T - self.y_mean_) / self.y_scale_
        return T

    def _output_model(self, T):
        unit = 1.0 if self.y_mean_ is not None else self.t_scale_   # the targets' scale as fitted
        md = MixtureDensity(int(self.n_components), T.shape[1],
                            min_width=float(self.min_width) * unit)
        return md, md.n_outputs

    def _initial_weights(self, T, sample_weight=None):
        """Start the mixture where the targets are (:func:`prmlnet.mdn.init_weights`)."""
        super()._initial_weights(T)      # the generic draw first: seeded fits stay as they were
        return init_weights(self.net_, T, self._rng_, sample_weight=sample_weight)

    def _extra_state(self):
        return _target_arrays(self), {"y_ndim": int(getattr(self, "_y_ndim", 1)),
                                      "t_scale": float(self.t_scale_)}

    def _restore_state(self, arrays, meta):
        self._y_ndim = int(meta.get("y_ndim", 1))
        self.t_scale_ = float(meta.get("t_scale", 1.0))
        self.y_mean_, self.y_scale_ = arrays.get("y_mean"), arrays.get("y_scale")

    _file_outputs = ("mdn",)

    @classmethod
    def _check_file(cls, mf):
        super()._check_file(mf)
        t = mf.meta.get("t_scale", 1.0)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (np.isfinite(t) and t > 0):
            raise ValueError(f"meta.t_scale is {t!r:.20}, not a positive number")
        if mf.classes is not None:
            raise ValueError("it holds class labels, which a density model has none of")
        _check_target_arrays(mf, mf.network.output.K)
        s = mf.arrays.get("y_scale")
        if s is not None and not np.all(s == s[0]):
            raise ValueError("its target scales y_scale differ between columns (a mixture "
                             "of isotropic components needs one)")

    # -- prediction ---------------------------------------------------------------
    def _shape(self, Y):
        """(N, K) -> (N,) when fitted on a 1-D y."""
        return Y[..., 0] if getattr(self, "_y_ndim", 1) == 1 and Y.shape[-1] == 1 else Y

    def predict_mixture(self, X):
        """The conditional densities p(t|x_n) as a :class:`prmlnet.mdn.Mixture`
        (mixing coefficients (N, L), widths (N, L), means (N, L, K))."""
        check_is_fitted(self, "w_")
        mix = self.net_.output.mixture(self._forward(X))
        if getattr(self, "y_mean_", None) is None:
            return mix
        s = float(self.y_scale_[0])                # back to the targets' units
        return Mixture(mix.pi, mix.sigma * s, mix.mu * s + self.y_mean_)

    def predict(self, X):
        """The conditional mode (``prediction="mode"``) or mean (5.158),
        shape (n_samples,) or (n_samples, n_targets) like the ``y`` of ``fit``."""
        mix = self.predict_mixture(X)
        return self._shape(mix.mode() if self.prediction == "mode" else mix.mean())

    def predict_mean(self, X):
        """The conditional mean :math:`\\sum_k \\pi_k \\boldsymbol\\mu_k` (5.158)."""
        return self._shape(self.predict_mixture(X).mean())

    def predict_variance(self, X):
        """Per-target conditional variances (5.160), shaped like :meth:`predict`."""
        return self._shape(self.predict_mixture(X).variance())

    def predict_density(self, X, grid, log=False):
        """p(t | x_n) on a grid of targets shared by all samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        grid : array-like of shape (G,) (one target) or (G, n_targets)
        log : bool, default False
            Return ln p instead of p.

        Returns
        -------
        ndarray of shape (n_samples, G)
        """
        mix = self.predict_mixture(X)
        grid = np.asarray(grid, dtype=np.float64)
        K = self.net_.n_targets
        if grid.ndim == 1 and K == 1:
            grid = grid[:, None]
        if grid.ndim != 2 or grid.shape[1] != K:
            raise ValueError(f"grid must have shape (G, {K})" + (" or (G,)" if K == 1 else "")
                             + f"; got {grid.shape}")
        return mix.log_pdf_grid(grid) if log else mix.pdf_grid(grid)

    def sample(self, X, n_samples=1, random_state=None):
        """Draw targets from p(t | x_n) for each sample.

        Returns
        -------
        ndarray of shape (n_samples, N) for a 1-D ``y``, else (n_samples, N, K).
        ``random_state`` (int, Generator or None) is the only source of randomness.
        """
        rng = random_state if isinstance(random_state, np.random.Generator) \
            else np.random.default_rng(random_state)
        return self._shape(self.predict_mixture(X).sample(rng, n_samples))

    def log_likelihood(self, X, y):
        """Per-sample ln p(t_n | x_n), shape (n_samples,)."""
        check_is_fitted(self, "w_")
        X, y = validate_data(self, X, y, reset=False, multi_output=True, y_numeric=True,
                             dtype=np.float64)
        T = y.reshape(y.shape[0], -1)
        if T.shape[1] != self.net_.n_targets:
            raise ValueError(f"y has {T.shape[1]} columns but the model was fitted with "
                             f"{self.net_.n_targets}")
        return self.predict_mixture(X).log_pdf(T)

    def score(self, X, y, sample_weight=None):
        """Mean log-likelihood per sample, :math:`\\frac1N\\sum_n \\ln p(t_n|x_n)`
        (natural log; higher is better). Not R²: for a multi-valued target the
        density, not a point prediction, is what the model is judged on."""
        ll = self.log_likelihood(X, y)
        return float(np.average(ll, weights=sample_weight))

    @available_if(lambda self: self.method in ONLINE_METHODS)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the online method over ``(X, y)``, continuing from the
        current weights and optimizer state (fresh weights on the first call);
        as :meth:`MLPRegressor.partial_fit`."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)
