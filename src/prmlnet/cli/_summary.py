"""What ``prmlnet fit`` checks before training and reports after it.

* Options that do nothing in the chosen mode are refused (:func:`check_options`),
  and so is a classification of a target that is a measurement, not labels
  (:func:`refuse_continuous`).
* The Bayesian regressor keeps its targets' units (its β is their noise
  precision), so the command line standardises them itself, one mean and scale
  per target, stored in the model file's ``meta["cli"]`` and undone by
  ``prmlnet predict`` (:func:`target_scaling`).
* The summary (:func:`report`) gives the training error on one scale in every
  mode: the data error of the predictions the model file makes, summed over the
  rows, in the targets' own units — half the squared residuals for regression,
  the cross-entropy of the predicted probabilities for classification, the
  negative log-likelihood for a density.
"""

from __future__ import annotations

import click
import numpy as np

__all__ = ["check_options", "refuse_continuous", "target_scaling", "standardised", "report",
           "named_alphas"]


def _given(ctx, name) -> bool:
    """Whether the option was given on the command line (not left at its default)."""
    return ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT, None)


def check_options(ctx, task, bayes, weight_prior, conv_layers, image_shape, invariances,
                  tangent_prop, augment):
    """Raise click.UsageError for an option given that does nothing in this mode."""
    needs = [("components", task == "density", "--components goes with --task density"),
             ("prior", bayes, "--prior goes with --bayes (the evidence framework's groups)"),
             ("n_outer", bayes, "--n-outer goes with --bayes"),
             ("prior_components", weight_prior == "mixture",
              "--prior-components goes with --weight-prior mixture"),
             ("invariances", tangent_prop > 0,
              "--invariance gives the transformations of tangent propagation: it needs "
              "--tangent-prop > 0"),
             ("hidden", not conv_layers, "--hidden does nothing with --layers (the spec gives "
                                         "the hidden layers)")]
    uses_image = bool(conv_layers) or tangent_prop > 0 or any(a != "noise" for a in augment)
    needs.append(("image_shape", uses_image, "--image-shape is read by --layers, --invariance "
                                             "with --tangent-prop, or --augment affine/elastic"))
    for name, ok, message in needs:
        if not ok and _given(ctx, name):
            raise click.UsageError(f"{message}; it does nothing here — leave it out")


def refuse_continuous(y, name, path):
    """Raise click.UsageError when numeric labels look like a measurement: values that
    are not whole numbers, or more than 20 distinct values with fewer than 5 rows each."""
    if y.dtype.kind not in "fiu":
        return
    values, counts = np.unique(y, return_counts=True)
    whole = y.dtype.kind in "iu" or bool(np.all(y == np.round(y)))
    if whole and (values.size <= 20 or y.size >= 5 * values.size):
        return
    what = ("values that are not whole numbers" if not whole else
            f"{values.size} distinct values among {y.size} rows ({y.size / values.size:.1f} "
            "rows each)")
    raise click.UsageError(
        f"target {name!r} of {path} looks continuous ({what}); a classifier would learn "
        f"{values.size} classes from it — use --task regression, or give the classes as "
        "labels")


def target_scaling(y):
    """``(means, scales)`` of each target column, as lists (a constant column: scale 1)."""
    from ..estimators._base import column_scales
    mean, scale = column_scales(np.asarray(y, dtype=float).reshape(len(y), -1), "target")
    return [float(v) for v in mean], [float(v) for v in scale]


def standardised(y, scaling):
    mean, scale = (np.asarray(v) for v in scaling)
    Y = (np.asarray(y, dtype=float).reshape(len(y), -1) - mean) / scale
    return Y[:, 0] if np.ndim(y) == 1 else Y


def named_alphas(alpha, features):
    """The α of each prior group, ARD's ``x1 ... xD`` named by their input columns."""
    if not isinstance(alpha, dict):
        return f"{alpha:.4g}"
    names = {f"x{i + 1}": f for i, f in enumerate(features or [])}
    return ", ".join(f"{names.get(k, k)} {v:.4g}" for k, v in alpha.items())


