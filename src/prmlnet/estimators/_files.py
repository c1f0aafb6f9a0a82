"""Estimators in model files: the registry of estimator kinds, and loading.

Every subclass of :class:`~prmlnet.estimators._base.BaseMLP` registers itself
in :data:`KINDS` under its class name, which is the ``kind`` a model file
records; :func:`load` turns a file back into the fitted estimator.
"""

from __future__ import annotations

import math

import numpy as np

from .. import modelfile

__all__ = ["KINDS", "from_model_file", "load"]

#: estimator class name -> class, filled as subclasses are defined (for loading)
KINDS: dict = {}


def _json_params(params):
    """Hyperparameters as JSON values; those that are not (a RandomState) become None."""
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or isinstance(v, (bool, int, float, str)):
            out[k] = v
        elif isinstance(v, list) and all(isinstance(x, (bool, int, float, str)) for x in v):
            out[k] = v
        elif isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
            out[k] = {str(a): b for a, b in v.items()}
        else:
            out[k] = None
    return out


def from_model_file(mf: modelfile.ModelFile, path=None):
    """The fitted estimator that a :class:`prmlnet.modelfile.ModelFile` describes.

    The file is checked against what the estimator kind needs (its output
    model, class labels, posterior, hyperparameters) before anything is built;
    ``path`` names the file in the one-line :class:`~prmlnet.modelfile.ModelFileError`.
    """
    name = "the model file" if path is None else f"model file {path}"
    if mf.kind not in KINDS:
        raise modelfile.ModelFileError(
            f"{name} holds a {mf.kind[:40]!r}, which is not an estimator prmlnet knows "
            f"({', '.join(sorted(KINDS))})")
    cls = KINDS[mf.kind]
    try:
        cls._check_file(mf)
        return _rebuild(cls, mf)
    except (ValueError, TypeError, KeyError) as e:
        raise modelfile.ModelFileError(f"{name} cannot be a {mf.kind}: {e} (the file was not "
                                       "written by prmlnet, or was edited)") from None


def _rebuild(cls, mf):
    params = dict(mf.params)
    valid = cls._get_param_names()
    params = {k: v for k, v in params.items() if k in valid}
    for key in ("hidden_layer_sizes", "image_shape", "invariances", "augment"):
        if isinstance(params.get(key), list):              # JSON has no tuples
            params[key] = tuple(params[key])
    est = cls(**params)
    est._check_params()
    est.net_ = mf.network
    est.w_ = np.ascontiguousarray(mf.w, dtype=np.float64)
    est.x_mean_, est.x_scale_ = mf.x_mean, mf.x_scale
    if mf.classes is not None:
        est.classes_ = mf.classes
    tr = dict(mf.training)
    names = tr.pop("feature_names", None)
    est.n_features_in_ = mf.network.n_inputs
    if names is not None:
        est.feature_names_in_ = np.asarray(names, dtype=object)
    est.training_ = tr
    est.n_iter_ = int(tr.get("n_iter", 0))
    est.loss_ = float(tr.get("error", math.nan))
    arrays = dict(mf.arrays)
    est.loss_curve_ = [float(v) for v in arrays.pop("loss_curve", [])]
    est.result_ = None
    est._rng_ = est._rng()
    est._restore_prior(arrays)
    est._restore_state(arrays, mf.meta)
    return est


def load(path, *, max_bytes=None):
    """Read any prmlnet estimator from a model file written by its ``save``
    (``max_bytes``: see :func:`prmlnet.modelfile.load`)."""
    return from_model_file(modelfile.load(path, max_bytes=max_bytes), path)
