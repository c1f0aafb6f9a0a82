"""The README works as written: every Python block runs in a fresh interpreter with
nothing injected, its set-up commands are CI's, and it links only inside the repository."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_block_runs_as_written_in_a_fresh_interpreter(code, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(PYTHONPATH=str(ROOT / "src"), MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    if "relative_error(g, numeric)" in code:                  # the first look's printed check
        assert float(r.stdout.split()[0]) < 1e-7
    if "Hv - H @ v" in code:
        assert float(r.stdout.split()[-1]) < 1e-10


def test_set_up_commands_are_near_the_top_and_the_test_command_is_cis():
    lines = README.read_text(encoding="utf-8").splitlines()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_cmd = next(line for line in lines if "pytest" in line and "pip install" in line)
    assert test_cmd.strip() in ci
    assert lines.index(test_cmd) < 30
    assert any("prmlnet tour" in line and "pip install" in line for line in lines[:30])


def test_links_stay_inside_the_repository():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", text)
    assert targets, "the README links its docs pages"
    for t in targets:
        assert not re.match(r"[a-z]+:", t) and not t.startswith(".."), t
        assert (ROOT / t.split("#")[0]).exists(), t
    assert "shared/" not in text and not re.search(r"\bissue \d+|\(issue", text, re.I)
