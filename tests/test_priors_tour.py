"""The prior and regularization sections of the tour (§5.5.1, §5.5.2, §5.5.7) in quick mode."""

import pytest

from prmlnet.tour import build

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_consistent_priors_and_samples_from_the_prior(tmp_path):
    index, (page,) = build(tmp_path, quick=True, only="sec_08_")
    assert len(page.figures) == 1 and page.figures[0].stat().st_size > 5000
    n = page.numbers
    # training on rescaled data with the prescribed α gives the same function ...
    assert n["diff_inputs_scaled"] < 1e-5 and n["diff_targets_scaled"] < 1e-5
    # ... and with one α for both layers it does not
    assert n["diff_inputs_shared"] > 1e-2 and n["diff_targets_shared"] > 1e-2
    # Figure 5.11: which precision governs which property, computed from the samples
    names = ["W1", "b1", "W2", "b2"]
    assert names[int(n["governs_V"])] == "W2" and n["ratio_W2_V"] == pytest.approx(0.1)
    assert names[int(n["governs_ell"])] == "W1" and n["ratio_W1_ell"] > 1.5
    assert names[int(n["governs_R"])] == "b1" and n["ratio_b1_R"] < 0.8
    assert names[int(n["governs_O"])] == "b2"
    assert all(n[f"ratio_b2_{s}"] == pytest.approx(1.0) for s in ("V", "ell", "R"))


def test_early_stopping_section(tmp_path):
    index, (page,) = build(tmp_path, quick=True, only="sec_09_")
    assert len(page.figures) == 2
    n = page.numbers
    # Figure 5.12: an interior validation minimum, the training error still falling
    assert 0 < n["best_iter"] < 300
    assert n["final_validation_error"] > 1.5 * n["best_validation_error"]
    assert n["final_training_error"] < n["training_error_at_best"]
    # Figure 5.13: the stopped point lies near the weight-decay minimum for α = 1/(ητ)
    assert n["quadratic_distance"] < 0.15 * n["quadratic_norm"]
    assert n["fraction_w2"] > 0.99 and n["fraction_w1"] < 0.7
    assert n["gamma_early_stopping"] == pytest.approx(n["gamma_weight_decay"], abs=0.25)


def test_soft_weight_sharing_section(tmp_path):
    index, (page,) = build(tmp_path, quick=True, only="sec_12_")
    assert len(page.figures) == 1
    n = page.numbers
    assert n["mixture_mu0"] == 0.0                       # the pinned component
    assert n["density_integral"] == pytest.approx(1.0, abs=1e-3)
    assert 2 <= n["n_components_used"] <= 4
    for k in ("weight_decay", "soft_weight_sharing", "early_stopping"):
        assert 0.04 * 0.9 < n[f"test_{k}"] < 3 * 0.04    # noise variance 0.04
