"""`prmlnet fit / predict / info` across modes: standardised targets, per-target error
bars, options that do nothing, density predictions, the summary.

The fits run in subprocesses, in parallel; the refusals and the predictions run the
entry point in-process (``main(argv)``, as the console script does; a process each
would spend a second importing)."""

import csv
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from prmlnet import BayesianMLPRegressor, modelfile
from prmlnet.cli import main
from prmlnet.estimators import load

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "prmlnet.cli", *map(str, args)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_all(*arglists):
    """Several commands at once (they spend most of their time importing); an empty
    list runs ``prmlnet`` alone."""
    procs = [start(*a) for a in arglists]
    out = []
    for p, a in zip(procs, arglists):
        stdout, stderr = p.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(a, p.returncode, stdout, stderr))
    return out


def run_here(capsys, *args):
    """``prmlnet ARGS`` in this process: its exit status, standard output and error."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code or 0, stdout=out.out, stderr=out.err)


def one_line_error(r, *fragments):
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert lines[0].startswith("prmlnet: error:") and "Traceback" not in r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def read_csv(text):
    rows = list(csv.reader(text.splitlines()))
    return rows[0], np.array([[float(v) for v in r] for r in rows[1:]])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("modes")
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (60, 3))
    small = np.sin(2 * X[:, 0]) + 0.05 * rng.standard_normal(60)
    big = 1000.0 * (X[:, 1] ** 2) + 5000.0 + 20.0 * rng.standard_normal(60)
    write_csv(d / "two.csv", ["a", "b", "c", "small", "big"],
              [[*x, s, b] for x, s, b in zip(X, small, big)])
    reals = 10.0 * X[:, 0] + 3.7 * X[:, 1] ** 2 + 0.01 * rng.standard_normal(60)
    write_csv(d / "reals.csv", ["a", "b", "c", "y"], [[*x, v] for x, v in zip(X, reals)])
    write_csv(d / "names.csv", ["a", "b", "id", "y"],
              [[x[0], x[1], f"row{i}", v] for i, (x, v) in enumerate(zip(X, reals))])
    t = rng.uniform(0, 1, 80)
    x = t + 0.3 * np.sin(2 * np.pi * t) + 0.05 * rng.standard_normal(80)   # the toy inverse
    write_csv(d / "inverse.csv", ["x", "t"], zip(x, t))
    return d


@pytest.fixture(scope="module")
def fitted(files):
    """``(folder, {fit name: result})``, and ``prmlnet`` alone as "alone"."""
    d = files
    fits = dict(zip(("bayes", "plain", "ard", "mdn", "alone"), run_all(
        ["fit", d / "two.csv", "-t", "small", "-t", "big", "--bayes", "--hidden", "3",
         "--alpha", "0.1", "--n-outer", "4", "-o", d / "bayes.npz"],
        ["fit", d / "reals.csv", "-t", "y", "--hidden", "4", "--max-iter", "80", "-o",
         d / "plain.npz"],
        ["fit", d / "reals.csv", "-t", "y", "--bayes", "--prior", "ard", "--hidden", "2",
         "--alpha", "0.1", "--n-outer", "3", "-o", d / "ard.npz"],
        ["fit", d / "inverse.csv", "-t", "t", "--task", "density", "--components", "2",
         "--hidden", "4", "--max-iter", "60", "-o", d / "mdn.npz"],
        [])))
    for r in fits.values():
        assert r.returncode == 0, r.stderr
    return d, fits


def test_prmlnet_alone_prints_its_help(fitted):
    alone = fitted[1]["alone"]
    assert alone.returncode == 0 and alone.stderr == ""
    assert alone.stdout.startswith("Usage: prmlnet") and "predict" in alone.stdout


@pytest.mark.parametrize("args, fragments", [
    (["--components", "4"], ["--components goes with --task density"]),
    (["--prior", "ard"], ["--prior goes with --bayes"]),
    (["--n-outer", "5"], ["--n-outer goes with --bayes"]),
    (["--prior-components", "2"], ["--prior-components goes with --weight-prior"]),
    (["--invariance", "rotate"], ["--invariance", "--tangent-prop"]),
    (["--image-shape", "1x3"], ["--image-shape"]),
    (["--task", "classification"], ["looks continuous", "not whole numbers"]),
])
def test_options_that_do_nothing_are_errors(args, fragments, files, capsys):
    d = files
    r = run_here(capsys, "fit", d / "reals.csv", "-t", "y", "-o", d / "never.npz", *args)
    one_line_error(r, *fragments)
    assert not (d / "never.npz").exists()


def test_a_non_numeric_input_column_names_ignore(files, capsys):
    d = files
    one_line_error(run_here(capsys, "fit", d / "names.csv", "-t", "y", "-o", d / "n.npz"),
                   "input column 'id'", "--ignore id")           # names the way out
    r = run_here(capsys, "fit", d / "names.csv", "-t", "y", "--ignore", "id", "--max-iter", "5",
                 "-o", d / "n.npz", "-q")
    assert r.returncode == 0, r.stderr


def test_regression_targets_are_standardised_and_mapped_back(fitted, capsys):
    d, _ = fitted
    mf = modelfile.load(d / "plain.npz")
    reg = load(d / "plain.npz")
    assert "y_mean" in mf.arrays and "y_scale" in mf.arrays and reg.y_scale_[0] > 1.0
    header, P = read_csv(run_here(capsys, "predict", d / "plain.npz", d / "reals.csv").stdout)
    table = np.loadtxt(d / "reals.csv", delimiter=",", skiprows=1)
    assert header == ["y"]
    assert np.allclose(P[:, 0], reg.predict(table[:, :3]), rtol=1e-15, atol=0)
    assert np.corrcoef(P[:, 0], table[:, 3])[0, 1] > 0.9           # in the targets' units


def test_bayes_error_bars_have_each_targets_scale(fitted, capsys):
    d, fits = fitted
    cli = modelfile.load(d / "bayes.npz").meta["cli"]
    table = np.loadtxt(d / "two.csv", delimiter=",", skiprows=1)
    X, Y = table[:, :3], table[:, 3:]
    mean, scale = Y.mean(0), Y.std(0)
    assert np.allclose(cli["target_mean"], mean, rtol=1e-12)
    assert np.allclose(cli["target_scale"], scale, rtol=1e-12)
    # the oracle: the same estimator fitted here on the standardised targets
    ref = BayesianMLPRegressor(hidden_layer_sizes=(3,), alpha=0.1, n_outer=4, max_iter=200,
                               tol=1e-5, standardize=True, random_state=0).fit(
        X, (Y - mean) / scale)
    assert np.allclose(ref.w_, load(d / "bayes.npz").w_, rtol=1e-10, atol=1e-12)
    header, P = read_csv(run_here(capsys, "predict", d / "bayes.npz", d / "two.csv").stdout)
    assert header == ["small", "big", "small_std", "big_std"]
    m, s = ref.predict(X, return_std=True)
    assert np.allclose(P[:, :2], m * scale + mean, rtol=1e-12)
    assert np.allclose(P[:, 2:], s.reshape(len(X), -1) * scale, rtol=1e-12)
    noise = ref.beta_ ** -0.5 * scale                   # each target's noise sd, its units
    assert np.all(P[:, 2:] >= noise * (1 - 1e-12))
    assert np.all(P[:, 3] / P[:, 2] > 0.1 * scale[1] / scale[0])    # not one shared scale
    err = fits["bayes"].stderr
    assert "in the targets' units" in err and "on standardised targets" in err


def test_ard_alphas_are_named_by_their_columns(fitted, capsys):
    d, fits = fitted
    line = next(l for l in fits["ard"].stderr.splitlines() if "evidence:" in l)
    assert "alpha a " in line and ", b " in line and ", c " in line and " x1 " not in line
    info = run_here(capsys, "info", d / "ard.npz").stdout
    ev = next(l for l in info.splitlines() if l.startswith("evidence:"))
    est = load(d / "ard.npz")
    assert f"a {est.alpha_['x1']:.4g}" in ev and f"c {est.alpha_['x3']:.4g}" in ev


def test_the_summary_error_is_the_data_error_in_the_targets_units(fitted, capsys):
    d, fits = fitted
    t = np.loadtxt(d / "reals.csv", delimiter=",", skiprows=1)[:, 3]
    for fit, extra in (("plain", ()), ("ard", ("--no-std",))):
        line = next(l for l in fits[fit].stderr.splitlines() if "training error E_D" in l)
        E = float(line.split("E_D = ")[1].split()[0])
        _, P = read_csv(run_here(capsys, "predict", d / f"{fit}.npz", d / "reals.csv",
                                 *extra).stdout)
        assert E == pytest.approx(0.5 * np.sum((P[:, 0] - t) ** 2), rel=1e-5)


def test_density_predictions_write_the_mean_and_the_mixture(fitted, capsys):
    d, _ = fitted
    r = run_here(capsys, "predict", d / "mdn.npz", d / "inverse.csv", "--mean", "--mixture")
    assert r.returncode == 0, r.stderr
    one_line_error(run_here(capsys, "predict", d / "plain.npz", d / "reals.csv", "--mixture"),
                   "--mixture needs a density model")
    header, P = read_csv(r.stdout)
    assert header == ["t", "t_mean", "pi_1", "pi_2", "sigma_1", "sigma_2", "mu_1_t", "mu_2_t"]
    mdn = load(d / "mdn.npz")
    x = np.loadtxt(d / "inverse.csv", delimiter=",", skiprows=1)[:, :1]
    mix = mdn.predict_mixture(x)
    assert np.allclose(P[:, 0], mdn.predict(x), rtol=1e-14)
    assert np.allclose(P[:, 1], np.sum(mix.pi * mix.mu[:, :, 0], axis=1), rtol=1e-12)   # (5.158)
    assert np.allclose(P[:, 2:4].sum(axis=1), 1.0) and np.all(P[:, 4:6] > 0)
    assert np.allclose(P[:, 6:], mix.mu[:, :, 0], rtol=1e-14)


def test_no_std_needs_a_bayesian_regression_model(fitted, capsys):
    d, _ = fitted
    one_line_error(run_here(capsys, "predict", d / "plain.npz", d / "reals.csv", "--no-std"),
                   "--no-std goes with a Bayesian regression model")
