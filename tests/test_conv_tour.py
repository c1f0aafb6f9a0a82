"""The tour's convolutional-network section (§5.5.6) runs in quick mode and its numbers hold."""

import numpy as np

import pytest

from prmlnet.tour.report import build

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_convolutional_section_runs_quickly_and_its_numbers_hold(tmp_path):
    index, (page,) = build(tmp_path, quick=True, only="sec_11")
    n = page.numbers
    assert len(page.figures) == 2 and all(p.stat().st_size > 5000 for p in page.figures)
    assert abs(n["n_weights_cnn"] - n["n_weights_mlp"]) < 0.05 * n["n_weights_mlp"]
    assert n["test_error_cnn"] < 0.2 and n["test_error_mlp"] < 0.2     # chance: 0.9
    assert n["shift_error"] < 1e-12                                   # equivariance
    html = index.read_text()
    assert "Figure 5.17" in html and f"{n['test_error_cnn']:.3f}" in html
    (code,) = page.try_its
    namespace = {}
    exec(compile(code, "try_it", "exec"), namespace)                  # runs as written
    assert namespace["maps"].shape == (6, 6, 6)
    assert namespace["clf"].net_.n_weights == n["n_weights_cnn"]
    assert np.isfinite(namespace["clf"].score(namespace["X"], namespace["y"]))
