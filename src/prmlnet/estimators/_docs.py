"""The parameter sections of the multilayer perceptrons' docstrings (numpydoc), shared
by the regressor, the classifier and the mixture density network."""

_PARAMS_DOC = r"""
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (10,)
        Hidden units of each hidden layer, input side first.
    activation : str or list of str, default "tanh"
        Hidden activation h: ``tanh``, ``logistic``, ``identity``, ``relu``,
        ``softplus`` (one name, or one per hidden layer).
    alpha : float or dict, default 0.01
        PRML's weight-decay coefficient α on
        :math:`\frac{\alpha}{2}\mathbf{w}^\mathrm{T}\mathbf{w}` (5.112), applied to
        every weight and bias, **not divided by the number of samples**: the
        error it is added to is a *sum* over patterns, so its effect weakens as
        N grows, as in the book. (scikit-learn's MLP writes
        ``alpha / (2 n_samples)`` beside a mean loss — the same objective up to
        the factor n_samples, on weights only.) A dict ``{group: α}`` over the
        network's weight groups ``"W1", "b1", "W2", ...`` gives the consistent
        priors of §5.5.1; groups not named are not penalised.
    method : str, default "scg"
        A batch method of :func:`prmlnet.optim.minimize` (``cg``, ``scg``,
        ``bfgs``, ``lbfgs``, ``newton``, and ``gd``: batch gradient descent
        (5.41) with the fixed rate ``learning_rate``, the same as
        ``minimize(..., method="gd", learning_rate=learning_rate)``) or an
        online method of :mod:`prmlnet.optim.online` (``sgd``, ``momentum``,
        ``adam``; these enable ``partial_fit``).
    max_iter : int, default 200
        Iterations of a batch method, or epochs of an online one.
    tol : float, default 1e-5
        Converged when :math:`\|\nabla E\|_\infty \le` ``tol`` (E summed over
        patterns; checked at the end of each epoch for online methods) — for
        regression ``tol`` times the standard deviation of the training targets
        (after any standardisation), so that the test does not depend on their
        units; batch methods also stop when a step lowers E by a relative 1e-12
        or less. Online methods without early stopping also stop, as
        scikit-learn's do, when the epoch's error per pattern has not fallen
        more than ``tol`` (for regression: ``tol`` times the targets' variance)
        below its lowest value for ``n_iter_no_change`` epochs in a row.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data, stop when the
        validation error has not improved for ``n_iter_no_change`` iterations
        and keep the weights with the lowest validation error (§5.5.2);
        checked every iteration (every epoch for online methods). For a
        classifier of labels the split is stratified: each class keeps its
        share on both sides, so every class needs at least two samples. Not
        with ``partial_fit``.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
        The patience of early stopping, and of the loss-plateau stop of online
        methods (see ``tol``).
    batch_size : int, default 32
        Mini-batch size of the online methods (clipped to n_samples).
    learning_rate : float, default 0.01
        Step size η of the online methods and of ``gd``. The error is a sum
        over patterns, so a mini-batch step moves by η times a sum over the
        batch, and a ``gd`` step by η times a sum over all N patterns: ``gd``
        needs an η about N / batch_size times smaller.
    standardize : bool, default False
        Standardise each input column to zero mean and unit variance before the
        network (the statistics are stored in ``x_mean_``, ``x_scale_`` and in
        model files); a regressor standardises its targets too (``y_mean_``,
        ``y_scale_``) and maps its predictions back, so that targets in any
        units (1e-12 or 1e12, or offset by 1e6) are fitted alike — α, ``loss_``
        and ``loss_curve_`` then refer to the standardised problem. Nothing is
        standardised by default.
    warm_start : bool, default False
        ``fit`` continues from the weights of the previous fit (same network,
        same classes; a fresh optimizer) instead of fresh random ones;
        ``loss_curve_`` and ``n_iter_`` go on counting.
    random_state : int, RandomState or None, default None
        Seeds the initial weights (and the shuffling of online methods and the
        validation split): the same seed and data give bit-identical weights.
    verbose : int, default 0
        Print the error after every iteration.
    Attributes
    ----------
    net_ : prmlnet.Network
        The network description (sizes, activations, output model).
    w_ : ndarray of shape (net_.n_weights,)
        The trained flat weight vector.
    n_iter_ : int
        Iterations (or epochs) run.
    loss_ : float
        Final training error :math:`E(\mathbf{w})` — a sum over patterns plus
        :math:`\frac{\alpha}{2}\mathbf{w}^\mathrm{T}\mathbf{w}` (not a mean) and
        any regularizer terms, on the untransformed training data.
    loss_curve_ : list of float
        E after each iteration (epoch); for ``partial_fit`` the sum of the
        epoch's mini-batch errors.
    validation_errors_ : list of float or None
        With ``early_stopping``: the held-out error after each iteration (epoch),
        the error E_D summed over the validation samples (weighted), **lower is
        better** — not scikit-learn's ``validation_scores_`` (accuracy or R²,
        higher is better). None without early stopping (reset by every fit).
    best_validation_error_ : float or None
        Its minimum, the error of the weights kept.
    result_ : prmlnet.optim.OptimizeResult
        The optimizer's result (status, evaluations, history). None after loading.
    training_ : dict
        Training metadata (data shape, error, iterations, status, seconds);
        stored in model files.
    x_mean_, x_scale_ : ndarray of shape (n_features,) or None
        Input standardisation, or None when ``standardize`` is False.
    y_mean_, y_scale_ : ndarray of shape (n_targets,) or None
        Target standardisation of a regressor, or None.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when X has string column names (a pandas DataFrame).
"""


