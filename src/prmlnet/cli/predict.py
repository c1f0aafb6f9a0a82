"""``prmlnet predict``: a model file's predictions for the rows of a table, as CSV."""

from __future__ import annotations

import sys

import click
import numpy as np

from ._common import fmt, model_inputs


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="CSV file for the predictions [default: standard output].")
@click.option("--proba", is_flag=True, help="Add class probabilities (classifiers).")
@click.option("--no-std", is_flag=True,
              help="Leave out the error-bar columns <target>_std of a Bayesian regression model.")
@click.option("--mean", "with_mean", is_flag=True,
              help="Density models: add the conditional mean of each target, <target>_mean.")
@click.option("--mixture", "with_mixture", is_flag=True,
              help="Density models: add the mixture's parameters, pi_k, sigma_k and "
                   "mu_k_<target> for each component k.")
def predict(model, data, out, proba, no_std, with_mean, with_mixture):
    """Predict for the rows of DATA (CSV with a header, or .npz) with a model file.

    The model's input columns are taken by name (other columns are ignored);
    the output is CSV: the predicted target (class label) of each row and,
    with --proba, one probability column per class. A Bayesian regression model
    (fit --bayes) adds the predictive standard deviation of each target,
    sqrt(1/beta + g^T A^-1 g), as <target>_std. A density model (fit --task
    density) predicts the conditional mode, and with --mean and --mixture adds
    the conditional mean and the mixture p(t|x) itself. An option that does
    nothing for the model is an error.
    """
    import csv
    import io as _io
    import warnings

    from .. import modelfile
    from .datafiles import read_table

    if out is not None:                           # before any work: never destroy a file
        modelfile.check_output(out, inputs=[model, data])
    mf = modelfile.load(model)                    # bad files fail fast, before scikit-learn loads
    table = read_table(data)
    from ..estimators import from_model_file

    est = from_model_file(mf, model)
    names = model_inputs(mf, est)
    if names is None:
        numeric = [c for c in table.columns if table.values[c].dtype.kind in "fiub"]
        if len(numeric) != est.n_features_in_:
            raise click.UsageError(f"the model takes {est.n_features_in_} input columns but "
                                   f"{data} has {len(numeric)} numeric columns")
        names = numeric
    missing = [n for n in names if n not in table.values]
    if missing:
        raise click.UsageError(
            f"{data} lacks input column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))} that the model was trained on "
            f"(it takes {', '.join(map(repr, names))})")
    X = table.numeric(names, role="input")
    classifier = hasattr(est, "predict_proba") and hasattr(est, "classes_")
    density = hasattr(est, "predict_mixture")
    for given, ok, what in ((proba, classifier, "--proba needs a classification model"),
                            (no_std, mf.kind == "BayesianMLPRegressor",
                             "--no-std goes with a Bayesian regression model (fit --bayes), "
                             "the only one with error bars"),
                            (with_mean, density, "--mean needs a density model (fit --task "
                                                 "density)"),
                            (with_mixture, density, "--mixture needs a density model (fit "
                                                    "--task density)")):
        if given and not ok:
            raise click.UsageError(what)
    cli_meta = mf.meta.get("cli") or {}
    targets = cli_meta.get("targets") or ["prediction"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        error_bars = mf.kind == "BayesianMLPRegressor" and not no_std
        if error_bars:                       # predictive sd, (5.172)-(5.173)
            pred, std = (np.asarray(v).reshape(len(X), -1) for v in est.predict(X, return_std=True))
        else:
            pred = est.predict(X)
        P = est.predict_proba(X) if proba else None
        mix = est.predict_mixture(X) if with_mean or with_mixture else None
    pred = np.asarray(pred)
    if pred.ndim == 1:
        pred = pred[:, None]
    if cli_meta.get("target_scale") is not None:      # targets fit standardised (fit --bayes)
        scale = np.asarray(cli_meta["target_scale"], dtype=float)
        pred = pred * scale + np.asarray(cli_meta["target_mean"], dtype=float)
        if error_bars:
            std = std * scale
    header = list(targets) if len(targets) == pred.shape[1] else \
        [f"{targets[0]}_{k}" for k in range(pred.shape[1])]
    names = list(header)
    if error_bars:
        header += [f"{h}_std" for h in names]
        pred = np.hstack([pred, std])
    if with_mean:
        header += [f"{h}_mean" for h in names]
        pred = np.hstack([pred, mix.mean().reshape(len(X), -1)])
    if with_mixture:
        L = mix.pi.shape[1]
        header += [f"pi_{k + 1}" for k in range(L)] + [f"sigma_{k + 1}" for k in range(L)]
        header += [f"mu_{k + 1}_{h}" for k in range(L) for h in names]
        pred = np.hstack([pred, mix.pi, mix.sigma, mix.mu.reshape(len(X), -1)])
    if P is not None:
        header += [f"p_{fmt(c)}" for c in est.classes_]
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for i in range(pred.shape[0]):
        row = [fmt(v) for v in pred[i]]
        if P is not None:
            row += [fmt(v) for v in P[i]]
        writer.writerow(row)
    if out is None:
        click.echo(buf.getvalue(), nl=False)
    else:
        modelfile.write_output(out, lambda f: f.write(buf.getvalue().encode("utf-8")),
                               inputs=[model, data])
        click.echo(f"wrote {pred.shape[0]} predictions to {out}", err=True)
