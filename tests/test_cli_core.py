"""The command line's check (and the tour's argument errors), run as a user runs them.

The tour command itself is tested in test_tour_report.py.
"""

import subprocess
import sys

import pytest

from prmlnet.cli import main


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "prmlnet.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_check_prints_a_table_and_passes():
    r = run("check", "--sizes", "2,3,2", "--output", "softmax")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:8]] == ["W1", "b1", "W2", "b2", "all", "PASS:"]
    assert "relative error" in lines[-1]


def test_check_fails_when_the_tolerance_cannot_be_met(capsys):
    with pytest.raises(SystemExit) as e:
        main(["check", "--tol", "1e-30"])
    assert e.value.code == 1
    assert "FAIL" in capsys.readouterr().out


def test_bad_arguments_give_one_line_errors():
    r = run("check", "--sizes", "3,x")
    assert r.returncode == 2
    assert r.stderr.strip().startswith("prmlnet: error:") and "Traceback" not in r.stderr
    assert "Traceback" not in run("tour", "--only", "no-such-section").stderr