_PRIOR_DOC = r"""    weight_prior : {"gaussian", "mixture"}, default "gaussian"
        The prior over the weights. ``"gaussian"``: weight decay ``alpha``.
        ``"mixture"``: soft weight sharing (§5.5.7) — a mixture of
        ``n_prior_components`` Gaussians over the connection weights, its mixing
        coefficients, centres and widths learned jointly with the weights,
        added to the error as λΩ with λ = ``alpha`` (with one component of mean
        0 and width 1 that is weight decay α); the biases keep weight decay
        ``alpha``. The fitted mixture is ``mixture_``
        (:class:`prmlnet.soft_weight_sharing.SoftWeightSharing`). Any method but
        ``newton``.
    n_prior_components : int, default 3
        Components of the mixture with ``weight_prior="mixture"``.
"""

_INVARIANCE_DOC = r"""    image_shape : tuple of int or None, default None
        (H, W) or (C, H, W): each row of X is an image flattened row-major
        (NCHW), as the image transformations below need.
    invariances : tuple of str, default ()
        Transformations for tangent propagation (§5.5.4): ``translate_x``,
        ``translate_y`` (``translate`` for both), ``rotate``, ``scale``,
        ``thicken`` (see :mod:`prmlnet.invariance.images`): one tangent vector
        per training pattern and transformation, of the raw images.
    tangent_prop : float, default 0.0
        λ of tangent propagation, :math:`E + \lambda\Omega` with
        :math:`\Omega = \frac12\sum_n\sum_s \|\mathbf{J}_n\boldsymbol\tau_{ns}\|^2`
        on the outputs y, **summed over patterns** (like α, not divided by N).
        Needs ``invariances`` and ``image_shape``.
    tikhonov : float, default 0.0
        λ of the Tikhonov regularizer
        :math:`\frac12\sum_n \|\nabla_{\mathbf{x}}\mathbf{y}(\mathbf{x}_n)\|^2`
        (§5.5.5), summed over patterns; for any inputs.
    augment : None, str, tuple of str or callable, default None
        Training with transformed data (§5.5.5): ``"affine"`` (random shifts up
        to half a pixel, rotations up to 0.1 rad, sizes within ±5 %),
        ``"elastic"`` (elastic warping, Figure 5.14: 0.5 pixels rms, smoothed
        over 1.5 pixels), ``"noise"`` (Gaussian input noise, σ = 0.1), a tuple of names for all in turn, or any callable
        ``(X, rng) -> X`` such as :class:`prmlnet.invariance.RandomAffine`.
        Batch methods train on a fixed set of the originals and ``n_augment``
        transformed copies of each; online methods transform every mini-batch
        afresh. Draws come from the ``random_state`` generator (reproducible).
    n_augment : int, default 5
        Transformed copies of each pattern in the fixed set of batch methods.
"""

_MLP_PARAMS_DOC = _PARAMS_DOC.replace("    method : str, default \"scg\"", _PRIOR_DOC
                                      + "    method : str, default \"scg\"", 1).replace(
    "\n    Attributes\n", "\n" + _INVARIANCE_DOC + "\n    Attributes\n", 1).replace(
    "    n_features_in_ : int\n", "    mixture_ : SoftWeightSharing or None\n        The learned "
    "mixture prior (``weight_prior=\"mixture\"`` only).\n    n_features_in_ : int\n", 1)
