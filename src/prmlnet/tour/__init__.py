"""The tour: the chapter's figures regenerated as a self-contained HTML report.

Each section is a module ``prmlnet.tour.sec_NN_name`` with a ``TITLE`` and a
function ``run(page)`` that draws its figures and writes its text through the
:class:`~prmlnet.tour.report.Page` it is given. Sections are found by name and
run in the order of ``NN``, which follows the chapter:

== ============================================================
01 §5.1   the network function (and the network diagrams)
02 §5.1   universal approximation (Figure 5.3)
03 §5.2   network training: the two-class boundary (Figure 5.4);
   03b §5.2.1–5.2.2 the error surface and its quadratic approximation (5.5, 5.6)
04 §5.2.4 the optimizers side by side
05 §5.3   error backpropagation and the Jacobian
06 §5.4   the Hessian matrix
07 §5.5   number of hidden units (Figures 5.9, 5.10)
08 §5.5.1 consistent Gaussian priors, samples from the prior
09 §5.5.2 early stopping
10 §5.5.3–5.5.5 invariances: tangent propagation, transformed data
11 §5.5.6 convolutional networks
12 §5.5.7 soft weight sharing
13 §5.6   mixture density networks
14 §5.7.1–5.7.2 Bayesian regression, the evidence framework
15 §5.7.3 Bayesian classification
== ============================================================

Adding a section means adding a module, nothing else. A section module holds
``TITLE`` (the heading, starting with the book's section number), ``SECTION``
(e.g. ``"5.5.1"``) and ``run(page)``, and writes through the page:

``page.text(s)``                      a paragraph, ``$...$`` for inline mathematics; a
                                      sentence that states a measured fact is formatted
                                      from the numbers it is about
``page.equation(latex, number)``      a displayed equation in LaTeX (typeset as MathML;
                                      an unknown command raises ValueError), with the
                                      book's number ("5.56", "5.155–5.157", or "§5.4.6")
``page.figure(fig, name, caption, alt)``  a matplotlib figure; the caption says which
                                      book figure it reproduces and how it differs
                                      ("Figure 5.4: ..." or "Not a figure of the book
                                      ..."); alt is one plain sentence (required)
``page.table(header, rows)``          a table of numbers
``page.try_it(code)``                 the public-API lines that reproduce the main
                                      figure, knobs named (the tests run each block)
``page.record(name, value)``          a number the tests check

``page.quick`` asks for a version that runs in well under a second; ``page.rng``
is the section's seeded generator. ``quick=True`` makes every section run in seconds
(the test suite uses it). Helpers for sections: :mod:`prmlnet.tour.diagrams` draws a
network from a ``Network`` object and its weights.

Each section run leaves a fragment in ``<out>/sections/``; ``index.html`` is assembled
from the fragments present (:func:`~prmlnet.tour.report.build`), so ``only=`` reruns
some sections and keeps the rest. :mod:`prmlnet.tour.equations` is the equation index
that closes the report (one line per equation: add yours there).
"""

from .report import Page, build, section_modules

__all__ = ["Page", "build", "section_modules"]
