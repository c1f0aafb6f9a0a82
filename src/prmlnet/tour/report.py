"""Running the tour's sections and assembling the report.

Each section, once run, leaves a *fragment* beside the report:
``<out>/sections/<module>.json`` holds its rendered HTML, its title, book section,
mode and timing. ``index.html`` is then assembled from every fragment present, in
the order of the section list. So a partial run (``only=...``) replaces the
fragments of the sections it ran and keeps every other section of the report; a
selector that matches nothing is refused before anything is written.

Sections are independent (each has its own seeded generator), so ``jobs > 1`` runs
them in parallel worker processes, the longest first (by the time its last
fragment recorded).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime
import html
import importlib
import json
import multiprocessing
import os
import pkgutil
import re
import sys
import time
import traceback
from pathlib import Path

from .page import Page, render_inline

__all__ = ["Page", "build", "section_modules", "select_sections", "assemble"]

_NAME = re.compile(r"sec_(\d+[a-z]?)_(\w+)$")

_CSS = """
:root { --ink: #222; --muted: #666; --rule: #ddd; --accent: #b22222; }
* { box-sizing: border-box; }
body { font-family: Georgia, "Times New Roman", serif; max-width: 62rem; margin: 0 auto;
       padding: 1rem 1.2rem 4rem; line-height: 1.55; color: var(--ink); }
h1, h2, h3, nav, .meta, figcaption, .try-title { font-family: Helvetica, Arial, sans-serif; }
h1 { font-size: 1.8rem; margin-bottom: .3rem; }
h2 { border-bottom: 1px solid var(--rule); margin-top: 3.5rem; font-size: 1.35rem; }
a { color: #1a55a0; }
.eq { display: flex; align-items: center; gap: 1rem; margin: .8rem 0; overflow-x: auto; overflow-y: hidden; }
.eqindex td { text-align: left; font-family: Georgia, serif; vertical-align: top; }
.eqindex code { font-size: .78rem; overflow-wrap: anywhere; }
.eq math { flex: 1; font-size: 1.1rem; }
.eqno { color: var(--muted); white-space: nowrap; }
math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", math; }
.table { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: .85rem; }
td, th { border: 1px solid var(--rule); padding: .2rem .6rem; text-align: right; }
th { background: #f4f4f4; }
figure { margin: 1.2rem 0; }
img { max-width: 100%; height: auto; }
figcaption { font-size: .9rem; color: #444; margin-top: .3rem; }
.try { background: #f6f8fa; border-left: 3px solid #1a55a0; padding: .2rem .9rem; margin: 1.2rem 0; }
.try-title { font-weight: bold; font-size: .9rem; margin: .5rem 0 0; }
pre { overflow-x: auto; font-size: .85rem; }
.meta, .back { color: var(--muted); font-size: .85rem; }
nav ol { padding-left: 1.4rem; }
.quick { color: var(--accent); font-size: .8rem; }
.intro { font-size: 1.02rem; }
"""


# -- the section list -----------------------------------------------------------
def section_modules():
    """The tour's section modules, in the chapter's order (by module name)."""
    from prmlnet import tour

    names = sorted(m.name for m in pkgutil.iter_modules(tour.__path__) if _NAME.match(m.name))
    return [importlib.import_module(f"prmlnet.tour.{n}") for n in names]


def _short(mod) -> str:
    return mod.__name__.rsplit(".", 1)[1]


def _matches(mod, selector: str) -> bool:
    name = _short(mod)
    number, slug = _NAME.match(name).groups()
    s = selector.strip()
    if s.startswith("prmlnet.tour."):
        s = s[len("prmlnet.tour."):]
    if s.startswith("§"):
        s = s[1:]
    asked = re.fullmatch(r"(\d+)([a-z]?)", s)
    if asked:                                              # a number: "07", "7", "03b"
        num, letter = re.fullmatch(r"(\d+)([a-z]?)", number).groups()
        return int(asked.group(1)) == int(num) and asked.group(2) in ("", letter)
    if re.fullmatch(r"5(\.\d+)*", s):                      # a book section: "5.5.2", "5.7"
        book = str(getattr(mod, "SECTION", ""))
        return book == s or book.startswith(s + ".")
    if s.startswith("sec_"):                               # a module name or its start
        return name == s or name.startswith(s.rstrip("_") + "_")
    return slug == s or slug.startswith(s + "_")           # a slug: "hidden_units", "bayes"


def select_sections(only=None):
    """The section modules a selector picks, in order; ValueError if it picks none.

    ``only`` is None (every section), or one selector or several (a list, or a string
    separated by commas). A selector is a number (``"07"``), a slug
    (``"hidden_units"``, or its first words: ``"bayes"``), a module name
    (``"sec_07_hidden_units"``) or a book section (``"5.5.2"``; ``"5.5"`` also picks
    its subsections).
    """
    mods = section_modules()
    if only is None:
        return mods
    selectors = [s.strip() for part in ([only] if isinstance(only, str) else list(only))
                 for s in str(part).split(",") if s.strip()]
    if not selectors:
        raise ValueError("--only needs a section: a number (07), a slug (hidden_units), "
                         "a module name or a book section (5.5)")
    chosen = [m for m in mods if any(_matches(m, s) for s in selectors)]
    unmatched = [s for s in selectors if not any(_matches(m, s) for m in mods)]
    if unmatched:
        known = ", ".join(f"{_NAME.match(_short(m)).group(1)} {_NAME.match(_short(m)).group(2)}"
                          f" (§{getattr(m, 'SECTION', '?')})" for m in mods)
        raise ValueError(f"no tour section matches {', '.join(map(repr, unmatched))}; "
                         f"sections: {known}")
    return chosen


# -- running one section --------------------------------------------------------
def _fragment_dir(out_dir: Path) -> Path:
    return out_dir / "sections"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


_STARTED = None          # in a worker: the queue that tells the parent a section started


def _run_section(module_name: str, out_dir: str, quick: bool):
    """Run one section and write its fragment; returns (page, record). In a worker too."""
    if _STARTED is not None:
        _STARTED.put((module_name, time.time()))
    mod = importlib.import_module(module_name)
    out_dir = Path(out_dir)
    slug = _short(mod)
    before = set(out_dir.glob(f"{slug}-*.png"))
    page = Page(out_dir, slug, quick)
    t0 = time.perf_counter()
    mod.run(page)
    seconds = time.perf_counter() - t0
    for stale in before - set(page.figures):              # figures the section no longer draws
        stale.unlink(missing_ok=True)
    body = "".join(page.parts)
    record = {"module": slug, "title": mod.TITLE, "section": str(getattr(mod, "SECTION", "")),
              "quick": quick, "seconds": round(seconds, 2),
              "date": datetime.date.today().isoformat(), "html": body,
              "numbers": page.numbers}
    _write_atomic(_fragment_dir(out_dir) / f"{slug}.json", json.dumps(record))
    return page, record


def _warm_up(mods):
    """Import the sections and draw one small figure with mathematics in this process, so
    that forked workers inherit the imports, the font cache and the mathtext parser."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1], label="$\\alpha_k$")
    ax.set_xlabel("$x_1$")
    ax.set_yscale("log")
    ax.legend()
    fig.savefig(os.devnull, format="png", dpi=40)
    plt.close(fig)


def _worker_init(started):
    global _STARTED
    _STARTED = started
    try:                                   # one BLAS thread per worker: the workers share the cores
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:                    # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def _previous_seconds(out_dir: Path, mod) -> float:
    try:
        return float(json.loads((_fragment_dir(out_dir) / f"{_short(mod)}.json")
                                .read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError):
        return 1.0


def build(out_dir="prmlnet-tour", quick=False, only=None, progress=None, jobs=1):
    """Run the chosen sections, update their fragments and write ``out_dir/index.html``.

    Parameters
    ----------
    out_dir : path
        The report's folder (created if needed).
    quick : bool
        Small versions of every section (seconds in all; the tests use it).
    only : str or list of str, optional
        Run only these sections (see :func:`select_sections`); every other section
        already in the report is kept as it was.
    progress : callable(str), optional
        Called with one line per event (start, end with elapsed time, a heartbeat
        while long sections run in parallel).
    jobs : int
        Worker processes; 1 runs the sections in this process, one after another.

    Returns
    -------
    (Path, list of Page)
        ``index.html`` and the pages of the sections run, in the report's order.

    Raises
    ------
    ValueError
        A selector matched no section, or ``jobs < 1`` (raised before any work).
    RuntimeError
        A section failed; the others were run and the report assembled without
        touching the failed section's previous fragment.
    """
    mods = select_sections(only)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    out_dir = Path(out_dir)
    _fragment_dir(out_dir).mkdir(parents=True, exist_ok=True)
    say = progress or (lambda line: None)
    n, t_start = len(mods), time.perf_counter()
    done, failed = {}, []

    def label(mod):
        return mod.TITLE if len(mod.TITLE) <= 60 else mod.TITLE[:57] + "..."

    def finished(mod, result=None, error=None):
        elapsed = time.perf_counter() - t_start
        if error is None:
            page, rec = result
            done[mod.__name__] = page
            say(f"[{len(done) + len(failed):2d}/{n}] {label(mod)}  {rec['seconds']:.1f} s"
                f"  (elapsed {elapsed:.1f} s)")
        else:
            failed.append((mod, error))
            say(f"[{len(done) + len(failed):2d}/{n}] {label(mod)}  FAILED: {error}")

    if jobs == 1 or n == 1:
        for mod in mods:
            say(f"        {label(mod)} (started)")
            try:
                finished(mod, _run_section(mod.__name__, str(out_dir), quick))
            except Exception as e:                              # noqa: BLE001 - reported, then raised
                finished(mod, error=_one_line(e))
    else:
        order = sorted(mods, key=lambda m: -_previous_seconds(out_dir, m))
        _warm_up(mods)
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        queue = ctx.SimpleQueue()
        with cf.ProcessPoolExecutor(max_workers=min(jobs, n), mp_context=ctx,
                                    initializer=_worker_init, initargs=(queue,)) as pool:
            futures = {pool.submit(_run_section, m.__name__, str(out_dir), quick): m
                       for m in order}
            by_name = {m.__name__: m for m in mods}
            started, pending = {}, set(futures)
            while pending:
                ready, pending = cf.wait(pending, timeout=10.0, return_when=cf.FIRST_COMPLETED)
                while not queue.empty():
                    name, t = queue.get()
                    started[name] = t
                    say(f"        {label(by_name[name])} (started)")
                for f in ready:
                    started.pop(futures[f].__name__, None)
                    try:
                        finished(futures[f], f.result())
                    except Exception as e:                      # noqa: BLE001
                        finished(futures[f], error=_one_line(e))
                if started and not ready:
                    now = time.time()
                    say("        still running: " + "; ".join(
                        f"{_short(by_name[k])} ({now - t:.0f} s)" for k, t in started.items()))
    index = assemble(out_dir)
    if failed:
        raise RuntimeError("tour section(s) failed: " + "; ".join(
            f"{_short(m)}: {err}" for m, err in failed) + f" (the report {index} keeps the rest)")
    pages = [done[m.__name__] for m in mods]
    return index, pages


def _one_line(e: BaseException) -> str:
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}{at}"


# -- assembling the report ------------------------------------------------------
def _fragments(out_dir: Path):
    found = []
    for mod in section_modules():
        path = _fragment_dir(out_dir) / f"{_short(mod)}.json"
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rec["title"] = mod.TITLE
        found.append(rec)
    return found


def _intro(recs) -> str:
    from prmlnet import __version__
    from .equations import INDEX_ID

    quick = [r for r in recs if r["quick"]]
    mode = ("" if not quick else
            f' <span class="quick">{len(quick)} of {len(recs)} sections in quick mode '
            "(smaller problems, fewer restarts)</span>")
    total = sum(r["seconds"] for r in recs)
    return (
        '<p class="intro">This report walks through Chapter 5 of Bishop\'s <em>Pattern '
        "Recognition and Machine Learning</em> (2006), neural networks, section by section. "
        "Every figure, table and number on it was computed by prmlnet itself when the report "
        "was made: the figures reproduce the <em>ideas</em> of the book's figures from the "
        "library's own networks and data, and each caption says which book figure it follows "
        "and how it differs. Sentences that state a result are written from the numbers "
        "computed beside them. Each section ends with the few lines of the public API that "
        "draw its main figure, and the "
        f'<a href="#{INDEX_ID}">equation index</a> lists, for each equation of the chapter '
        "the library implements, the function that computes it and the test that checks it.</p>"
        '<p class="meta">Made by <code>prmlnet tour</code> (prmlnet '
        f"{html.escape(__version__)}), {len(recs)} sections, {total:.0f} s of computing in "
        f"all.{mode} Regenerate everything with <code>prmlnet tour</code>, or one section "
        "in place with <code>prmlnet tour --only 13</code> (a number, a name such as "
        "<code>mdn</code>, or a book section such as <code>5.6</code>); the other sections "
        "are kept.</p>")


def assemble(out_dir) -> Path:
    """Write ``out_dir/index.html`` from every section fragment present; return its path."""
    from .equations import index_html, INDEX_ID

    out_dir = Path(out_dir)
    recs = _fragments(out_dir)
    toc = "".join(
        f'<li><a href="#{r["module"]}">{render_inline(r["title"])}</a>'
        + (' <span class="quick">(quick)</span>' if r["quick"] else "") + "</li>"
        for r in recs) + f'<li><a href="#{INDEX_ID}">Equation index</a></li>'
    back = '<p class="back"><a href="#contents">↑ back to the contents</a></p>'
    body = "".join(
        f'<section id="{r["module"]}"><h2>{render_inline(r["title"])}</h2>{r["html"]}'
        f'<p class="meta">Computed in {r["seconds"]:.1f} s on {html.escape(r["date"])}'
        + (" (quick mode)" if r["quick"] else "") + f".</p>{back}</section>"
        for r in recs)
    doc = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
           "<meta name='viewport' content='width=device-width, initial-scale=1'>"
           "<title>A tour of PRML Chapter 5 with prmlnet</title>"
           f"<style>{_CSS}</style></head><body>"
           "<header><h1>A tour of PRML Chapter 5 with prmlnet</h1>"
           f"{_intro(recs)}</header>"
           f'<nav id="contents" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>'
           f"<main>{body}{index_html()}{back}</main></body></html>\n")
    index = out_dir / "index.html"
    _write_atomic(index, doc)
    return index
