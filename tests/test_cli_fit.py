"""`prmlnet fit / predict / info`, driven in subprocesses on real files written here.

Every bad input ends with exit status != 0 and exactly one line on standard
error, never a traceback.
"""

import csv
import io as _io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from prmlnet import modelfile
from prmlnet.estimators import load

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "prmlnet.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def run_parallel(*arglists):
    """Several commands at once (they spend most of their time importing)."""
    procs = [subprocess.Popen([sys.executable, "-m", "prmlnet.cli", *map(str, a)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in arglists]
    out = []
    for p, a in zip(procs, arglists):
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(a, p.returncode, stdout, stderr))
    return out


def assert_one_line_error(r, *fragments):
    assert r.returncode != 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("prmlnet: error:"), r.stderr
    assert "Traceback" not in r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def num(v):
    return repr(float(v))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A classification CSV with string labels and a regression CSV."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(5)
    X = rng.standard_normal((90, 3))
    labels = np.array(["red", "green", "blue"])[np.argmax(X @ rng.standard_normal((3, 3)), 1)]
    write_csv(d / "cls.csv", ["a", "b", "c", "colour"],
              [[*map(num, x), l] for x, l in zip(X, labels)])
    t = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2]
    write_csv(d / "reg.csv", ["u", "v", "w", "y"], [[*map(num, x), num(v)] for x, v in zip(X, t)])
    # predict-time data with the columns in another order and an extra column
    write_csv(d / "new.csv", ["w", "extra", "v", "u"], [[num(x[2]), "1", num(x[1]), num(x[0])]
                                                        for x in X[:7]])
    r, r2 = run_parallel(
        ["fit", d / "cls.csv", "--target", "colour", "--max-iter", "60", "-o", d / "cls.npz"],
        ["fit", d / "reg.csv", "--target", "y", "--hidden", "6,4", "--max-iter", "60",
         "-o", d / "reg.npz"])
    assert r.returncode == 0, r.stderr
    assert r2.returncode == 0, r2.stderr
    return d, X, labels, t, r.stderr, r2.stderr


def read_csv_text(text):
    rows = list(csv.reader(_io.StringIO(text)))
    return rows[0], rows[1:]


def test_fit_prints_a_summary_and_writes_a_model(data):
    d, X, labels, t, err_cls, err_reg = data
    assert "task: classification" in err_cls and "training accuracy" in err_cls
    assert "iterations" in err_cls and "wrote" in err_cls
    assert "task: regression" in err_reg and "R²" in err_reg
    clf = load(d / "cls.npz")
    assert clf.net_.output.name == "softmax" and sorted(clf.classes_) == ["blue", "green", "red"]
    assert clf.x_mean_ is not None                       # the command line standardises inputs
    reg = load(d / "reg.npz")
    assert reg.net_.sizes == (3, 6, 4, 1)


def test_predict_writes_labels_and_probabilities(data):
    d, X, labels, *_ = data
    r = run("predict", d / "cls.npz", d / "cls.csv", "--proba")
    assert r.returncode == 0, r.stderr
    header, rows = read_csv_text(r.stdout)
    assert header == ["colour", "p_blue", "p_green", "p_red"]
    clf = load(d / "cls.npz")
    P = np.array([[float(v) for v in row[1:]] for row in rows])
    assert np.array_equal(P, clf.predict_proba(X))          # bit for bit through the CSV
    assert [row[0] for row in rows] == list(clf.predict(X))
    assert np.mean(np.array([row[0] for row in rows]) == labels) > 0.8


def test_predict_selects_columns_by_name_and_writes_a_file(data, tmp_path):
    d, X, labels, t, *_ = data
    out = tmp_path / "pred.csv"
    r = run("predict", d / "reg.npz", d / "new.csv", "--out", out)
    assert r.returncode == 0, r.stderr
    header, rows = read_csv_text(out.read_text())
    assert header == ["y"]
    reg = load(d / "reg.npz")
    assert np.array_equal([float(v[0]) for v in rows], reg.predict(X[:7]))


def test_info_describes_the_model(data):
    d = data[0]
    r = run("info", d / "cls.npz")
    assert r.returncode == 0, r.stderr
    for fragment in ("MLPClassifier", "3-10-3", "softmax", "90 rows × 3 inputs", "alpha=0.01",
                     "format version 1", "classes:", "blue", "standardised", "iterations"):
        assert fragment in r.stdout, r.stdout


