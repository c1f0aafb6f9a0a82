"""Invariances (PRML §5.5.3–5.5.5): tangent propagation, Tikhonov, transformed data.

- :mod:`~prmlnet.invariance.tangent` — the tangent-propagation regularizer with its
  exact gradient (forward tangent pass, backward pass) and the Tikhonov regularizer,
  as :class:`~prmlnet.priors.Term` objects for an :class:`~prmlnet.objective.Objective`;
- :mod:`~prmlnet.invariance.images` — transformations of images and their tangent
  vectors by central differences of ``scipy.ndimage`` resamplings;
- :mod:`~prmlnet.invariance.transformed` — random transformations (shifts and
  rotations, elastic warps, input noise) and fixed augmented training sets.
"""

from .images import TRANSFORMS, image_shape, image_tangents, transform_images, upsample
from .tangent import (TangentPropagation, Tikhonov, tangent_outputs, tangent_penalty,
                      tikhonov_penalty)
from .transformed import Compose, ElasticWarp, InputNoise, RandomAffine, augment

__all__ = ["TangentPropagation", "Tikhonov", "tangent_outputs", "tangent_penalty",
           "tikhonov_penalty", "TRANSFORMS", "image_shape", "image_tangents",
           "transform_images", "upsample", "RandomAffine", "ElasticWarp", "InputNoise",
           "Compose", "augment"]
