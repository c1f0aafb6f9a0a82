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
    _check_out(out)
    from ..tour import build

    def progress(title):
        click.echo(f"  {title}", err=True)

    index, pages = build(out, quick=quick, only=only, progress=progress)
    if not pages:
        raise click.UsageError(f"no tour section matches --only {only!r}")
    click.echo(f"wrote {index} ({len(pages)} sections)")


def _check_out(out):
    """Refuse, before any work, a --out that is not a folder, or whose index.html
    is not a regular file (the report replaces it)."""
    import os

    from ..modelfile import check_output

    if os.path.lexists(out) and not os.path.isdir(out):
        raise click.UsageError(f"--out {out} exists and is not a folder; give a folder for "
                               "the report")
    if os.path.isdir(out):
        index = os.path.join(out, "index.html")
        if os.path.islink(index) or (os.path.lexists(index) and not os.path.isfile(index)):
            raise click.UsageError(f"{index} exists and is not a regular file; the report "
                                   "would replace it — remove it or choose another --out")
        check_output(index)                    # the folder is writable
