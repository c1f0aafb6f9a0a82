"""``prmlnet fit``: train an estimator on a CSV (or .npz) table and write a model file."""

from __future__ import annotations

import sys

import click
import numpy as np

from ..activations import ACTIVATIONS
from ..priors import GROUPINGS
from . import _summary
from ._common import DeferSigint, TASKS, choose_task, hidden_sizes, methods, progress_callback


def _image_shape(ctx, param, value):
    if value is None:
        return None
    try:
        shape = tuple(int(v) for v in value.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise click.BadParameter(f"expected HxW or CxHxW like 8x8; got {value!r}")
    return shape


@click.command()
@click.argument("train", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "targets", required=True, multiple=True,
              help="Target column (repeat for several regression targets).")
@click.option("--ignore", "ignored", multiple=True,
              help="A column that is not an input (an identifier, say); repeatable.")
@click.option("--task", type=click.Choice(TASKS), default="auto", show_default=True,
              help="auto: classification for a non-numeric target or one with at most 20 "
                   "integer values, otherwise regression. density: a mixture density "
                   "network (PRML 5.6) for multi-valued targets; predict gives the "
                   "conditional mode.")
@click.option("--components", type=click.IntRange(1), default=3, show_default=True,
              help="With --task density: mixture components L.")
@click.option("--hidden", default="10", show_default=True, callback=hidden_sizes,
              help="Hidden units per hidden layer, e.g. 10 or 20,10 (0: no hidden layer).")
@click.option("--activation", type=click.Choice(sorted(ACTIVATIONS)), default="tanh",
              show_default=True, help="Hidden-unit activation.")
@click.option("--alpha", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Weight decay α on (α/2)wᵀw, not divided by the number of samples "
                   "(with --weight-prior mixture: λ of the mixture, and the biases' α).")
@click.option("--weight-prior", type=click.Choice(["gaussian", "mixture"]), default="gaussian",
              show_default=True,
              help="gaussian: weight decay. mixture: soft weight sharing (PRML 5.5.7), a "
                   "mixture of Gaussians over the weights learned with them.")
@click.option("--prior-components", type=click.IntRange(1), default=3, show_default=True,
              help="With --weight-prior mixture: the mixture's components.")
@click.option("--method", type=click.Choice(methods()), default="scg", show_default=True)
@click.option("--max-iter", type=click.IntRange(1), default=200, show_default=True,
              help="Iterations (epochs for online methods).")
@click.option("--tol", type=click.FloatRange(min=0), default=1e-5, show_default=True,
              help="Stop when the largest gradient component falls below this.")
@click.option("--early-stopping", is_flag=True,
              help="Hold out 10% of the rows; keep the weights with the lowest validation error.")
@click.option("--no-standardize", is_flag=True,
              help="Feed the inputs and the regression targets unscaled (by default both are "
                   "standardised; the statistics are stored in the model and predict maps back).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same seed and data give the same weights.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Model file to write [default: TRAIN's name with .model.npz].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@click.option("--bayes", is_flag=True,
              help="Bayesian network (PRML 5.7): alpha (and beta) by the evidence framework, "
                   "--alpha is the starting value (default: the best of runs from 0.01, 1 "
                   "and 100 for regression, 0.01 for classification); predict then gives "
                   "error bars (regression) or moderated "
                   "probabilities (classification).")
@click.option("--prior", type=click.Choice(GROUPINGS), default="single",
              show_default=True, help="With --bayes: one alpha, one per layer, or one per "
                                      "input (automatic relevance determination).")
@click.option("--n-outer", type=click.IntRange(1), default=20, show_default=True,
              help="With --bayes: most re-estimations of alpha and beta.")
@click.option("--image-shape", default=None, callback=_image_shape,
              help="The input columns are the pixels of an image, row-major: HxW or CxHxW.")
@click.option("--invariance", "invariances", multiple=True,
              type=click.Choice(["translate", "translate_x", "translate_y", "rotate", "scale",
                                 "thicken"]),
              help="A transformation for tangent propagation (PRML 5.5.4); repeatable.")
@click.option("--tangent-prop", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Strength λ of tangent propagation (needs --image-shape, --invariance).")
@click.option("--tikhonov", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Strength λ of the Tikhonov regularizer ½Σ‖∇ₓy‖² (PRML 5.5.5).")
@click.option("--augment", multiple=True, type=click.Choice(["affine", "elastic", "noise"]),
              help="Train on transformed copies (PRML 5.5.3): small random affine moves, "
                   "elastic warps (need --image-shape) or input noise; repeatable.")
@click.option("--layers", "conv_layers", default=None, metavar="SPEC",
              help="A convolutional classifier (PRML 5.5.6) with these hidden layers instead "
                   "of --hidden, e.g. conv:6x3x3-sub-dense:30, on images of --image-shape "
                   "[default: square].")
def fit(train, targets, ignored, task, components, hidden, activation, alpha, weight_prior,
        prior_components, method, max_iter, tol, early_stopping, no_standardize, seed, out,
        quiet, bayes, prior, n_outer, image_shape, invariances, tangent_prop, tikhonov, augment,
        conv_layers):
    """Train a network on a CSV file with a header (or a .npz of columns).

    Every column except the targets (and --ignore'd ones) is an input. Inputs and
    regression targets are standardised (the statistics are stored in the model;
    predictions come back in the targets' units). An option that does nothing in the
    chosen mode is an error. Ctrl-C stops training, keeps the best weights so far and
    still writes the model file (exit status 130).
    """
    import time
    import warnings
    from pathlib import Path

    from .. import modelfile
    from .datafiles import read_table

    out = out or (Path(train).stem + ".model.npz")
    modelfile.check_output(out, inputs=[train])       # before any work: never destroy a file
    table = read_table(train)
    targets = list(dict.fromkeys(targets))
    table.require(targets, "target column")
    table.require(list(ignored), "column to --ignore")
    features = [c for c in table.columns if c not in targets and c not in ignored]
    if not features:
        raise click.UsageError(f"{train} has no input columns besides the target")
    X = table.numeric(features, role="input", leave_out="--ignore")
    task, why = choose_task(task, table, targets)
    _summary.check_options(click.get_current_context(), task, bayes, weight_prior, conv_layers,
                           image_shape, invariances, tangent_prop, augment)
    if task == "classification":
        if len(targets) > 1:
            raise click.UsageError("classification takes one --target column")
        y = table.labels(targets[0])
        _summary.refuse_continuous(y, targets[0], train)
        labels = np.unique(y)
        if labels.size < 2:
            raise click.UsageError(f"target {targets[0]!r} of {train} holds a single class "
                                   f"({labels[0]!r}); a classifier needs at least two")
    else:
        y = table.numeric(targets, role="target")
        y = y[:, 0] if y.shape[1] == 1 else y

    from ..estimators import MDNRegressor, MLPClassifier, MLPRegressor
    from ..optim import Status

    if bayes and task == "density":
        raise click.UsageError("--bayes does not go with --task density")
    if weight_prior == "mixture" and (bayes or task == "density"):
        raise click.UsageError("--weight-prior mixture goes with plain networks, not with "
                               + ("--bayes (the evidence framework needs a Gaussian prior)"
                                  if bayes else "--task density"))
    if weight_prior == "mixture" and method == "newton":
        raise click.UsageError("--weight-prior mixture does not go with --method newton (no "
                               "H·v for the mixture's parameters); use bfgs, lbfgs, scg or cg")
    invariance = dict(image_shape=image_shape, invariances=invariances,
                      tangent_prop=tangent_prop, tikhonov=tikhonov, augment=augment or None)
    if (bayes or task == "density") and (invariances or tangent_prop or tikhonov or augment):
        raise click.UsageError("the invariance options go with plain networks only, not with "
                               "--bayes or --task density")
    if task == "density":
        cls = MDNRegressor
        est = cls(n_components=components, hidden_layer_sizes=hidden, activation=activation,
                  alpha=alpha, method=method, max_iter=max_iter, tol=tol,
                  early_stopping=early_stopping, standardize=not no_standardize,
                  random_state=seed)
        bar_length = max_iter
    elif conv_layers:
        if task != "classification" or bayes:
            raise click.UsageError("--layers builds a (non-Bayesian) classifier; use it with "
                                   "a class target")
        from ..estimators import ConvNetClassifier as cls
        shape = image_shape if image_shape is None or len(image_shape) == 3 else (1, *image_shape)
        est = cls(layers=conv_layers, image_shape=shape, activation=activation, alpha=alpha,
                  weight_prior=weight_prior, n_prior_components=prior_components,
                  method=method, max_iter=max_iter, tol=tol, early_stopping=early_stopping,
                  standardize=not no_standardize, random_state=seed,
                  **{k: v for k, v in invariance.items() if k != "image_shape"})
        bar_length = max_iter
    elif bayes:
        est, cls, method, bar_length = _bayes_estimator(task, hidden, activation, alpha, method,
                                                        max_iter, tol, early_stopping,
                                                        no_standardize, seed, prior, n_outer)
    else:
        cls = MLPClassifier if task == "classification" else MLPRegressor
        est = cls(hidden_layer_sizes=hidden, activation=activation, alpha=alpha,
                  weight_prior=weight_prior, n_prior_components=prior_components,
                  method=method, max_iter=max_iter, tol=tol, early_stopping=early_stopping,
                  standardize=not no_standardize, random_state=seed,
                  **invariance)
        bar_length = max_iter
    if not quiet:
        click.echo(f"task: {task}" + (f" ({why}; use --task to override)" if why else ""),
                   err=True)
        click.echo(f"training {cls.__name__} (hidden layers {conv_layers or list(hidden)}) with {method} "
                   f"on {X.shape[0]} rows × {X.shape[1]} inputs", err=True)
    y_fit, target_scaling = y, None
    if bayes and task == "regression" and not no_standardize:
        # the Bayesian regressor keeps its targets' units (β is their noise precision):
        # standardised here, one scale per target, so every error bar has its target's
        target_scaling = _summary.target_scaling(y)
        y_fit = _summary.standardised(y, target_scaling)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with click.progressbar(length=bar_length, label="training", file=sys.stderr,
                                   show_pos=True, show_eta=True,
                                   item_show_func=lambda E: "" if E is None else f"E = {E:.6g}",
                                   hidden=quiet) as bar:
                est.fit(X, y_fit, callback=progress_callback(bar, quiet))
        except KeyboardInterrupt:       # outside the optimizer's own guard: nothing to keep
            if not hasattr(est, "training_"):
                click.echo("prmlnet: interrupted before training finished; no model written",
                           err=True)
                sys.exit(130)
    seconds = time.perf_counter() - t0
    status = est.training_["status"]
    if status == Status.NONFINITE.name:              # diverged: the weights are no model
        raise click.ClickException(f"training failed: {est.training_['message']}; no model "
                                   "written")
    if status in (Status.LINE_SEARCH_FAILED.name, Status.STALLED.name):
        click.echo(f"prmlnet: warning: training stopped without converging "
                   f"({est.training_['message']}); the model may be poor", err=True)
    mf = est.to_model_file()
    mf.meta["cli"] = {"train_file": str(train), "targets": targets, "features": features,
                      "task": task}
    if target_scaling is not None:
        mf.meta["cli"]["target_mean"], mf.meta["cli"]["target_scale"] = target_scaling
    with DeferSigint() as held:
        modelfile.save(out, mf, inputs=[train])
    interrupted = est.training_["interrupted"] or held.caught
    if not quiet:
        _summary.report(est, cls, task, activation, seconds, X, y, target_scaling, features,
                        components)
    if interrupted:
        click.echo(f"prmlnet: interrupted after {est.training_['n_iter']} iterations; "
                   f"kept the best weights so far and wrote {out}", err=True)
        sys.exit(130)
    if not quiet:
        click.echo(f"wrote {out}", err=True)


def _bayes_estimator(task, hidden, activation, alpha, method, max_iter, tol, early_stopping,
                     no_standardize, seed, prior, n_outer):
    """The Bayesian estimator for ``fit --bayes``; returns (est, class, method, bar length)."""
    from ..estimators import BayesianMLPClassifier, BayesianMLPRegressor
    from ..estimators._base import ONLINE_METHODS

    if early_stopping:
        raise click.UsageError("--early-stopping does not go with --bayes: the evidence "
                               "framework sets the regularisation without a validation set")
    if alpha <= 0:
        raise click.UsageError("--bayes needs a starting --alpha > 0 (e.g. 0.01)")
    ctx = click.get_current_context()
    if ctx.get_parameter_source("alpha") == click.core.ParameterSource.DEFAULT:
        alpha = None                 # the evidence loop's default starts
    src = ctx.get_parameter_source("method")
    if src == click.core.ParameterSource.DEFAULT:
        method = "auto"              # MAP trainings: BFGS up to 500 weights, L-BFGS above
    elif method in ONLINE_METHODS:
        raise click.UsageError(f"--bayes trains each MAP network with a batch method; "
                               f"--method {method} is online")
    cls = BayesianMLPClassifier if task == "classification" else BayesianMLPRegressor
    est = cls(hidden_layer_sizes=hidden, activation=activation, prior=prior, alpha=alpha,
              n_outer=n_outer, method=method, max_iter=max_iter, tol=tol,
              standardize=not no_standardize, random_state=seed)
    return est, cls, method, max_iter * n_outer
