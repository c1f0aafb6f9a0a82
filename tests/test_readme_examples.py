"""Every Python example in the README runs as written (with the data it assumes)."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def blocks():
    found = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(found) == 7, "update this test when README examples are added or removed"
    return found


def test_first_look_training_and_hessian_examples_run(blocks):
    ns = {}
    exec(blocks[0], ns)                               # net, X, T, w, g, numeric
    assert ns["numeric"].shape == ns["g"].shape
    ns.update(X_val=ns["X"][:10], T_val=ns["T"][:10], v=np.ones(ns["net"].n_weights))
    exec(blocks[1], ns)                               # Objective, minimize, online training
    exec(blocks[2], ns)                               # prmlnet.hessian
    H = ns["H"]
    assert np.allclose(ns["Hv"], H @ ns["v"], rtol=1e-10, atol=1e-10)


def test_estimator_examples_run(blocks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                       # the classifier example writes a file
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")               # short fits: convergence warnings
        exec(blocks[3], dict(X=rng.standard_normal((60, 3)), y=rng.integers(0, 3, 60),
                             X_new=rng.standard_normal((4, 3))))
        exec(blocks[4], {})
        ns = dict(X=rng.standard_normal((40, 2)), y=rng.standard_normal(40),
                  X_new=rng.standard_normal((4, 2)))
        exec(blocks[5], ns)
    assert (tmp_path / "digits.npz").exists()
    assert np.all(ns["std"] > 0)