def _data_error(est, task, X, y, scaling):
    """``(E_D, what)``: the data error of the model's predictions on the training rows,
    summed over them, in the targets' units."""
    if task == "classification":
        logp = est.predict_log_proba(X)
        idx = np.searchsorted(est.classes_, y)
        return -float(np.sum(logp[np.arange(len(y)), idx])), "cross-entropy"
    if task == "density":
        return -float(np.sum(est.log_likelihood(X, y))), "negative log-likelihood"
    pred = np.asarray(est.predict(X), dtype=float).reshape(len(X), -1)
    if scaling is not None:
        pred = pred * np.asarray(scaling[1]) + np.asarray(scaling[0])
    r = pred - np.asarray(y, dtype=float).reshape(len(X), -1)
    return 0.5 * float(np.sum(r * r)), "½ squared residuals, targets' units"


_STATUS = {"MAX_ITER": "maximum reached", "CONVERGED": "converged",
           "CALLBACK_STOP": "early stopping", "INTERRUPTED": "interrupted",
           "STALLED": "stalled, not converged",
           "LINE_SEARCH_FAILED": "line search failed, not converged"}


def report(est, cls, task, activation, seconds, X, y, scaling, features, components):
    """Print the fit summary to standard error."""
    def say(line):
        click.echo(line, err=True)
    tr, net = est.training_, est.net_
    say(f"{cls.__name__} {'-'.join(map(str, net.sizes))} ({activation} hidden, "
        f"{net.output.name} outputs, W = {net.n_weights})")
    E, what = _data_error(est, task, X, y, scaling)
    status = _STATUS.get(tr["status"], tr["message"])
    say(f"  training error E_D = {E:.6g} ({E / len(X):.4g} per row; {what}), "
        f"{tr['n_iter']} iterations ({status}), {seconds:.2f} s")
    if hasattr(est, "log_evidence_"):
        _bayes(est, scaling, features, say)
    if getattr(est, "mixture_", None) is not None:
        m = est.mixture_
        say("  weight mixture: " + ", ".join(f"π {p:.3g} μ {mu:.3g} σ {sd:.3g}"
                                               for p, mu, sd in zip(m.pi, m.mu, m.sigma)))
    if task == "classification":
        say(f"  training accuracy {est.score(X, y):.4f}")
    elif task == "density":
        say(f"  training mean log-likelihood {est.score(X, y):.4f} per row "
            f"({components} components)")
    else:
        Y = np.asarray(y, dtype=float).reshape(len(X), -1)
        pred = np.asarray(est.predict(X), dtype=float).reshape(len(X), -1)
        if scaling is not None:
            pred = pred * np.asarray(scaling[1]) + np.asarray(scaling[0])
        r = pred - Y
        r2 = 1.0 - np.sum(r * r, axis=0) / np.maximum(np.sum((Y - Y.mean(0)) ** 2, axis=0),
                                                      1e-300)
        say(f"  training RMSE {np.sqrt(np.mean(r ** 2)):.4g}, R² {np.mean(r2):.4f}")


def _bayes(est, scaling, features, say):
    beta = ""
    if est.net_.output.name == "linear":
        sd = est.beta_ ** -0.5
        beta = f", beta {est.beta_:.4g} (noise sd {sd:.4g}"
        if scaling is not None:
            beta += ", in the targets' units " + ", ".join(f"{sd * s:.4g}" for s in scaling[1])
        beta += ")"
    say(f"  evidence: alpha {named_alphas(est.alpha_, features)}{beta}, gamma "
        f"{est.gamma_:.4g} of {est.net_.n_weights} weights, ln evidence "
        f"{est.log_evidence_:.6g}, {est.n_iter_} re-estimations"
        + ("" if est.converged_ else " (not settled; raise --n-outer)")
        + (" — on standardised targets" if scaling is not None else ""))
