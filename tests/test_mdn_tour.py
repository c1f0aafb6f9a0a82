"""The MDN tour section (§5.6) runs headless in quick mode and shows what it claims."""

from prmlnet.tour import sec_13_mdn
from prmlnet.tour.report import Page


def test_mdn_tour_section_quick(tmp_path):
    page = Page(tmp_path, "sec_13_mdn", quick=True, seed=0)
    sec_13_mdn.run(page)
    assert len(page.figures) == 3 and all(p.stat().st_size > 0 for p in page.figures)
    n = page.numbers
    assert n["toy_nll_mdn"] < n["toy_nll_least_squares"] - 0.3   # the density, not the mean
    assert n["toy_components_used_at_0.5"] == 3                  # three branches at x = 0.5
    assert n["arm_reach_error_mode"] < 0.5 * n["arm_reach_error_least_squares"]
