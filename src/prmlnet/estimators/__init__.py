"""scikit-learn estimators — the only part of prmlnet that imports scikit-learn.

:class:`MLPRegressor` and :class:`MLPClassifier` (in :mod:`.mlp`) and the
convolutional :class:`ConvNetClassifier` (in :mod:`.conv`) stand on
:class:`~prmlnet.estimators._base.BaseMLP`, which later estimators (the mixture
density network, the Bayesian networks) reuse. Every estimator saves to and
loads from the model-file format of :mod:`prmlnet.modelfile`::

    clf.save("model.npz")
    clf = prmlnet.estimators.load("model.npz")
"""

from ._base import KINDS, BaseMLP, from_model_file, load
from .mlp import MLPClassifier, MLPRegressor
from .mdn import MDNRegressor
from .bayes import BayesianMLPClassifier, BayesianMLPRegressor
from .conv import ConvNetClassifier

__all__ = ["BaseMLP", "MLPRegressor", "MLPClassifier", "MDNRegressor", "BayesianMLPRegressor", "BayesianMLPClassifier",
           "ConvNetClassifier", "load", "from_model_file", "KINDS"]
