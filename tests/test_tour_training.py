"""The tour's training sections (5.1–5.2.4, 5.5) run in quick mode and their numbers make sense."""

import math


def _numbers(quick_tour, slug):
    return quick_tour[1][slug].numbers


def test_figure_5_3_fits_the_smooth_functions(quick_tour):
    n = _numbers(quick_tour, "sec_02_fitting")
    assert n["E_square"] < 1e-3 and n["E_sin"] < 1e-3      # 50 points, 3 tanh units
    assert all(n[f"E_{k}"] < 0.05 for k in ("square", "sin", "abs", "step"))


def test_two_class_network_is_near_the_bayes_rate(quick_tour):
    n = _numbers(quick_tour, "sec_03_classification")
    assert 0.0 < n["error_rate_bayes"] <= n["error_rate_network"] + 0.02
    assert n["error_rate_network"] < n["error_rate_bayes"] + 0.08


def test_error_surface_has_a_local_and_a_global_minimum(quick_tour):   # Figures 5.5, 5.6
    n = _numbers(quick_tour, "sec_03b_error_surface")
    assert n["n_minima"] >= 2 and n["E_A"] > 2 * n["E_B"]
    assert n["grad_at_w_star"] < 1e-6
    assert n["hessian_vs_differences"] < 1e-7                 # exact H against (5.69)
    assert 0 < n["lambda_1"] <= n["lambda_2"]


def test_hidden_unit_sweep_records_finite_test_errors(quick_tour):
    n = _numbers(quick_tour, "sec_07_hidden_units")
    errors = {k: v for k, v in n.items() if k.startswith("min_test_error_M")}
    assert {"min_test_error_M1", "min_test_error_M3", "min_test_error_M10"} <= set(errors)
    assert all(math.isfinite(v) and v > 0 for v in errors.values())
    assert n["train_error_M10"] < n["train_error_M1"]


def test_curvature_methods_beat_plain_gradient_descent(quick_tour):
    n = _numbers(quick_tour, "sec_04_optimizers")
    assert min(n["E_cg"], n["E_scg"], n["E_bfgs"], n["E_lbfgs"]) < n["E_gd"]
    assert all(math.isfinite(v) for v in n.values())


def test_network_diagrams_draw_every_nonzero_weight(quick_tour):        # Figures 5.1, 5.2
    n = _numbers(quick_tour, "sec_01_network_function")
    assert n["fig_5_1_links"] == 17                           # Network((2, 3, 2)).n_weights
    assert 0 < n["fig_5_2_links"] < 12 + 12 + 6               # pruned: not every link remains


def test_backprop_section_checks_its_numbers(quick_tour):              # Figure 5.7, §5.3.4
    n = _numbers(quick_tour, "sec_05_backprop")
    assert n["delta_j_vs_differences"] < 1e-7                 # δ_j (5.56) against (5.69)
    assert n["outer_product_vs_library"] < 1e-12              # δ_j x_i (5.53) = Network.gradient
    assert n["gradient_vs_differences"] < 1e-7
    assert n["jacobian_vs_differences"] < 1e-7
