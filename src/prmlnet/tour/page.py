r"""One section of the tour report: text, equations, figures, tables and "Try it" code.

A section writes only through its :class:`Page`. The page renders as it goes:
LaTeX becomes MathML (by :mod:`latex2mathml`), so the report is self-contained and
typeset offline by any current browser; figures are saved as PNG files beside the
report, with their alt texts and captions.

Inline mathematics in ``text`` and in captions is written between dollar signs,
``"the output $y_k$ of unit $k$"``; a literal dollar sign is ``\$``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from latex2mathml.converter import convert as _latex_to_mathml  # noqa: E402

__all__ = ["Page", "mathml", "render_inline"]

_MATH_SPAN = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$")
_UNKNOWN = re.compile(r">[^<]*\\[A-Za-z]+[^<]*<")     # a command the converter did not know


def mathml(latex: str, display: bool = False) -> str:
    r"""MathML for a LaTeX formula, with the source kept as an annotation.

    Raises ValueError when the formula uses a command the converter does not know
    (it would otherwise show up as raw ``\command`` text in the report).
    """
    latex = latex.strip()
    if not latex:
        raise ValueError("empty formula")
    out = _latex_to_mathml(latex, display="block" if display else "inline")
    if _UNKNOWN.search(out):
        bad = _UNKNOWN.search(out).group(0)[1:-1]
        raise ValueError(f"LaTeX command not understood in {latex!r}: {bad!r}")
    head, rest = out.split(">", 1)
    body = rest[: -len("</math>")]
    note = f'<annotation encoding="application/x-tex">{html.escape(latex)}</annotation>'
    return f"{head}><semantics>{body}{note}</semantics></math>"


def render_inline(s: str) -> str:
    r"""HTML for a sentence: text escaped, ``$...$`` spans as inline MathML."""
    parts, last = [], 0
    for m in _MATH_SPAN.finditer(s):
        parts.append(html.escape(s[last:m.start()].replace(r"\$", "$")))
        parts.append(mathml(m.group(1)))
        last = m.end()
    parts.append(html.escape(s[last:].replace(r"\$", "$")))
    return "".join(parts)


class Page:
    """One section of the report: collects HTML and saves figures beside it.

    Parameters
    ----------
    out_dir : path
        Folder of the report; figures are written there as ``<slug>-<name>.png``.
    slug : str
        The section's module name (``sec_13_mdn``), used for anchors and file names.
    quick : bool
        Sections shrink their work (fewer restarts, fewer iterations) when set.
    seed : int
        Seed of :attr:`rng`; every section starts from the same seed, so its numbers do
        not depend on which other sections ran or in what order.

    Attributes
    ----------
    rng : numpy Generator
        The section's own generator.
    numbers : dict
        What :meth:`record` kept (the tests check these).
    figures, try_its, equations : list
        Paths of the saved figures, the "Try it" code blocks, the (latex, number) pairs.
    """

    def __init__(self, out_dir, slug: str, quick: bool, seed: int = 0):
        self.out_dir = Path(out_dir)
        self.slug = slug
        self.quick = bool(quick)
        self.rng = np.random.default_rng(seed)
        self.parts: list[str] = []
        self.figures: list[Path] = []
        self.numbers: dict[str, float] = {}
        self.try_its: list[str] = []
        self.equations: list[tuple[str, str]] = []

    def text(self, paragraph: str) -> None:
        """A paragraph; ``$...$`` spans are inline mathematics.

        A sentence that states a measured fact must be formatted from the numbers it
        is about, so that the text cannot disagree with its figure.
        """
        self.parts.append(f"<p>{render_inline(paragraph)}</p>")

    def equation(self, latex: str, number: str = "") -> None:
        r"""A displayed equation in LaTeX; ``number`` is the book's, e.g. ``"5.112"``,
        or a section reference such as ``"§5.4.6"`` where no single number applies."""
        self.equations.append((latex, number))
        tag = ""
        if number:
            label = number if number.startswith("§") else f"({number})"
            tag = f'<span class="eqno">{html.escape(label)}</span>'
        self.parts.append(f'<div class="eq">{mathml(latex, display=True)}{tag}</div>')

    def try_it(self, code: str) -> None:
        """The few lines of public API that reproduce the section's main figure.

        The code must run as written in a fresh interpreter (the tests run every block).
        """
        code = code.strip("\n")
        self.try_its.append(code + "\n")
        self.parts.append('<div class="try"><p class="try-title">Try it: the main figure in a '
                          'few lines, the knobs named</p>'
                          f"<pre><code>{html.escape(code)}</code></pre></div>")

    def table(self, header, rows, fmt="{:.4g}") -> None:
        """A table; float cells are formatted with ``fmt``, other cells shown as they are."""
        def cell(v):
            if isinstance(v, (float, np.floating)):
                return html.escape(fmt.format(float(v)))
            return html.escape(str(v))

        head = "".join(f'<th scope="col">{html.escape(str(h))}</th>' for h in header)
        body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
        self.parts.append(f'<div class="table"><table><thead><tr>{head}</tr></thead>'
                          f"<tbody>{body}</tbody></table></div>")

    def figure(self, fig, name: str, caption: str, alt: str) -> Path:
        """Save a matplotlib figure beside the report and show it with its caption.

        ``caption`` says which book figure it reproduces and how it differs (``$...$``
        allowed); ``alt`` is one plain sentence saying what the figure shows, for
        readers who cannot see it.
        """
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise ValueError(f"figure name must be letters, digits, '-' or '_'; got {name!r}")
        if not alt or not alt.strip() or alt.strip() == name:
            raise ValueError(f"figure {name!r} needs an alt text: one sentence saying what it shows")
        path = self.out_dir / f"{self.slug}-{name}.png"
        fig.savefig(path, dpi=72 if self.quick else 100, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path)
        self.parts.append(f'<figure><img src="{path.name}" alt="{html.escape(alt.strip())}">'
                          f"<figcaption>{render_inline(caption)}</figcaption></figure>")
        return path

    def record(self, name: str, value) -> None:
        """Keep a number the section computed (tests read these)."""
        self.numbers[name] = float(value)
