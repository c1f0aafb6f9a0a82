"""The practitioners' commands of ``prmlnet``: ``fit``, ``predict`` and ``info``.

They read CSV (or ``.npz``) files, train and use the estimators of
:mod:`prmlnet.estimators`, and read and write model files (:mod:`prmlnet.io`).
:mod:`prmlnet.cli` registers them on the command group and turns errors into
one-line messages.
"""

from __future__ import annotations

import sys

import click
import numpy as np

from .activations import ACTIVATIONS

# -- fit / predict / info: practitioners' commands (issue 5) ---------------------------
_TASKS = ("auto", "regression", "classification", "density")


def _hidden_sizes(ctx, param, value):
    try:
        sizes = tuple(int(s) for s in value.split(",") if s.strip() != "")
    except ValueError:
        raise click.BadParameter(f"expected hidden-layer sizes like 10 or 20,10; got {value!r}")
    if any(m < 0 for m in sizes):
        raise click.BadParameter(f"hidden-layer sizes must be positive; got {value!r}")
    return tuple(m for m in sizes if m > 0)     # "0" means no hidden layer


def _methods():
    """Batch and online method names, without importing scikit-learn (fast start-up)."""
    from .optim import METHODS, online
    return list(METHODS) + [m for m in ("sgd", "momentum", "adam") if hasattr(online, m)]


def _choose_task(task, table, targets):
    """The task, and a sentence saying why when it was inferred."""
    if task != "auto":
        return task, None
    v = table.values[targets[0]]
    if len(targets) == 1 and v.dtype.kind not in "fiub":
        return "classification", f"target {targets[0]!r} is not numeric"
    if len(targets) == 1 and np.all(np.isfinite(v)) and np.all(v == np.round(v)):
        n = np.unique(v).size
        if n <= 20:
            return "classification", f"target {targets[0]!r} holds {n} integer labels"
    return "regression", f"target{'s' if len(targets) > 1 else ''} numeric"


def _progress_callback(bar, quiet, every=10.0):
    """Advance the progress bar; where standard error is not a terminal (a log
    file), where the bar stays silent, print the error every ``every`` seconds."""
    import time
    logging = not quiet and not sys.stderr.isatty()
    last = [time.perf_counter()]

    def callback(info):
        bar.update(1, info.fun)
        if logging and time.perf_counter() - last[0] >= every:
            last[0] = time.perf_counter()
            click.echo(f"  iteration {info.nit}: E = {info.fun:.6g}", err=True)
        return False
    return callback


class _DeferSigint:
    """Hold Ctrl-C while a model file is written (the write is atomic anyway)."""

    def __enter__(self):
        import signal
        self.caught = False
        try:
            self.old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:                      # not the main thread
            self.old = None
        return self

    def _handler(self, signum, frame):
        self.caught = True

    def __exit__(self, *exc):
        import signal
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
        return False


@click.command()
@click.argument("train", type=click.Path(dir_okay=False))
@click.option("--target", "-t", "targets", required=True, multiple=True,
              help="Target column (repeat for several regression targets).")
@click.option("--ignore", "ignored", multiple=True,
              help="A column that is not an input (an identifier, say); repeatable.")
@click.option("--task", type=click.Choice(_TASKS), default="auto", show_default=True,
              help="auto: classification for a non-numeric target or one with at most 20 "
                   "integer values, otherwise regression. density: a mixture density "
                   "network (PRML 5.6) for multi-valued targets; predict gives the "
                   "conditional mode.")
@click.option("--components", type=click.IntRange(1), default=3, show_default=True,
              help="With --task density: mixture components L.")
@click.option("--hidden", default="10", show_default=True, callback=_hidden_sizes,
              help="Hidden units per hidden layer, e.g. 10 or 20,10 (0: no hidden layer).")
@click.option("--activation", type=click.Choice(sorted(ACTIVATIONS)), default="tanh",
              show_default=True, help="Hidden-unit activation.")
