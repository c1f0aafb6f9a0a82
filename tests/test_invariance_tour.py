"""The tour's invariance section runs in quick mode and reports what it should."""

import math


def test_invariance_tour_section_runs_quickly_and_its_numbers_hold(quick_tour):
    index, pages = quick_tour
    page = pages["sec_10_invariances"]
    n = page.numbers
    for sigma in (1, 3, 8):                                   # Figure 5.14's fields
        assert math.isclose(n[f"elastic_rms_sigma{sigma}"], 1.5, rel_tol=1e-12)
    assert n["figure_5_15_tangent_error"] < 1e-8
    # Figure 5.16: the tangent is the first-order part of the rotation
    assert n["tangent_vs_rotation_3deg"] < 0.4 * n["tangent_vs_rotation_15deg"]
    for key in ("plain", "tangent_prop", "transformed", "both"):
        assert 0.0 < n[f"test_error_{key}"] < 0.5                # ten classes: chance is 0.9
    # the noise error is E + ξ²Ω + O(ξ⁴) at the regression function
    assert 3.5 < n["error_level_drop_per_halving"] < 4.5
    assert n["tikhonov_error_level_xi0.1"] < 0.01
    # the trained functions approach each other as ξ² -> 0 ...
    assert n["gap_drop_per_halving"] > 2.5
    # ... though not faster than the regularization moves them: ∇ differs at order ξ²
    assert n["gap_over_effect_smallest_xi"] > 0.3
    mismatch = [n[f"tikhonov_gradient_mismatch_xi{xi}"] for xi in (0.1, 0.2)]
    assert mismatch[0] > 0.1 and abs(mismatch[0] - mismatch[1]) < 0.05
    assert len(page.figures) == 4 and all(p.stat().st_size > 5000 for p in page.figures)
    assert "tangent propagation" in index.read_text()
