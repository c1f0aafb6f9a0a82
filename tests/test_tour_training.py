"""The tour's training sections (5.1–5.2.4) run in quick mode and their numbers make sense."""

import math

import pytest

from prmlnet.tour import build


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    found = {}
    for slug in ("sec_02_", "sec_03_", "sec_04_", "sec_07_"):
        index, [page] = build(out, quick=True, only=slug)
        assert page.figures and all(p.exists() and p.stat().st_size > 1000 for p in page.figures)
        found[slug] = page.numbers
    return found


def test_figure_5_3_fits_the_smooth_functions(pages):
    n = pages["sec_02_"]
    assert n["E_square"] < 1e-3 and n["E_sin"] < 1e-3      # 50 points, 3 tanh units
    assert all(n[f"E_{k}"] < 0.05 for k in ("square", "sin", "abs", "step"))


def test_two_class_network_is_near_the_bayes_rate(pages):
    n = pages["sec_03_"]
    assert 0.0 < n["error_rate_bayes"] <= n["error_rate_network"] + 0.02
    assert n["error_rate_network"] < n["error_rate_bayes"] + 0.08


def test_hidden_unit_sweep_records_finite_test_errors(pages):
    n = pages["sec_07_"]
    errors = {k: v for k, v in n.items() if k.startswith("min_test_error_M")}
    assert {"min_test_error_M1", "min_test_error_M3", "min_test_error_M10"} <= set(errors)
    assert all(math.isfinite(v) and v > 0 for v in errors.values())


def test_curvature_methods_beat_plain_gradient_descent(pages):
    n = pages["sec_04_"]
    assert min(n["E_cg"], n["E_scg"], n["E_bfgs"], n["E_lbfgs"]) < n["E_gd"]
    assert all(math.isfinite(v) for v in n.values())
