"""The ``prmlnet`` command line: ``check``, ``tour``, ``fit``, ``predict``, ``info``.

One module per command; :mod:`prmlnet.cli.datafiles` reads the data tables.

Errors in arguments or data end with a one-line message and a non-zero exit
status, never a traceback.
"""

from __future__ import annotations

import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prmlnet")
def cli():
    """prmlnet: PRML Chapter 5 — networks, backpropagation, Hessians, Bayesian networks."""


from .check import check      # noqa: E402  (the commands, one module each)
from .fit import fit          # noqa: E402
from .info import info        # noqa: E402
from .predict import predict  # noqa: E402
from .tour import tour        # noqa: E402

for _command in (check, tour, fit, predict, info):
    cli.add_command(_command)


def main(argv=None):
    """Entry point: run the command line, turning errors into one-line messages;
    ``prmlnet`` alone prints its help."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        with click.Context(cli, info_name="prmlnet") as ctx:
            click.echo(cli.get_help(ctx))
        return 0
    try:
        cli.main(args=args, prog_name="prmlnet", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("prmlnet: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"prmlnet: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except (ValueError, OSError) as e:
        click.echo(f"prmlnet: error: {e}", err=True)
        sys.exit(2)
    except MemoryError as e:
        click.echo(f"prmlnet: error: out of memory ({e or 'an allocation failed'}); use a "
                   "smaller network or data set", err=True)
        sys.exit(2)
    except SystemExit:
        raise
    return 0
