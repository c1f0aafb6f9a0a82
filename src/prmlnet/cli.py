"""The ``prmlnet`` command line: ``check``, ``tour``, ``fit``, ``predict``, ``info``.

Errors in arguments or data end with a one-line message and a non-zero exit
status, never a traceback.
"""

from __future__ import annotations

import sys

import click
import numpy as np

from . import Network
from .activations import ACTIVATIONS
from .outputs import OUTPUTS


def _sizes(ctx, param, value):
    try:
        sizes = tuple(int(s) for s in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 3,5,2; got {value!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise click.BadParameter("give at least an input and an output size, all >= 1")
    return sizes


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prmlnet")
def cli():
    """prmlnet: PRML Chapter 5 — networks, backpropagation, Hessians, Bayesian networks."""


@cli.command()
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
    from .testing import central_differences, relative_error

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


@cli.command()
@click.option("--out", default="prmlnet-tour", show_default=True, type=click.Path(file_okay=False),
              help="Folder for index.html and its figures.")
@click.option("--quick", is_flag=True, help="Small versions of every section (seconds).")
@click.option("--only", default=None, help="Run only sections whose module name contains this.")
def tour(out, quick, only):
    """Regenerate the chapter's figures as an HTML report."""
    from .tour import build

    def progress(title):
        click.echo(f"  {title}", err=True)

    index, pages = build(out, quick=quick, only=only, progress=progress)
    if not pages:
        raise click.UsageError(f"no tour section matches --only {only!r}")
    click.echo(f"wrote {index} ({len(pages)} sections)")


from .cli_models import fit, info, predict  # noqa: E402  (the practitioners' commands)

for _command in (fit, predict, info):
    cli.add_command(_command)


def main(argv=None):
    """Entry point: run the command line, turning errors into one-line messages."""
    try:
        cli.main(args=argv, prog_name="prmlnet", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("prmlnet: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"prmlnet: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except (ValueError, OSError) as e:
        click.echo(f"prmlnet: error: {e}", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    return 0


if __name__ == "__main__":
    main()
