"""The tour's convolutional-network section (§5.5.6) runs in quick mode and its numbers hold."""

import pytest

from prmlnet.tour import sec_11_convolutional

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_convolutional_section_runs_quickly_and_its_numbers_hold(quick_tour):
    index, pages = quick_tour
    page = pages["sec_11_convolutional"]
    n = page.numbers
    assert len(page.figures) == 2 and all(p.stat().st_size > 5000 for p in page.figures)
    assert abs(n["n_weights_cnn"] - n["n_weights_mlp"]) < 0.05 * n["n_weights_mlp"]
    errors = [n[f"test_error_{m}{t}"] for m in ("cnn", "mlp")
              for t in ("", "_tangent_prop", "_transformed")]
    assert all(0 < e < 0.3 for e in errors)             # from 80 digits; chance: 0.9
    assert n["shift_error"] < 1e-12                                   # equivariance
    html = index.read_text()
    assert "Figure 5.17" in html and f"{n['test_error_cnn']:.3f}" in html
    for m in ("cnn", "mlp"):           # the changes the text states, from the recorded errors
        for t in ("_tangent_prop", "_transformed"):
            change = 100 * (n[f"test_error_{m}{t}"] - n[f"test_error_{m}"])
            assert f"{change:+.1f} " in html
    assert len(page.try_its) == 1 and "ConvNetClassifier" in page.try_its[0]


def test_comparison_text_follows_the_errors():
    say = sec_11_convolutional.describe_comparison
    lower = say({"CNN": 0.045, "MLP": 0.053}, 1382, 1360, 300, 1497, 200, 3)
    assert "mean test error of 0.045, lower than the 0.053 of a two-layer" in lower
    higher = say({"CNN": 0.079, "MLP": 0.075}, 1382, 1360, 150, 1647, 40, 1)
    assert "0.079, higher than the 0.075" in higher and "1 seed)" in higher
    assert "the same as the 0.050" in say({"CNN": 0.0502, "MLP": 0.0500}, 1, 1, 1, 1, 1, 2)


def test_invariance_text_follows_the_changes():
    say = sec_11_convolutional.describe_invariances
    change = {"tangent propagation": {"CNN": -0.31, "MLP": -0.56},
              "transformed data": {"CNN": 0.24, "MLP": -0.17}}
    text = say(change, {"CNN": 0.92, "MLP": 0.86}, 2, 3.0)
    assert "λ = 3) changes the test error by -0.3 points for the convolutional" in text
    assert "and by -0.6 for the perceptron" in text and "2 elastically warped copies" in text
    assert "by +0.2 and -0.2 points" in text and "varies by 0.9 and 0.9 points" in text
    one = say(change, None, 1, 3.0)
    assert "1 elastically warped copy of" in one and "varies" not in one
