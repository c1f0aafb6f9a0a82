"""Helpers shared by the practitioners' commands ``fit``, ``predict`` and ``info``."""

from __future__ import annotations

import sys

import click
import numpy as np

TASKS = ("auto", "regression", "classification", "density")


def hidden_sizes(ctx, param, value):
    try:
        sizes = tuple(int(s) for s in value.split(",") if s.strip() != "")
    except ValueError:
        raise click.BadParameter(f"expected hidden-layer sizes like 10 or 20,10; got {value!r}")
    if any(m < 0 for m in sizes):
        raise click.BadParameter(f"hidden-layer sizes must be positive; got {value!r}")
    return tuple(m for m in sizes if m > 0)     # "0" means no hidden layer


def methods():
    """Batch and online method names, without importing scikit-learn (fast start-up)."""
    from ..optim import METHODS, online
    return list(METHODS) + [m for m in ("sgd", "momentum", "adam") if hasattr(online, m)]


def choose_task(task, table, targets):
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


def progress_callback(bar, quiet, every=10.0):
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


class DeferSigint:
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


def model_inputs(mf, est):
    """The input column names a model expects, or None when it has none."""
    cli_meta = mf.meta.get("cli") or {}
    if cli_meta.get("features"):
        return list(cli_meta["features"])
    names = getattr(est, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def fmt(v):
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, np.generic):
        return str(v.item())
    return str(v)
