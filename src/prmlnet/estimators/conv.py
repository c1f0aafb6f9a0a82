r"""A convolutional-network classifier (PRML §5.5.6) with the scikit-learn API.

Each row of ``X`` is one image in (C, H, W) order, flattened — the layout of
:func:`prmlnet.datasets.digits` and of NumPy's ``images.reshape(len(images), -1)``.
The hidden layers are a spec string (:func:`prmlnet.convolution.parse_spec`);
a dense output layer with the output model of :class:`MLPClassifier` follows.
"""

from __future__ import annotations

import math

import numpy as np

from .mlp import MLPClassifier

__all__ = ["ConvNetClassifier"]


class ConvNetClassifier(MLPClassifier):
    r"""Convolutional-network classification with the cross-entropy error.

    The output model follows the labels as in :class:`MLPClassifier`: one
    logistic output for two classes (5.21), softmax outputs for more (5.24), K
    logistic outputs for a label indicator matrix (5.23). Training minimises
    :math:`E(\mathbf{w}) = \sum_n E_n(\mathbf{w}) + \frac{\alpha}{2}\mathbf{w}^\mathrm{T}\mathbf{w}`,
    a **sum** over patterns, α not divided by the number of samples.

    Parameters
    ----------
    layers : str, default "conv:6x3x3-sub-dense:30"
        The hidden layers, input side first: ``conv:MxK`` (M feature maps of K×K
        kernels; ``conv:MxKHxKW`` for other shapes, ``:pad=P`` for zero padding),
        ``sub`` (the book's 2×2 subsampling: block means × one weight + one bias
        per map), ``max`` (max pooling, beyond the book), ``dense:M``; each item may
        end in ``:ACTIVATION``. See :func:`prmlnet.convolution.parse_spec`.
    image_shape : (C, H, W) or None, default None
        Shape of each image. None reads ``n_features`` = s² as one s×s image
        (``(1, 8, 8)`` for 64 features) and any other ``n_features`` D as a 1×D
        signal.
    activation : str, default "tanh"
        Activation of the items of ``layers`` that name none (max pooling: identity).
    alpha, weight_prior, n_prior_components, method, max_iter, tol, early_stopping, validation_fraction, n_iter_no_change, batch_size, learning_rate, standardize, warm_start, random_state, verbose
        As for :class:`MLPClassifier`; ``weight_prior="mixture"`` is soft weight
        sharing (§5.5.7) over the kernels and the other connection weights. ``standardize`` scales each pixel on its
        own, which breaks the sharing of weights across positions in spirit;
        leave it off for images already in a fixed range.
    invariances, tangent_prop, tikhonov, augment, n_augment
        The invariances of §5.5.3–5.5.5, as for :class:`MLPClassifier`:
        tangent propagation along the named transformations with strength
        ``tangent_prop`` (Ω summed over patterns), the Tikhonov regularizer,
        training with transformed data. The transformations act on the images
        of ``image_shape_`` (the given or the inferred shape), so
        ``image_shape`` may stay None. They add to the translation invariance
        that the shared kernels build in: rotations, scalings, thickening, or
        shifts by less than a pixel.

    Attributes
    ----------
    image_shape_ : tuple (C, H, W)
        The image shape used.
    net_, w_, classes_, n_iter_, loss_, loss_curve_, result_, training_, n_features_in_
        As for :class:`MLPClassifier`.

    Examples
    --------
    >>> from prmlnet import ConvNetClassifier, datasets
    >>> X, y = datasets.digits()
    >>> clf = ConvNetClassifier("conv:4x3x3-sub-dense:16", max_iter=30, random_state=0)
    >>> clf = clf.fit(X[:300], y[:300])
    >>> clf.image_shape_, clf.net_.n_weights
    ((1, 8, 8), 810)
    """

    def __init__(self, layers="conv:6x3x3-sub-dense:30", image_shape=None, activation="tanh",
                 alpha=0.01, weight_prior="gaussian", n_prior_components=3, method="scg",
                 max_iter=200, tol=1e-5, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, batch_size=32, learning_rate=0.01, standardize=False,
                 warm_start=False, random_state=None, verbose=0, invariances=(),
                 tangent_prop=0.0, tikhonov=0.0, augment=None, n_augment=5):
        self.layers = layers
        self.image_shape = image_shape
        self.activation = activation
        self.alpha = alpha
        self.weight_prior = weight_prior
        self.n_prior_components = n_prior_components
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
        self.invariances = invariances              # §5.5.3-5.5.5, see _invariance.py
        self.tangent_prop = tangent_prop
        self.tikhonov = tikhonov
        self.augment = augment
        self.n_augment = n_augment

    #: every row is an image: the invariances may use the inferred ``image_shape_``
    _reads_images = True

    def _check_architecture(self):
        from ..activations import get_activation
        from ..convolution import parse_spec
        parse_spec(self.layers)
        get_activation(self.activation)
        if self.image_shape is not None:
            self._shape_of(None)

    def _shape_of(self, n_features):
        """The image shape for rows of ``n_features`` values (None: only check the parameter)."""
        if self.image_shape is None:
            s = math.isqrt(n_features)
            return (1, s, s) if s * s == n_features else (1, 1, n_features)
        try:
            shape = tuple(int(v) for v in self.image_shape)
        except (TypeError, ValueError):
            shape = ()
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be three positive integers (C, H, W) or None; "
                             f"got {self.image_shape!r}")
        if n_features is not None and np.prod(shape) != n_features:
            raise ValueError(f"X has {n_features} feature(s) but image_shape {shape} holds "
                             f"{int(np.prod(shape))} pixels")
        return shape

    def _build_network(self, n_features, output, n_out):
        from ..convolution import network_from_spec
        shape = self._shape_of(n_features)
        try:
            net = network_from_spec(self.layers, shape, n_out, hidden=self.activation,
                                    output=output)
        except ValueError as e:
            raise ValueError(f"X has {n_features} feature(s), read as images of shape "
                             f"{shape}: {e}") from None
        self.image_shape_ = shape
        return net

    def _restore_state(self, arrays, meta):
        super()._restore_state(arrays, meta)
        if isinstance(self.image_shape, list):
            self.image_shape = tuple(self.image_shape)
        self.image_shape_ = tuple(self.net_.layers[0].in_shape)