@click.option("--alpha", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Weight decay α on (α/2)wᵀw, not divided by the number of samples.")
@click.option("--method", type=click.Choice(_methods()), default="scg", show_default=True)
@click.option("--max-iter", type=click.IntRange(1), default=200, show_default=True,
              help="Iterations (epochs for online methods).")
@click.option("--tol", type=click.FloatRange(min=0), default=1e-5, show_default=True,
              help="Stop when the largest gradient component falls below this.")
@click.option("--early-stopping", is_flag=True,
              help="Hold out 10% of the rows; keep the weights with the lowest validation error.")
@click.option("--no-standardize", is_flag=True, help="Feed the inputs unscaled.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed: the same seed and data give the same weights.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Model file to write [default: TRAIN's name with .model.npz].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
@click.option("--bayes", is_flag=True,
              help="Bayesian network (PRML 5.7): alpha (and beta) by the evidence framework, "
                   "--alpha is the starting value; predict then gives error bars (regression) "
                   "or moderated probabilities (classification).")
@click.option("--prior", type=click.Choice(["single", "layers", "ard"]), default="single",
              show_default=True, help="With --bayes: one alpha, one per layer, or one per "
                                      "input (automatic relevance determination).")
@click.option("--n-outer", type=click.IntRange(1), default=20, show_default=True,
              help="With --bayes: most re-estimations of alpha and beta.")
def fit(train, targets, ignored, task, components, hidden, activation, alpha, method, max_iter,
        tol, early_stopping, no_standardize, seed, out, quiet, bayes, prior, n_outer):
    """Train a network on a CSV file with a header (or a .npz of columns).

    Every column except the targets (and --ignore'd ones) is an input. Inputs are standardised (the
    statistics are stored in the model). Ctrl-C stops training, keeps the best
    weights so far and still writes the model file (exit status 130).
    """
    import time
    import warnings
    from pathlib import Path

    from .datafiles import read_table

    table = read_table(train)
    targets = list(dict.fromkeys(targets))
    table.require(targets, "target column")
    table.require(list(ignored), "column to --ignore")
    features = [c for c in table.columns if c not in targets and c not in ignored]
    if not features:
        raise click.UsageError(f"{train} has no input columns besides the target")
    X = table.numeric(features, role="input")
    task, why = _choose_task(task, table, targets)
    if task == "classification":
        if len(targets) > 1:
            raise click.UsageError("classification takes one --target column")
        y = table.labels(targets[0])
        labels = np.unique(y)
        if labels.size < 2:
            raise click.UsageError(f"target {targets[0]!r} of {train} holds a single class "
                                   f"({labels[0]!r}); a classifier needs at least two")
    else:
        y = table.numeric(targets, role="target")
        y = y[:, 0] if y.shape[1] == 1 else y
    out = out or (Path(train).stem + ".model.npz")
    out_dir = Path(out).parent
    if not out_dir.is_dir():
        raise click.UsageError(f"cannot write {out}: folder {out_dir} does not exist")

    from .estimators import MDNRegressor, MLPClassifier, MLPRegressor
    from .optim import Status

    if bayes and task == "density":
        raise click.UsageError("--bayes does not go with --task density")
    if task == "density":
        cls = MDNRegressor
        est = cls(n_components=components, hidden_layer_sizes=hidden, activation=activation,
                  alpha=alpha, method=method, max_iter=max_iter, tol=tol,
                  early_stopping=early_stopping, standardize=not no_standardize,
                  random_state=seed)
        bar_length = max_iter
    elif bayes:
        est, cls, method, bar_length = _bayes_estimator(task, hidden, activation, alpha, method,
                                                        max_iter, tol, early_stopping,
                                                        no_standardize, seed, prior, n_outer)
    else:
        cls = MLPClassifier if task == "classification" else MLPRegressor
        est = cls(hidden_layer_sizes=hidden, activation=activation, alpha=alpha, method=method,
                  max_iter=max_iter, tol=tol, early_stopping=early_stopping,
                  standardize=not no_standardize, random_state=seed)
        bar_length = max_iter
    if not quiet:
        click.echo(f"task: {task}" + (f" ({why}; use --task to override)" if why else ""),
                   err=True)
        click.echo(f"training {cls.__name__} (hidden layers {list(hidden)}) with {method} "
                   f"on {X.shape[0]} rows × {X.shape[1]} inputs", err=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with click.progressbar(length=bar_length, label="training", file=sys.stderr,
                                   show_pos=True, show_eta=True,
                                   item_show_func=lambda E: "" if E is None else f"E = {E:.6g}",
                                   hidden=quiet) as bar:
                est.fit(X, y, callback=_progress_callback(bar, quiet))
        except KeyboardInterrupt:       # outside the optimizer's own guard: nothing to keep
            if not hasattr(est, "training_"):
                click.echo("prmlnet: interrupted before training finished; no model written",
                           err=True)
                sys.exit(130)
    seconds = time.perf_counter() - t0
    mf = est.to_model_file()
    mf.meta["cli"] = {"train_file": str(train), "targets": targets, "features": features,
                      "task": task}
    from . import io as model_io
    with _DeferSigint() as held:
        model_io.save(out, mf)
    interrupted = est.training_["interrupted"] or held.caught
    if not quiet:
        tr = est.training_
        click.echo(f"{cls.__name__} {'-'.join(map(str, est.net_.sizes))} "
                   f"({activation} hidden, {est.net_.output.name} outputs, "
                   f"W = {est.net_.n_weights})", err=True)
        status = {Status.MAX_ITER.name: "maximum reached", Status.CONVERGED.name: "converged",
                  Status.CALLBACK_STOP.name: "early stopping",
                  Status.INTERRUPTED.name: "interrupted"}.get(tr["status"], tr["message"])
        click.echo(f"  error E = {tr['error']:.6g} ({tr['error_per_pattern']:.4g} per row), "
                   f"{tr['n_iter']} iterations ({status}), {seconds:.2f} s", err=True)
        if bayes:
            _bayes_summary(est)
        if task == "classification":
            click.echo(f"  training accuracy {est.score(X, y):.4f}", err=True)
        elif task == "density":
            click.echo(f"  training mean log-likelihood {est.score(X, y):.4f} per row "
                       f"({components} components)", err=True)
        else:
            resid = est.predict(X).reshape(len(X), -1) - y.reshape(len(X), -1)
            click.echo(f"  training RMSE {np.sqrt(np.mean(resid ** 2)):.4g}, "
                       f"R² {est.score(X, y):.4f}", err=True)
    if interrupted:
        click.echo(f"prmlnet: interrupted after {est.training_['n_iter']} iterations; "
                   f"kept the best weights so far and wrote {out}", err=True)
        sys.exit(130)
    if not quiet:
        click.echo(f"wrote {out}", err=True)


def _bayes_estimator(task, hidden, activation, alpha, method, max_iter, tol, early_stopping,
                     no_standardize, seed, prior, n_outer):
    """The Bayesian estimator for ``fit --bayes``; returns (est, class, method, bar length)."""
    from .estimators import BayesianMLPClassifier, BayesianMLPRegressor
    from .estimators._base import ONLINE_METHODS

    if early_stopping:
        raise click.UsageError("--early-stopping does not go with --bayes: the evidence "
                               "framework sets the regularisation without a validation set")
    if alpha <= 0:
        raise click.UsageError("--bayes needs a starting --alpha > 0 (e.g. 0.01)")
    src = click.get_current_context().get_parameter_source("method")
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


def _bayes_summary(est):
    a = est.alpha_
    alpha = (f"{a:.4g}" if isinstance(a, float)
             else ", ".join(f"{k} {v:.4g}" for k, v in a.items()))
    beta = "" if est.net_.output.name != "linear" else \
        f", beta {est.beta_:.4g} (noise sd {est.beta_ ** -0.5:.4g})"
    click.echo(f"  evidence: alpha {alpha}{beta}, gamma {est.gamma_:.4g} of "
               f"{est.net_.n_weights} weights, ln evidence {est.log_evidence_:.6g}, "
               f"{est.n_iter_} re-estimations"
               + ("" if est.converged_ else " (not settled; raise --n-outer)"), err=True)


def _model_inputs(mf, est):
    """The input column names a model expects, or None when it has none."""
    cli_meta = mf.meta.get("cli") or {}
    if cli_meta.get("features"):
        return list(cli_meta["features"])
    names = getattr(est, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, np.generic):
        return str(v.item())
    return str(v)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="CSV file for the predictions [default: standard output].")
@click.option("--proba", is_flag=True, help="Add class probabilities (classifiers).")
@click.option("--no-std", is_flag=True,
              help="Leave out the error-bar columns <target>_std of a Bayesian regression model.")
def predict(model, data, out, proba, no_std):
    """Predict for the rows of DATA (CSV with a header, or .npz) with a model file.

    The model's input columns are taken by name (other columns are ignored);
    the output is CSV: the predicted target (class label) of each row and,
    with --proba, one probability column per class. A Bayesian regression model
    (fit --bayes) adds the predictive standard deviation of each target,
    sqrt(1/beta + g^T A^-1 g), as <target>_std.
    """
    import csv
    import io as _io
    import warnings

    from . import io as model_io
    from .datafiles import read_table

    mf = model_io.load(model)                    # bad files fail fast, before scikit-learn loads
    table = read_table(data)
    from .estimators import from_model_file

    est = from_model_file(mf)
    names = _model_inputs(mf, est)
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
    if proba and not classifier:
        raise click.UsageError("--proba needs a classification model")
    targets = (mf.meta.get("cli") or {}).get("targets") or ["prediction"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        error_bars = mf.kind == "BayesianMLPRegressor" and not no_std
        if error_bars:                       # predictive sd, (5.172)-(5.173)
            pred, std = (np.asarray(v).reshape(len(X), -1) for v in est.predict(X, return_std=True))
        else:
            pred = est.predict(X)
        P = est.predict_proba(X) if proba else None
    pred = np.asarray(pred)
    if pred.ndim == 1:
        pred = pred[:, None]
    header = list(targets) if len(targets) == pred.shape[1] else \
        [f"{targets[0]}_{k}" for k in range(pred.shape[1])]
    if error_bars:
        header += [f"{h}_std" for h in header]
        pred = np.hstack([pred, std])
    if P is not None:
        header += [f"p_{_fmt(c)}" for c in est.classes_]
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for i in range(pred.shape[0]):
        row = [_fmt(v) for v in pred[i]]
        if P is not None:
            row += [_fmt(v) for v in P[i]]
        writer.writerow(row)
    if out is None:
        click.echo(buf.getvalue(), nl=False)
    else:
        model_io.atomic_write(out, lambda f: f.write(buf.getvalue().encode("utf-8")))
        click.echo(f"wrote {pred.shape[0]} predictions to {out}", err=True)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
def info(model):
    """Describe a model file: architecture, data, hyperparameters, training, version."""
    import os

    from . import io as model_io

    mf = model_io.load(model)
    net = mf.network
    tr, cli_meta = mf.training, mf.meta.get("cli") or {}
    hidden = [layer.activation.name for layer in net.layers[:-1]]
    rows = [
        ("file", f"{model} ({os.path.getsize(model):,} bytes, format version "
                 f"{mf.format_version}, prmlnet {mf.prmlnet_version or '?'}, {mf.created or '?'})"),
        ("kind", mf.kind + (f" ({cli_meta['task']})" if cli_meta.get("task") else "")),
        ("architecture", f"{'-'.join(map(str, net.sizes))}, hidden "
                         f"{', '.join(dict.fromkeys(hidden)) or 'none'}, output "
                         f"{net.output.name}, W = {net.n_weights} weights"),
    ]
    names = cli_meta.get("features") or tr.get("feature_names")
    inputs = f"{net.n_inputs}"
    if names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        inputs += f" ({shown})"
    inputs += ", standardised" if mf.x_mean is not None else ", not standardised"
    rows.append(("inputs", inputs))
    if cli_meta.get("targets"):
        rows.append(("target", ", ".join(cli_meta["targets"])))
    if mf.classes is not None:
        cl = [_fmt(c) for c in mf.classes]
        rows.append(("classes", f"{len(cl)}: " + ", ".join(cl[:12]) + (", ..." if len(cl) > 12 else "")))
    if "n_samples" in tr:
        src = f" from {cli_meta['train_file']}" if cli_meta.get("train_file") else ""
        rows.append(("training data", f"{tr['n_samples']} rows × {tr['n_features']} inputs{src}"))
    if mf.params:
        rows.append(("hyperparameters", ", ".join(f"{k}={v}" for k, v in mf.params.items())))
    if "error" in tr:
        rows.append(("training", f"E = {tr['error']:.6g} ({tr.get('error_per_pattern', float('nan')):.4g} "
                                 f"per row), {tr.get('n_iter')} iterations, status "
                                 f"{tr.get('status')}, {tr.get('seconds', float('nan')):.2f} s"
                                 + (", interrupted" if tr.get("interrupted") else "")))
    if mf.kind.startswith("Bayesian") and "log_evidence" in mf.meta:
        m = mf.meta
        alpha = ", ".join(f"{k} {v:.4g}" for k, v in m["alpha"].items())
        beta = f", beta {m['beta']:.4g}" if mf.kind == "BayesianMLPRegressor" else ""
        rows.append(("evidence", f"alpha {alpha}{beta}, gamma {sum(m['gamma'].values()):.4g}, "
                                 f"ln evidence {m['log_evidence']:.6g}"
                                 + ("" if m.get("converged") else " (not settled)")))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k + ':':<{width + 1}} {v}")
