"""prmlnet: Chapter 5 of Bishop's *Pattern Recognition and Machine Learning*, end to end.

The core (networks, layers, activations, output models) is imported eagerly;
the estimators and the heavier parts load on first use, so ``import prmlnet``
stays fast and does not import scikit-learn.
"""

from importlib import import_module

from .activations import ACTIVATIONS, Activation, get_activation
from .layers import Dense, Layer
from .network import ForwardCache, Network
from .outputs import OUTPUTS, OutputModel, get_output
from .symmetry import equivalent_weights, symmetry_count

__version__ = "0.1.0"

# public name -> submodule that defines it, imported on first access
_LAZY = {
    "MLPRegressor": "prmlnet.estimators",
    "MLPClassifier": "prmlnet.estimators",
    "MDNRegressor": "prmlnet.estimators",
    "BayesianMLPRegressor": "prmlnet.estimators",
    "BayesianMLPClassifier": "prmlnet.estimators",
    "ConvNetClassifier": "prmlnet.estimators",
    "Objective": "prmlnet.objective",
    "MixtureDensity": "prmlnet.mdn",
    "GaussianPrior": "prmlnet.priors",
    "SoftWeightSharing": "prmlnet.soft_weight_sharing",
}
_SUBMODULES = {"hessian", "optim", "testing", "datasets", "objective", "mdn", "bayes",
               "estimators", "modelfile", "tour", "distributed", "priors",
               "soft_weight_sharing", "invariance", "convolution"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return import_module(f"prmlnet.{name}")
    raise AttributeError(f"module 'prmlnet' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS", "Activation", "get_activation",
    "Dense", "Layer",
    "ForwardCache", "Network",
    "OUTPUTS", "OutputModel", "get_output",
    "equivalent_weights", "symmetry_count",
    *_LAZY,
]
