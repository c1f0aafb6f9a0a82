"""Expected failures of `prmlnet fit` end in one line and a non-zero exit, never a
traceback — and those that can be known before training are reported before it."""

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest


def popen(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "prmlnet.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def one_line_error(p, *fragments):
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    lines = err.strip().splitlines()
    assert p.returncode != 0 and len(lines) == 1, err
    assert lines[0].startswith("prmlnet: error:") and "Traceback" not in err, err
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def folder():
    d = tempfile.mkdtemp(prefix="prmlnet-cli-")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    with open(os.path.join(d, "v.csv"), "w") as f:
        f.write("a,b,y\n" + "".join(f"{float(a)!r},{float(b)!r},{float(a - b)!r}\n"
                                   for a, b in X))
    yield d
    for root, dirs, _ in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o755)
    shutil.rmtree(d)


def _read_only_folder(folder):
    """A folder this process cannot create files in: a folder without write
    permission, or — root writes anywhere — sysfs, which refuses new files."""
    if os.geteuid() != 0:
        ro = os.path.join(folder, "ro")
        os.mkdir(ro)
        os.chmod(ro, 0o555)
        return ro
    try:
        fd, probe = tempfile.mkstemp(dir="/sys")
    except OSError:
        return "/sys"
    os.close(fd)
    os.unlink(probe)
    pytest.skip("no folder is read-only to root here")


def test_a_read_only_output_folder_is_reported_before_training(folder):
    ro = _read_only_folder(folder)
    before = sorted(os.listdir(ro))
    p = popen("fit", os.path.join(folder, "v.csv"), "-t", "y", "-o", os.path.join(ro, "m.npz"))
    line = one_line_error(p, "is not writable")
    assert "training" not in line and sorted(os.listdir(ro)) == before


def test_training_failures_and_impossible_sizes_are_one_line(folder):
    data = os.path.join(folder, "v.csv")
    out = os.path.join(folder, "m.npz")
    procs = [
        (popen("fit", data, "-t", "y", "-q", "-o", out, "--alpha", "1e300"),
         ("training failed", "overflows", "no model written")),
        (popen("fit", data, "-t", "y", "-q", "-o", out, "--alpha", "1e300", "--method", "sgd"),
         ("training failed", "NaN or infinite")),
        (popen("fit", data, "-t", "y", "-q", "-o", out, "--hidden", "1000000000"),
         ("W = 4,000,000,001 weights", "needs about", "TiB", "fewer hidden units")),
        (popen("fit", data, "-t", "y", "-q", "-o", out, "--hidden", "1000000", "--bayes"),
         ("W = 4,000,001 weights", "needs about", "TiB")),
    ]
    for p, fragments in procs:
        one_line_error(p, *fragments)
    assert not os.path.exists(out)
