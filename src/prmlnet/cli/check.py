"""``prmlnet check``: backpropagation against central differences on a random network."""

from __future__ import annotations

import sys

import click
import numpy as np

from .. import Network
from ..activations import ACTIVATIONS
from ..outputs import OUTPUTS


def _sizes(ctx, param, value):
    try:
        sizes = tuple(int(s) for s in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 3,5,2; got {value!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise click.BadParameter("give at least an input and an output size, all >= 1")
    return sizes


@click.command()
@click.option("--sizes", default="3,5,4,2", callback=_sizes, show_default=True,
              help="Layer sizes D,M1,...,K.")
@click.option("--hidden", type=click.Choice(sorted(ACTIVATIONS)), default="tanh", show_default=True)
@click.option("--output", type=click.Choice(sorted(OUTPUTS)), default="softmax", show_default=True)
@click.option("--patterns", default=20, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--tol", default=1e-7, show_default=True, type=float,
              help="Largest relative error that passes.")
def check(sizes, hidden, output, patterns, seed, tol):
    """Check backpropagation against central differences (5.69) on a random network.

    Prints, for each weight group, the norms of the analytic and numeric
    gradients and their relative error, then a verdict; exits 1 on failure.
    """
    from ..testing import central_differences, relative_error

    rng = np.random.default_rng(seed)
    net = Network(sizes, hidden=hidden, output=output)
    X = rng.standard_normal((patterns, net.n_inputs))
    K = net.n_outputs
    if output == "linear":
        T = rng.standard_normal((patterns, K))
    elif output == "logistic":
        T = (rng.random((patterns, K)) < 0.5).astype(float)
    else:
        T = np.eye(K)[rng.integers(0, K, patterns)]
    w = net.init_weights(rng)
    analytic = net.gradient(w, X, T)
    numeric = central_differences(lambda v: net.error(v, X, T), w)
    click.echo(f"{net}, W = {net.n_weights}, N = {patterns}, seed {seed}")
    click.echo(f"{'group':>6} {'size':>5} {'|analytic|':>12} {'|numeric|':>12} {'rel. error':>11}")
    worst = 0.0
    for name, idx in net.weight_groups().items():
        err = relative_error(analytic[idx], numeric[idx])
        worst = max(worst, err)
        click.echo(f"{name:>6} {idx.size:>5} {np.linalg.norm(analytic[idx]):12.6g} "
                   f"{np.linalg.norm(numeric[idx]):12.6g} {err:11.2e}")
    total = relative_error(analytic, numeric)
    verdict = "PASS" if max(total, worst) < tol else "FAIL"
    click.echo(f"{'all':>6} {net.n_weights:>5} {np.linalg.norm(analytic):12.6g} "
               f"{np.linalg.norm(numeric):12.6g} {total:11.2e}")
    click.echo(f"{verdict}: largest relative error {max(total, worst):.2e} (tolerance {tol:g})")
    sys.exit(0 if verdict == "PASS" else 1)
