"""Writing the tour report: pages of text, tables and figures into one HTML file."""

from __future__ import annotations

import html
import importlib
import os
import pkgutil
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["Page", "build", "section_modules"]

_CSS = """
body { font-family: Georgia, serif; max-width: 60rem; margin: 2rem auto; line-height: 1.5; color: #222; }
h1, h2 { font-family: Helvetica, Arial, sans-serif; }
h2 { border-bottom: 1px solid #ccc; margin-top: 3rem; }
.eq { font-family: "DejaVu Sans Mono", monospace; background: #f6f6f6; padding: .4rem .8rem; margin: .6rem 0; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 1rem 0; font-family: monospace; }
td, th { border: 1px solid #ccc; padding: .2rem .6rem; text-align: right; }
img { max-width: 100%; }
.meta { color: #777; font-size: .9rem; }
"""


class Page:
    """One section of the report: collects HTML and saves figures beside it.

    Attributes
    ----------
    quick : bool
        Sections shrink their work (fewer restarts, fewer iterations) when set.
    rng : numpy Generator
        The section's own generator, seeded so the report is reproducible.
    """

    def __init__(self, out_dir: Path, slug: str, quick: bool, seed: int = 0):
        import numpy as np

        self.out_dir = Path(out_dir)
        self.slug = slug
        self.quick = quick
        self.rng = np.random.default_rng(seed)
        self.parts: list[str] = []
        self.figures: list[Path] = []
        self.numbers: dict[str, float] = {}
        self.try_its: list[str] = []

    def text(self, paragraph: str) -> None:
        self.parts.append(f"<p>{html.escape(paragraph)}</p>")

    def equation(self, latex: str, number: str = "") -> None:
        """A displayed equation, written in LaTeX; ``number`` is the book's, e.g. "5.112"."""
        tag = f"   ({html.escape(number)})" if number else ""
        self.parts.append(f'<div class="eq">{html.escape(latex)}{tag}</div>')

    def try_it(self, code: str) -> None:
        """The few lines of public API that reproduce the section's main figure.

        The code must run as written in a fresh interpreter (the tests run every block).
        """
        self.try_its.append(code)
        self.parts.append(f'<pre class="try">{html.escape(code)}</pre>')

    def table(self, header, rows, fmt="{:.4g}") -> None:
        def cell(v):
            return html.escape(fmt.format(v) if isinstance(v, float) else str(v))

        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")

    def figure(self, fig, name: str, caption: str = "", alt: str = "") -> Path:
        """Save a matplotlib figure beside the report and show it with its caption.

        ``alt`` is one sentence saying what the figure shows (for readers who cannot see it).
        """
        path = self.out_dir / f"{self.slug}-{name}.png"
        fig.savefig(path, dpi=80 if self.quick else 110, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img src="{path.name}" alt="{html.escape(alt or caption or name)}">{cap}</figure>')
        return path

    def record(self, name: str, value: float) -> None:
        """Keep a number the section computed (tests read these)."""
        self.numbers[name] = float(value)


def section_modules():
    """The tour's section modules, in order."""
    from prmlnet import tour

    names = sorted(m.name for m in pkgutil.iter_modules(tour.__path__) if m.name.startswith("sec_"))
    return [importlib.import_module(f"prmlnet.tour.{n}") for n in names]


def build(out_dir="prmlnet-tour", quick=False, only=None, progress=None):
    """Run every section and write ``out_dir/index.html``; return (path, pages).

    ``only`` restricts to sections whose module name contains that text.
    ``progress(title)`` is called before each section starts.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = []
    body = []
    for mod in section_modules():
        if only and only not in mod.__name__:
            continue
        if progress:
            progress(mod.TITLE)
        slug = mod.__name__.rsplit(".", 1)[1]
        page = Page(out_dir, slug, quick)
        t0 = time.perf_counter()
        mod.run(page)
        seconds = time.perf_counter() - t0
        pages.append(page)
        body.append(f'<section id="{slug}"><h2>{html.escape(mod.TITLE)}</h2>'
                    + "".join(page.parts)
                    + f'<p class="meta">computed in {seconds:.1f} s</p></section>')
    toc = "".join(f'<li><a href="#{p.slug}">{html.escape(m.TITLE)}</a></li>'
                  for p, m in zip(pages, [m for m in section_modules()
                                          if not only or only in m.__name__]))
    mode = " (quick mode)" if quick else ""
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>prmlnet tour</title>"
           f"<style>{_CSS}</style></head><body><h1>A tour of PRML Chapter 5 with prmlnet{mode}</h1>"
           f"<ol>{toc}</ol>{''.join(body)}</body></html>")
    index = out_dir / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(doc, encoding="utf-8")
    os.replace(tmp, index)
    return index, pages
