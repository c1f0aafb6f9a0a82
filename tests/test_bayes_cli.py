"""`prmlnet fit --bayes` and error bars in `prmlnet predict` on real CSV files.

The command line's entry point runs in-process (``main(argv)``, as the console
script does) to keep these tests fast; test_cli_fit.py drives subprocesses.
"""

import csv
from types import SimpleNamespace

import numpy as np
import pytest

from prmlnet.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def run(capsys):
    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code or 0, stdout=out.out, stderr=out.err)
    return run


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def sine_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.5, 40)
    y = np.sin(2 * np.pi * x) + 0.1 * rng.standard_normal(40)
    train = write_csv(tmp_path / "sine.csv", ["x", "y"], zip(x, y))
    new = write_csv(tmp_path / "new.csv", ["x"], [[v] for v in (0.25, 0.5, 1.0)])
    return train, new


def test_fit_bayes_and_predict_with_error_bars(run, sine_files, tmp_path):
    train, new = sine_files
    model = tmp_path / "m.npz"
    r = run("fit", train, "-t", "y", "--bayes", "--hidden", "4", "-o", model)
    assert r.returncode == 0, r.stderr
    assert "BayesianMLPRegressor" in r.stderr and "ln evidence" in r.stderr
    r = run("predict", model, new)
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(r.stdout.splitlines()))
    assert rows[0] == ["y", "y_std"]
    std = np.array([float(row[1]) for row in rows[1:]])
    assert np.all(std > 0) and std[2] > 2 * std[0]           # wider away from the data
    r = run("predict", model, new, "--no-std")
    assert list(csv.reader(r.stdout.splitlines()))[0] == ["y"]
    r = run("info", model)
    assert r.returncode == 0 and "ln evidence" in r.stdout


def test_fit_bayes_classifier_moderated_proba(run, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 2))
    lab = np.where(X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(60) > 0, "yes", "no")
    train = write_csv(tmp_path / "c.csv", ["a", "b", "label"], zip(X[:, 0], X[:, 1], lab))
    model = tmp_path / "c.npz"
    r = run("fit", train, "-t", "label", "--bayes", "--hidden", "3", "--n-outer", "4", "-o", model)
    assert r.returncode == 0, r.stderr
    r = run("predict", model, train, "--proba")
    rows = list(csv.reader(r.stdout.splitlines()))
    assert rows[0] == ["label", "p_no", "p_yes"]
    P = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert np.allclose(P.sum(1), 1.0)


@pytest.mark.parametrize("args, fragment", [
    (("--early-stopping",), "does not go with --bayes"),
    (("--alpha", "0"), "alpha > 0"),
    (("--method", "adam"), "batch method"),
])
def test_fit_bayes_bad_options(run, sine_files, args, fragment):
    train, _ = sine_files
    r = run("fit", train, "-t", "y", "--bayes", *args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prmlnet: error:") and fragment in lines[0]