def test_same_seed_same_data_bit_identical_model(data, tmp_path):
    d = data[0]
    runs = run_parallel(*[["fit", d / "reg.csv", "-t", "y", "--max-iter", "15", "--seed", "7",
                           "-q", "-o", tmp_path / name] for name in ("a.npz", "b.npz")])
    for r in runs:
        assert r.returncode == 0 and r.stderr == "", r.stderr
    assert np.array_equal(modelfile.load(tmp_path / "a.npz").w, modelfile.load(tmp_path / "b.npz").w)


def test_npz_training_data(data, tmp_path):
    d, X, labels, t, *_ = data
    np.savez(tmp_path / "train.npz", id=np.array([f"row{i}" for i in range(len(t))]),
             p=X[:, 0], q=X[:, 1], r=X[:, 2], target=t)
    r = run("fit", tmp_path / "train.npz", "-t", "target", "--ignore", "id", "--max-iter", "10",
            "-q", "-o", tmp_path / "m.npz")
    assert r.returncode == 0, r.stderr
    assert load(tmp_path / "m.npz").n_features_in_ == 3


def test_predict_with_a_model_saved_by_the_estimator_api(data, tmp_path):
    from prmlnet import MLPRegressor
    d, X, labels, t, *_ = data
    reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, t)
    reg.save(tmp_path / "api.npz")                 # no column names: inputs in file order
    write_csv(tmp_path / "x.csv", ["p", "q", "r"], [[num(v) for v in x] for x in X[:4]])
    r = run("predict", tmp_path / "api.npz", tmp_path / "x.csv")
    assert r.returncode == 0, r.stderr
    header, rows = read_csv_text(r.stdout)
    assert header == ["prediction"]
    assert np.array_equal([float(v[0]) for v in rows], reg.predict(X[:4]))


