"""Sentences that state a measured fact are computed from the numbers (the known cases)."""

from types import SimpleNamespace

import numpy as np

from prmlnet.tour import (sec_02_fitting, sec_04_optimizers, sec_06_hessian, sec_07_hidden_units,
                          sec_13_mdn, sec_14_bayes_regression, sec_15_bayes_classification)


def test_hessian_cost_text_reports_the_fitted_slopes_not_a_claimed_two():
    Ws = np.array([46.0, 86, 166, 326, 646, 1286])
    t_blocks = 1e-4 * (Ws / 46) ** 3.04
    t_fd = t_blocks * np.array([6, 9, 14, 22, 35, 56])
    t_rop = 2e-4 * (Ws / 46) ** 1.35
    text = sec_06_hessian.describe_cost(Ws, t_blocks, t_rop, t_fd,
                                        {"blocks": 3.04, "rop": 1.35, "fd": 1.49})
    assert "block formulas 3.04" in text and "R-operator columns 1.35" in text
    assert "finite differences 1.49" in text and "6 to 56 times" in text
    assert "slope 2 for large W" not in text
    assert "fastest is R-operator columns" in text          # at W = 1286: 0.02 s against 0.5 s


def test_model_comparison_text_does_not_claim_a_fall_over_a_flat_curve():
    sizes = [1, 2, 3, 4, 6]
    flat = sec_14_bayes_regression.describe_model_size(sizes, [3.1, 0.42, 0.40, 0.41, 0.40], 3)
    assert "falls steadily" not in flat and "stays between 0.4 and 0.42" in flat
    falling = sec_14_bayes_regression.describe_model_size(sizes, [3.0, 2.0, 1.0, 0.5, 0.2], 2)
    assert "falls steadily as M grows, from 3 at M = 1 to 0.2 at M = 6" in falling
    rising = sec_14_bayes_regression.describe_model_size(sizes, [1.0, 1.2, 1.3, 1.4, 1.5], 1)
    assert "does not fall" in rising and "highest at M = 1" in rising


def test_robot_arm_medians_keep_three_significant_figures():
    text = sec_13_mdn.describe_reach(np.full(5, 0.000214), np.full(5, 0.0123), np.full(5, 0.0301), 5)
    assert "median 0.000214" in text and "0.000" not in text.replace("0.000214", "")
    assert "the MDN's conditional mode is best, 141 times closer" in text


def test_fit_text_names_the_worst_function_from_the_errors():
    text = sec_02_fitting.describe_fits({"square": 3e-5, "sin": 1e-4, "abs": 0.012, "step": 2e-7})
    assert text.startswith("The network fits x², sin(x) and the step H(x) almost exactly")
    assert "the hardest is |x|, with an RMS error of 0.012" in text
    text = sec_02_fitting.describe_fits({"square": 3e-5, "sin": 1e-4, "abs": 0.003, "step": 0.04})
    assert "the hardest is the step H(x)" in text and "|x|" in text.split(";")[0]


def test_hidden_unit_text_says_over_fitting_only_when_the_numbers_show_it():
    train = {1: 0.52, 3: 0.036, 10: 0.012}
    best = {1: 121.0, 3: 90.0, 5: 77.7, 10: 131.0}
    shown = sec_07_hidden_units.describe_sweep(train, {1: 0.38, 3: 0.39, 10: 0.61},
                                               {1: 0.005, 3: 0.08, 10: 0.04}, best, 5)
    assert "over-fitting" in shown and "1.6 times as far" in shown
    assert "it falls as M grows" in shown and "at M = 5 (77.7)" in shown
    alike = sec_07_hidden_units.describe_sweep(train, {1: 0.27, 3: 0.21, 10: 0.22},
                                               {1: 0.001, 3: 0.002, 10: 0.002}, best, 5)
    assert "over-fitting" not in alike and "not visibly worse" in alike


def _run(fun_values, nfev):
    h = SimpleNamespace(fun=np.array(fun_values), nfev=np.array(nfev))
    return SimpleNamespace(history=h, fun=fun_values[-1]), 0.0


def test_optimizer_text_counts_evaluations_to_the_target_from_the_histories():
    runs = {"gd": _run([10.0, 5.0, 3.0], [1, 50, 100]),
            "cg": _run([10.0, 2.5, 2.01], [1, 20, 40]),
            "bfgs": _run([10.0, 2.0], [1, 30])}
    text = sec_04_optimizers.race_summary(runs, E_min=2.0)
    assert "BFGS needed 30 evaluations, conjugate gradients needed 40 evaluations" in text
    assert "gradient descent + momentum did not get there in 100" in text
    assert "3 runs ended at 3 error values" in text


def test_boundary_text_follows_the_test_errors():
    good = sec_15_bayes_classification.describe_boundaries({"ml": 0.224, "evidence": 0.195}, 0.173)
    assert "22.4%" in good and "19.5%" in good and "removes most of the over-fitting" in good
    bad = sec_15_bayes_classification.describe_boundaries({"ml": 0.19, "evidence": 0.20}, 0.17)
    assert "does not lower the test error" in bad


def test_log_determinant_text_follows_the_gaps():
    text = sec_06_hessian.describe_logdet(-3.25, 69.3, 1.2e-16)
    assert "outer-product approximation is off by -3.25" in text
    assert "diagonal is off by +69.3 — a network's Hessian is far from diagonal" in text
    assert "neglects nothing there" in text
    other = sec_06_hessian.describe_logdet(None, 0.5, 0.3)
    assert "is not positive definite" in other and "neglects nothing" not in other
