"""The Bayesian tour sections (§5.7) run headless in quick mode and tell their story."""


def test_regression_section(quick_tour):
    page = quick_tour[1]["sec_14_bayes_regression"]
    assert len(page.figures) == 3 and all(p.stat().st_size > 5000 for p in page.figures)
    n = page.numbers
    assert n["std_ratio_far_to_data"] > 2          # error bars widen away from the data
    assert 0 < n["gamma"] < 16                     # 1-5-1 network: W = 16
    assert n["alpha"] > 0 and n["beta"] > 10       # noise sd 0.1 -> beta near 100
    assert n["best_hidden_units"] in (2, 3, 4)


def test_classification_section(quick_tour):
    page = quick_tour[1]["sec_15_bayes_classification"]
    assert len(page.figures) == 2
    n = page.numbers
    assert n["fraction_moderated_towards_half"] > 0.9
    assert n["test_error_evidence"] < n["test_error_ml"]     # Figure 5.22's point
    assert n["test_error_bayes"] <= n["test_error_evidence"] + 0.02
