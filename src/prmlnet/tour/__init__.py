"""The tour: the chapter's figures regenerated as a self-contained HTML report.

Each section is a module ``prmlnet.tour.sec_NN_name`` with a ``TITLE`` and a
function ``run(page)`` that draws its figures and writes its text through the
:class:`~prmlnet.tour.report.Page` it is given. Sections are found by name and
run in the order of ``NN``, which follows the chapter:

== ============================================================
01 §5.1   the network function (and the network diagrams)
02 §5.1   universal approximation (Figure 5.3)
03 §5.2   network training: two-class boundary, error surface
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

Adding a section means adding a module, nothing else. ``quick=True`` makes every section run in seconds (the test suite uses
it).
"""

from .report import Page, build, section_modules

__all__ = ["Page", "build", "section_modules"]
