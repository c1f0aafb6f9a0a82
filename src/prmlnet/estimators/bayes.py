r"""Bayesian multilayer perceptrons with the scikit-learn API (PRML §5.7).

``fit`` runs the evidence loop of :func:`prmlnet.bayes.evidence_loop`: MAP
training alternated with the re-estimation of the prior precision α (one, one
per layer, or one per input — ARD) and, for regression, the noise precision β.
The fitted estimator keeps the Laplace posterior N(w_MAP, A⁻¹) (its Cholesky
factor), so that

* :meth:`BayesianMLPRegressor.predict` ``(X, return_std=True)`` gives the
  predictive standard deviation :math:`\sqrt{1/\beta + \mathbf{g}^\mathrm{T}\mathbf{A}^{-1}\mathbf{g}}`
  (5.172, 5.173);
* :meth:`BayesianMLPClassifier.predict_proba` gives the moderated probabilities
  :math:`\sigma(\kappa(\sigma_a^2)\,a_\text{MAP})` (5.190); for softmax outputs
  the ``predictive`` of :mod:`prmlnet.bayes.predictive` (the probit scaling of the
  centred activations, the pairwise probit approximation, or Monte Carlo).

As everywhere in prmlnet, E_D is a sum over patterns and α multiplies
½‖w‖² undivided by the number of samples, so ``alpha_``, ``beta_`` and
``gamma_`` are the book's numbers. ``fit(X, y, sample_weight=s)`` weighs every
sum the evidence loop uses — E_D, the data Hessian, N — as repeating each row
:math:`s_n` times would; on dask arrays the loop runs on a
:class:`~prmlnet.distributed.DistributedObjective`. The cost of a fit is
dominated by one W×W Hessian and its Cholesky factorization (and inverse) per
outer iteration: use it for networks of up to a few thousand weights.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ..bayes import LaplacePosterior, evidence_loop
from ..bayes.loop import DEFAULT_STARTS
from ..bayes.laplace import HESSIANS, NEGATIVE
from ..bayes.predictive import PREDICTIVES
from ..priors import GROUPINGS, gaussian_prior
from . import _bayes_files
from ._params import _is_int, _is_number
from .mlp import MLPClassifier, MLPRegressor

__all__ = ["BayesianMLPRegressor", "BayesianMLPClassifier", "PREDICTIVE_SAMPLES"]

#: Draws of the activations for ``predictive="mc"`` (the same, seed 0, for every input).
PREDICTIVE_SAMPLES = 2000

_BAYES_PARAMS_DOC = r"""
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (10,)
    activation : str or list of str, default "tanh"
    prior : {"single", "layers", "ard"}, default "single"
        Grouping of the prior precisions: one α for every weight and bias
        (5.162); one per layer's weights and biases (the consistent priors of
        §5.5.1); or one per input for automatic relevance determination
        (``alpha_["x1"]``, ... — a large α marks an irrelevant input).
    alpha : float, sequence of floats or None, default None
        Initial α of every group (re-estimated by the evidence loop); a sequence
        runs the loop from each and keeps the run with the largest log evidence
        (the re-estimation is a fixed-point iteration with several fixed points: an
        over-fitted one, the trivial w = 0 and the useful one between, and one
        start can miss the best). None: for the regressor the three starts of
        ``prmlnet.bayes.DEFAULT_STARTS`` (0.01, 1, 100) — from a weak prior a
        regression runs into the over-fitted fixed point (β → ∞) — and for the
        classifier, which has no β, the one start
        ``prmlnet.bayes.CLASSIFIER_STARTS`` (0.01), which reached the largest
        evidence of the three (within 0.5 nats) in 23 of 24 splits of four data sets
        (``benchmarks/bench_evidence_starts.py``) at a third of the cost.
    beta : float or None, default None
        Initial β (regression only); None: the inverse variance of the targets.
    n_outer : int, default 20
        Most re-estimations of α and β (each followed by a MAP training).
    n_inner : int, default 1
        Re-estimation steps at fixed weights between MAP trainings (Netlab's
        inner loop; see :func:`prmlnet.bayes.evidence_loop`).
    evidence_tol : float, default 1e-3
        Stop when every α and β changes by a relative amount below this.
    method : str, default "auto"
        Batch method of :func:`prmlnet.optim.minimize` for each MAP training;
        ``"auto"``: BFGS up to 500 weights, L-BFGS above.
    max_iter : int, default 500
        Iterations of each MAP training (warm-started from the last weights).
    tol : float, default 1e-7
        Gradient tolerance of each MAP training (E summed over patterns).
    hessian : {"exact", "outer_product"}, default "exact"
        The data Hessian in A = βH + diag(α).
    negative : {"auto", "clip", "keep"}, default "auto"
        Negative eigenvalues of H: used as they are when A is positive definite
        and clipped to zero only where it is not (``"auto"``), always clipped
        (Netlab's ``"clip"``), or always kept; see :mod:`prmlnet.bayes.laplace`.
    weights_init : array of shape (n_weights,) or None, default None
        Starting weights of the first MAP training (the network's flat layout,
        :attr:`prmlnet.Network.n_weights` long, in the standardised input space
        when ``standardize``); None: random (``random_state``).
    standardize : bool, default False
        Standardise the inputs (never the targets).
    random_state : int, RandomState or None, default None
    verbose : int, default 0
        Print α, β, γ and the log evidence after each re-estimation.

    Attributes
    ----------
    net_, w_ : the network and w_MAP
    alpha_ : float or dict
        Final α (a float for ``prior="single"``, else ``{group: α}``).
    prior_ : prmlnet.priors.GaussianPrior
        The fitted prior (groups and final precisions).
    beta_ : float
        Final β (1.0 for classifiers: there is no β).
    gamma_ : float
        The effective number of well-determined parameters (5.179) at the final
        (w, α, β); α, β, γ, the log evidence and the posterior all refer to the
        same hyperparameters.
    gamma_groups_ : dict
        γ of each prior group (trace formula).
    log_evidence_ : float
        ln p(D | α, β) at the final hyperparameters (5.175, 5.183).
    history_ : dict of arrays
        One row per MAP training (see :class:`prmlnet.bayes.EvidenceResult`).
    evidence_notes_ : list of str
        What the evidence loop reported beyond the numbers (clipped eigenvalues,
        the starts it compared, an evidence that peaked early).
    posterior_ : prmlnet.bayes.LaplacePosterior
    n_iter_ : int
        Re-estimations done in the run kept.
    converged_ : bool
"""


_PREDICTIVE_DOC = """\
    predictive : {"probit", "pairwise", "mc"}, default "probit"
        How ``predict_proba`` averages softmax outputs over the Gaussian of the
        activations (:mod:`prmlnet.bayes.predictive`): ``"probit"`` scales the
        centred activations by κ of their variances (the book's moderation, blind
        to the common shift the softmax ignores); ``"pairwise"`` applies (5.190) to
        each difference a_k − a_j (for two classes exactly (5.190), in general the
        closer approximation to the integral); ``"mc"`` averages over
        ``PREDICTIVE_SAMPLES`` (2000) draws, the same for every input. Logistic
        outputs use (5.190) for the first two.
"""


class _BayesMixin:
    """What the Bayesian regressor and classifier share (on top of BaseMLP)."""

    #: fit takes dask arrays and sample weights: the evidence loop takes every sum — E_D,
    #: the data Hessian, N — from the objective, weighted and distributed as it is
    _fits_dask = True
    _weighs_patterns = True

    def _check_params(self):
        from ._base import batch_methods

        self._check_architecture()
        if self.prior not in GROUPINGS:
            raise ValueError(f"prior must be one of {GROUPINGS}; got {self.prior!r}")
        starts = self._starts()
        if starts is not None and not (starts and all(
                _is_number(a) and math.isfinite(a) and a > 0 for a in starts)):
            raise ValueError(f"alpha (the initial prior precision) must be None, a number "
                             f"> 0 or a sequence of them (one run from each); got "
                             f"{self.alpha!r}")
        if self.beta is not None and not (_is_number(self.beta) and math.isfinite(self.beta)
                                          and self.beta > 0):
            raise ValueError(f"beta must be None or a number > 0; got {self.beta!r}")
        for name in ("n_outer", "n_inner", "max_iter"):
            v = getattr(self, name)
            if not (_is_int(v) and v >= 1):
                raise ValueError(f"{name} must be a positive integer; got {v!r}")
        v = self.evidence_tol
        if not (_is_number(v) and v > 0 and math.isfinite(v)):
            raise ValueError(f"evidence_tol must be a number > 0 (the relative change of alpha "
                             f"and beta that ends the evidence loop); got {v!r}")
        if not (_is_number(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be a number >= 0; got {self.tol!r}")
        if self.method != "auto" and self.method not in batch_methods():
            raise ValueError(f"method must be 'auto' or a batch method "
                             f"({', '.join(batch_methods())}); got {self.method!r}")
        if self.hessian not in HESSIANS:
            raise ValueError(f"hessian must be one of {HESSIANS}; got {self.hessian!r}")
        if self.negative not in NEGATIVE:
            raise ValueError(f"negative must be one of {NEGATIVE}; got {self.negative!r}")
        if getattr(self, "predictive", "probit") not in PREDICTIVES:
            raise ValueError(f"predictive must be one of {PREDICTIVES}; got {self.predictive!r}")
        if self.weights_init is not None:
            w0 = np.asarray(self.weights_init)
            if w0.ndim != 1 or w0.dtype.kind not in "fiu" or not np.all(np.isfinite(w0)):
                raise ValueError("weights_init must be None or a 1-D array of finite numbers "
                                 "(the network's flat weight vector)")

    def _starts(self):
        """The starting α as a list (None: the evidence loop's default)."""
        a = self.alpha
        if a is None:
            return None
        if isinstance(a, (list, tuple, np.ndarray)):
            return list(np.ravel(a)) if np.ndim(a) == 1 else [a]
        return [a]

    def _initial_weights(self, T, sample_weight=None):
        if self.weights_init is None:
            return super()._initial_weights(T)
        w0 = np.asarray(self.weights_init, dtype=np.float64)
        if w0.shape != (self.net_.n_weights,):
            raise ValueError(f"weights_init has {w0.size} entries; this network "
                             f"{'-'.join(map(str, self.net_.sizes))} has {self.net_.n_weights} "
                             "weights")
        return w0.copy()

    def _training_bytes(self, net, n_samples):
        """Training plus the Laplace posterior: its W×W matrices at their peak."""
        from ..hessian._memory import PEAK_COPIES, WORKSPACE_BYTES
        W = net.n_weights
        bfgs = self.method == "bfgs" or (self.method == "auto" and W <= 500)
        return (8 * 16 * W + int(PEAK_COPIES["laplace"] * 8 * W * W) + WORKSPACE_BYTES
                + (8 * W * W if bfgs else 0))         # BFGS's matrix in the MAP trainings

    def _make_objective(self, net, X, T, sample_weight=None):
        """E = β E_D + E_W at the fitted (or initial) hyperparameters."""
        from ..bayes._data import data_objective, with_hyperparameters
        prior = getattr(self, "prior_", None)
        if prior is None:
            starts = self._starts()
            prior = gaussian_prior(net, self.prior, DEFAULT_STARTS[0] if starts is None
                                   else float(starts[0]))
        return with_hyperparameters(data_objective(net, X, T, sample_weight=sample_weight), prior,
                                    getattr(self, "beta_", 1.0))

    def _train_batch(self, w0, X, T, callback, sample_weight=None):
        def report(row):
            if self.verbose:
                print(f"alpha {np.round(row['alpha'], 5).tolist()}, beta {row['beta']:.5g}, "
                      f"gamma {sum(row['gamma']):.4g}, ln evidence {row['log_evidence']:.6g}")

        starts = self._starts()
        alpha = None if starts is None else [float(a) for a in starts]
        res = evidence_loop(self._data_objective(X, T, sample_weight), prior=self.prior,
                            alpha=alpha, beta=self.beta, w0=w0, n_outer=self.n_outer,
                            n_inner=self.n_inner, tol=self.evidence_tol, method=self.method, max_iter=self.max_iter,
                            gtol=self.tol, hessian=self.hessian, negative=self.negative,
                            callback=report, train_callback=callback)
        self._set_hyper(res.prior, res.beta, res.gamma, res.log_evidence, res.history,
                        res.converged)
        self.posterior_ = res.posterior
        self.evidence_notes_ = list(res.notes)
        return res.result

    def _data_objective(self, X, T, sample_weight=None):
        """The objective of the data term (no prior, β = 1), weighted by the samples'
        weights: in memory, or over dask arrays on the cluster."""
        from ..bayes._data import data_objective
        return data_objective(self.net_, X, T, sample_weight=sample_weight)

    def _set_hyper(self, prior, beta, gamma, log_evidence, history, converged):
        self.prior_ = prior
        self.alpha_ = prior.alpha["w"] if self.prior == "single" else dict(prior.alpha)
        self.beta_ = float(beta)
        self.gamma_groups_ = dict(gamma)
        self.gamma_ = float(sum(gamma.values()))
        self.log_evidence_ = float(log_evidence)
        self.history_ = history
        self.converged_ = bool(converged)

    def _warn(self, result):
        from ..optim import Status
        if result.status == Status.MAX_ITER:
            warnings.warn(f"{type(self).__name__}: n_outer={self.n_outer} re-estimations done "
                          "before alpha and beta settled; raise n_outer or evidence_tol",
                          ConvergenceWarning, stacklevel=4)
        elif result.status in (Status.INTERRUPTED, Status.CALLBACK_STOP):
            warnings.warn(f"{type(self).__name__}: training stopped early; the posterior is "
                          "built at the weights reached", UserWarning, stacklevel=4)

    def _posterior(self, X):
        """Checked, standardised inputs and the fitted posterior."""
        check_is_fitted(self, "posterior_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._transform(X), self.posterior_

    # -- pickling: the posterior holds the Network, which holds functions ----------
    def __getstate__(self):
        state = super().__getstate__()
        post = state.get("posterior_")
        if isinstance(post, LaplacePosterior):
            state = dict(state)
            state["posterior_"] = post._fields()
        return state

    def __setstate__(self, state):
        post = state.get("posterior_")
        super().__setstate__(state)
        if isinstance(post, dict):
            self.posterior_ = LaplacePosterior(net=self.net_, **post)

    # -- model files (prmlnet.estimators._bayes_files) --------------------------------
    def _bayes_state(self):
        return _bayes_files.state(self)

    @classmethod
    def _check_file(cls, mf):
        super()._check_file(mf)
        _bayes_files.check(mf)

    def _restore_bayes(self, arrays, meta):
        _bayes_files.restore(self, arrays, meta)


class BayesianMLPRegressor(_BayesMixin, MLPRegressor):
    __doc__ = r"""Bayesian regression network: evidence-optimised α and β, Laplace error bars.

    The noise model is Gaussian with precision β on every output (5.161); the
    prior is Gaussian with precision α per group (5.162, §5.5.1).
    """ + _BAYES_PARAMS_DOC + r"""
    Examples
    --------
    >>> import numpy as np
    >>> from prmlnet import BayesianMLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, 0.5, (30, 1)); y = np.sin(2 * np.pi * X[:, 0]) + 0.1 * rng.standard_normal(30)
    >>> reg = BayesianMLPRegressor(hidden_layer_sizes=(5,), random_state=0).fit(X, y)
    >>> mean, std = reg.predict(np.array([[0.25], [1.0]]), return_std=True)
    >>> bool(std[1] > std[0] > 0)
    True
    """

    def __init__(self, hidden_layer_sizes=(10,), activation="tanh", prior="single", alpha=None,
                 beta=None, n_outer=20, n_inner=1, evidence_tol=1e-3, method="auto",
                 max_iter=500, tol=1e-7, hessian="exact", negative="auto", weights_init=None,
                 standardize=False, random_state=None, verbose=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.prior = prior
        self.alpha = alpha
        self.beta = beta
        self.n_outer = n_outer
        self.n_inner = n_inner
        self.evidence_tol = evidence_tol
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.hessian = hessian
        self.negative = negative
        self.weights_init = weights_init
        self.standardize = standardize
        self.random_state = random_state
        self.verbose = verbose

    # BaseMLP reads these; a Bayesian fit has no early stopping or online training.
    early_stopping = False
    _standardize_targets = False     # β is the noise precision in the targets' own units

    def predict(self, X, return_std=False):
        """Predictive mean y(x, w_MAP) and, with ``return_std``, the standard deviation
        :math:`\\sqrt{1/\\beta + \\mathbf{g}^\\mathrm{T}\\mathbf{A}^{-1}\\mathbf{g}}` (5.172, 5.173),
        each shaped like the ``y`` of ``fit``."""
        Xs, post = self._posterior(X)
        out = post.predict(Xs, return_std=return_std)
        ravel = getattr(self, "_y_ndim", 1) == 1 and self.net_.n_outputs == 1
        if not return_std:
            return out.ravel() if ravel else out
        mean, std = out
        return (mean.ravel(), std.ravel()) if ravel else (mean, std)

    def _extra_state(self):
        arrays, meta = self._bayes_state()
        return arrays, {**meta, "y_ndim": int(getattr(self, "_y_ndim", 1))}

    def _restore_state(self, arrays, meta):
        self._y_ndim = int(meta.get("y_ndim", 1))
        self.y_mean_ = self.y_scale_ = None
        self._restore_bayes(arrays, meta)


class BayesianMLPClassifier(_BayesMixin, MLPClassifier):
    __doc__ = r"""Bayesian classification network: evidence-optimised α, moderated probabilities.

    The output model follows the labels as for :class:`prmlnet.MLPClassifier`;
    there is no β (§5.7.3). ``predict_proba`` averages the outputs over the
    Laplace posterior of the output activations — by the probit approximation
    (5.190) for logistic outputs, which pulls the probabilities towards 1/2 where
    the weights are uncertain and leaves the 0.5 contour of a single logistic
    output where it is, and by the ``predictive`` method for softmax outputs.

    On held-out data the moderated probabilities need not beat the MAP network's in
    log-loss: on wine, breast cancer and digits the true posterior predictive under
    the evidence's α (by Hamiltonian Monte Carlo) is itself worse than the MAP's,
    and the Laplace Gaussian is broader than the true posterior on iris, wine and
    digits (``benchmarks/bench_bayes_calibration.py``).
    """ + _BAYES_PARAMS_DOC.replace("    weights_init :", _PREDICTIVE_DOC + "    weights_init :", 1) + r"""
    classes_ : ndarray
    """

    def __init__(self, hidden_layer_sizes=(10,), activation="tanh", prior="single", alpha=None,
                 n_outer=20, n_inner=1, evidence_tol=1e-3, method="auto", max_iter=500,
                 tol=1e-7, hessian="exact", negative="auto", predictive="probit",
                 weights_init=None, standardize=False, random_state=None, verbose=0):
        self.predictive = predictive
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.prior = prior
        self.alpha = alpha
        self.n_outer = n_outer
        self.n_inner = n_inner
        self.evidence_tol = evidence_tol
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.hessian = hessian
        self.negative = negative
        self.weights_init = weights_init
        self.standardize = standardize
        self.random_state = random_state
        self.verbose = verbose

    early_stopping = False
    beta = None

    def predict_proba(self, X, moderated=True):
        """Class probabilities (n_samples, n_classes), averaged over the Laplace posterior
        of the output activations by the ``predictive`` method (:mod:`prmlnet.bayes.predictive`);
        ``moderated=False`` gives the MAP network's outputs."""
        if not moderated:
            Xs, post = self._posterior(X)
            p = post.predict_proba(Xs, moderated=False)
            return np.hstack([1.0 - p, p]) if self._label_kind == "binary" else p
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X, moderated=True):
        r"""Logarithm of :meth:`predict_proba`, computed as logarithms throughout (for
        ``"probit"`` from the moderated activations, e.g. :math:`\ln\sigma(\kappa(\sigma_a^2)
        a_\text{MAP})` (5.190)): finite where p rounds to 0."""
        Xs, post = self._posterior(X)
        if not moderated:
            return self._log_proba_from(self.net_.forward(self.w_, Xs).a[-1])
        log_p, log_q = post.predict_log_proba(Xs, method=self.predictive,
                                              n_samples=PREDICTIVE_SAMPLES, rng=0)
        return np.hstack([log_q, log_p]) if self._label_kind == "binary" else log_p

    def _extra_state(self):
        arrays, meta = self._bayes_state()
        return arrays, {**meta, "label_kind": self._label_kind}

    def _restore_state(self, arrays, meta):
        self._label_kind = meta.get("label_kind") or (
            "binary" if self.classes_.size == 2 else "multiclass")
        self._restore_bayes(arrays, meta)
