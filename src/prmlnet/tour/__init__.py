"""The tour: the chapter's figures regenerated as a self-contained HTML report.

Each section is a module ``prmlnet.tour.sec_NN_name`` with a ``TITLE`` and a
function ``run(page)`` that draws its figures and writes its text through the
:class:`~prmlnet.tour.report.Page` it is given. Sections are found by name and
run in the order of ``NN``; adding a section means adding a module, nothing
else. ``quick=True`` makes every section run in seconds (the test suite uses
it).
"""

from .report import Page, build, section_modules

__all__ = ["Page", "build", "section_modules"]
