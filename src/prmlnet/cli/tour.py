"""``prmlnet tour``: the chapter's figures as an HTML report."""

from __future__ import annotations

import os
import time

import click


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                        # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@click.command()
@click.option("--out", default="prmlnet-tour", show_default=True, type=click.Path(file_okay=False),
              help="Folder for index.html and its figures.")
@click.option("--quick", is_flag=True, help="Small versions of every section (seconds in all).")
@click.option("--only", default=None, metavar="SECTIONS",
              help="Run only these sections and keep the others already in the report: a "
                   "number (07), a name (hidden_units, mdn), a module (sec_07_hidden_units) or "
                   "a book section (5.5.2); several separated by commas.")
@click.option("--jobs", "-j", default=None, type=click.IntRange(min=1),
              help="Sections run in parallel in this many processes [default: the CPUs "
                   "available].")
def tour(out, quick, only, jobs):
    """Regenerate the chapter's figures as an HTML report.

    Progress goes to standard error, one line per section with its time.
    """
    _check_out(out)
    from ..tour import build
    from ..tour.report import select_sections

    mods = select_sections(only)                  # a bad selector ends here, before any work
    jobs = min(jobs or _default_jobs(), len(mods))
    click.echo(f"prmlnet tour: {len(mods)} section(s){' in quick mode' if quick else ''}, "
               f"{jobs} process(es), writing {out}/", err=True)
    t0 = time.perf_counter()
    try:
        index, pages = build(out, quick=quick, only=only, jobs=jobs,
                             progress=lambda line: click.echo(line, err=True))
    except RuntimeError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {index} ({len(pages)} section(s) in {time.perf_counter() - t0:.1f} s)")


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
