"""The MDN tour section (§5.6) runs headless in quick mode and shows what it claims."""


def test_mdn_tour_section_quick(quick_tour):
    page = quick_tour[1]["sec_13_mdn"]
    assert len(page.figures) == 4 and all(p.stat().st_size > 0 for p in page.figures)
    assert any(p.name.endswith("fig-5-20.png") for p in page.figures)
    n = page.numbers
    assert n["toy_nll_mdn"] < n["toy_nll_least_squares"] - 0.3   # the density, not the mean
    assert n["toy_components_used_at_0.5"] == 3                  # three branches at x = 0.5
    assert n["arm_reach_error_mode"] < 0.5 * n["arm_reach_error_least_squares"]
