"""The tour's Hessian section runs in quick mode and reports what it should."""


def test_hessian_tour_section_runs_quickly_and_its_numbers_hold(quick_tour):
    index, pages = quick_tour
    page = pages["sec_06_hessian"]
    n = page.numbers
    assert n["exact_vs_finite_difference"] < 1e-7
    assert n["two_layer_vs_blocks"] < 1e-12
    assert n["inverse_outer_product_error"] < 1e-9
    assert n["lanczos_largest_error"] < 1e-8
    assert 0 < n["outer_product_rel_error"] < n["becker_lecun_rel_error"]
    assert len(page.figures) == 2 and all(p.stat().st_size > 5000 for p in page.figures)
    assert "Becker" in index.read_text()