# -- bad input ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad(data, tmp_path_factory):
    """Write every bad input, run every command at once; name -> CompletedProcess."""
    import json
    import pickle

    d = data[0]
    b = tmp_path_factory.mktemp("bad")
    (b / "empty.csv").write_text("")
    (b / "header.csv").write_text("a,b,y\n")
    write_csv(b / "nohead.csv", None, [[1, 2, 3], [4, 5, 6]])
    write_csv(b / "text.csv", ["a", "b", "y"], [[1, 2, 0], [3, "oops", 1], [5, 6, 0]])
    write_csv(b / "nan.csv", ["a", "b", "y"],
              [[1, 2, 0.5], [3, "nan", 1.5], [5, 6, 0.1], ["inf", 1, 2.0], [1, "", 3.0]])
    write_csv(b / "inf_target.csv", ["a", "y"], [[1, 2.0], [3, "-inf"], [4, 1.0]])
    write_csv(b / "one.csv", ["a", "label"], [[1, "x"], [2, "x"], [3, "x"]])
    (b / "ragged.csv").write_text("a,b,y\n1,2,3\n4,5\n")
    write_csv(b / "cols.csv", ["u", "x", "y"], [[1, 2, 3]])
    with np.load(d / "reg.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header["format_version"] = 99
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(b / "future.npz", **arrays)
    raw = (d / "reg.npz").read_bytes()
    (b / "cut.npz").write_bytes(raw[: len(raw) // 2])
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    (b / "flipped.npz").write_bytes(bytes(flipped))
    (b / "evil.npz").write_bytes(pickle.dumps({"w": [1.0]}))
    cases = {
        "missing": ["fit", b / "nope.csv", "-t", "y"],
        "empty": ["fit", b / "empty.csv", "-t", "y"],
        "header_only": ["fit", b / "header.csv", "-t", "y"],
        "no_header": ["fit", b / "nohead.csv", "-t", "y"],
        "unknown_target": ["fit", d / "reg.csv", "-t", "price"],
        "text": ["fit", b / "text.csv", "-t", "y"],
        "nan": ["fit", b / "nan.csv", "-t", "y"],
        "inf_target": ["fit", b / "inf_target.csv", "-t", "y", "--task", "regression"],
        "one_class": ["fit", b / "one.csv", "-t", "label"],
        "ragged": ["fit", b / "ragged.csv", "-t", "y"],
        "bad_option": ["fit", d / "reg.csv", "-t", "y", "--hidden", "ten"],
        "columns": ["predict", d / "reg.npz", b / "cols.csv"],
        "proba": ["predict", d / "reg.npz", d / "reg.csv", "--proba"],
        "future_info": ["info", b / "future.npz"],
        "future_predict": ["predict", b / "future.npz", d / "reg.csv"],
        "cut": ["info", b / "cut.npz"],
        "flipped": ["predict", b / "flipped.npz", d / "reg.csv"],
        "pickle": ["info", b / "evil.npz"],
        "missing_model": ["predict", b / "none.npz", d / "reg.csv"],
    }
    names = list(cases)
    results = []
    for i in range(0, len(names), 4):           # four at a time
        results += run_parallel(*[cases[n] for n in names[i:i + 4]])
    return dict(zip(names, results))


def test_missing_file(bad):
    assert_one_line_error(bad["missing"], "does not exist")


def test_empty_file(bad):
    assert_one_line_error(bad["empty"], "empty")


def test_header_without_rows(bad):
    assert_one_line_error(bad["header_only"], "no data rows")


def test_no_header(bad):
    assert_one_line_error(bad["no_header"], "no header")


def test_unknown_target_column(bad):
    assert_one_line_error(bad["unknown_target"], "no target column 'price'", "'u', 'v', 'w', 'y'")


def test_non_numeric_cells(bad):
    assert_one_line_error(bad["text"], "column 'b'", "must be numeric", "line 3", "oops")


def test_nan_and_infinite_values_name_rows_and_columns(bad):
    msg = assert_one_line_error(bad["nan"], "column 'a' (line 5)", "column 'b' (lines 3, 6)")
    assert "NaN" in msg and "infinite" in msg
    assert_one_line_error(bad["inf_target"], "column 'y' (line 3)")


def test_a_single_class(bad):
    assert_one_line_error(bad["one_class"], "single class", "'x'")


def test_ragged_rows(bad):
    assert_one_line_error(bad["ragged"], "line 3", "2 cells")


def test_bad_option_value(bad):
    assert_one_line_error(bad["bad_option"], "--hidden")


def test_mismatched_columns_at_predict(bad):
    assert_one_line_error(bad["columns"], "lacks input columns 'v', 'w'")


def test_proba_for_a_regression_model(bad):
    assert_one_line_error(bad["proba"], "classification model")


def test_model_from_a_newer_format_version(bad):
    for name in ("future_info", "future_predict"):
        assert_one_line_error(bad[name], "format version 99", "upgrade prmlnet")


def test_truncated_and_corrupted_model_files(bad):
    assert_one_line_error(bad["cut"], "truncated or corrupted")
    assert_one_line_error(bad["flipped"], "corrupted")


def test_a_pickle_model_is_refused(bad):
    assert_one_line_error(bad["pickle"], "refusing", "pickle")


def test_missing_model_file(bad):
    assert_one_line_error(bad["missing_model"], "none.npz")


# -- no lost work ---------------------------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_sigint_keeps_the_best_weights_and_writes_the_model(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 5))
    t = rng.standard_normal(2000)                 # pure noise: training never converges
    write_csv(tmp_path / "big.csv", ["a", "b", "c", "d", "e", "t"],
              [[*map(num, x), num(v)] for x, v in zip(X, t)])
    out = tmp_path / "big.npz"
    p = subprocess.Popen([sys.executable, "-m", "prmlnet.cli", "fit", str(tmp_path / "big.csv"),
                          "-t", "t", "--hidden", "40", "--alpha", "0", "--tol", "0",
                          "--max-iter", "1000000", "-o", str(out)],
                         stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:                     # the progress bar's label: training has begun
            if line.strip().startswith("training") and "with" not in line:
                break
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        rest = p.communicate(timeout=60)[1]
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, rest
    assert "interrupted after" in rest and "kept the best weights" in rest
    assert "Traceback" not in rest
    reg = load(out)
    assert reg.training_["interrupted"] and reg.n_iter_ >= 1
    assert reg.loss_ <= min(reg.loss_curve_)          # the best weights seen, not the last ones
    assert np.all(np.isfinite(reg.predict(X[:5])))
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []
