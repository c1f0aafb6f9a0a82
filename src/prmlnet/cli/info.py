"""``prmlnet info``: describe a model file."""

from __future__ import annotations

import sys

import click
import numpy as np

from ._common import fmt
from ._summary import named_alphas


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
def info(model):
    """Describe a model file: architecture, data, hyperparameters, training, version."""
    import os

    from .. import modelfile

    mf = modelfile.load(model)
    if mf.kind != "Network":                # an estimator's file: check what its kind needs
        from ..estimators import from_model_file
        from_model_file(mf, model)
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
        cl = [fmt(c) for c in mf.classes]
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
    if cli_meta.get("target_scale") is not None:
        rows.append(("target scaling", "standardised by the command line (mean " + ", ".join(
            f"{v:.4g}" for v in cli_meta["target_mean"]) + "; scale " + ", ".join(
            f"{v:.4g}" for v in cli_meta["target_scale"]) + "); predict maps back"))
    if mf.kind.startswith("Bayesian") and "log_evidence" in mf.meta:
        m = mf.meta
        alpha = named_alphas(m["alpha"], cli_meta.get("features") or tr.get("feature_names"))
        beta = f", beta {m['beta']:.4g}" if mf.kind == "BayesianMLPRegressor" else ""
        rows.append(("evidence", f"alpha {alpha}{beta}, gamma {sum(m['gamma'].values()):.4g}, "
                                 f"ln evidence {m['log_evidence']:.6g}"
                                 + ("" if m.get("converged") else " (not settled)")))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k + ':':<{width + 1}} {v}")
