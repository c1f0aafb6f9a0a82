"""``prmlnet tour``: the chapter's figures as an HTML report."""

from __future__ import annotations

import click


@click.command()
@click.option("--out", default="prmlnet-tour", show_default=True, type=click.Path(file_okay=False),
              help="Folder for index.html and its figures.")
@click.option("--quick", is_flag=True, help="Small versions of every section (seconds).")
@click.option("--only", default=None, help="Run only sections whose module name contains this.")
def tour(out, quick, only):
    """Regenerate the chapter's figures as an HTML report."""
    from ..tour import build

    def progress(title):
        click.echo(f"  {title}", err=True)

    index, pages = build(out, quick=quick, only=only, progress=progress)
    if not pages:
        raise click.UsageError(f"no tour section matches --only {only!r}")
    click.echo(f"wrote {index} ({len(pages)} sections)")
