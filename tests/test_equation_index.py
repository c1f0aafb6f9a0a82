"""The equation index cannot drift: every entry names real code that cites it and a real test."""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from prmlnet.tour.equations import EQUATIONS, markdown
from prmlnet.tour.page import render_inline

ROOT = Path(__file__).resolve().parents[1]


def resolve(path):
    """The object a dotted path names: a module, or an attribute chain inside one."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def numbers(spec):
    """'5.155–5.157' -> {155, 156, 157}; '5.56' -> {56}."""
    a, _, b = spec.partition("–")
    lo = int(a.split(".")[1])
    hi = int(b.split(".")[1]) if b else lo
    return set(range(lo, hi + 1))


def cited(source):
    """Equation numbers of Chapter 5 cited in a piece of source, ranges expanded."""
    found = set()
    for m in re.finditer(r"5\.(\d+)\)?\s*[–-]\s*\(?5\.(\d+)", source):
        found |= set(range(int(m.group(1)), int(m.group(2)) + 1))
    found |= {int(n) for n in re.findall(r"(?<![\d.])5\.(\d+)", source)}
    return found


@pytest.mark.parametrize("eq", EQUATIONS, ids=[e.number for e in EQUATIONS])
def test_entry_names_code_that_cites_the_equation(eq):
    obj = resolve(eq.where)
    source = inspect.getsource(obj)
    missing = numbers(eq.number) - cited(source)
    assert not missing, f"{eq.where} does not cite (5.{min(missing)})"


@pytest.mark.parametrize("eq", EQUATIONS, ids=[e.number for e in EQUATIONS])
def test_entry_names_a_test_that_exists(eq):
    file, _, name = eq.test.partition("::")
    tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
    names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert name in names, eq.test


def test_entries_render_as_mathml_and_are_in_order():
    for eq in EQUATIONS:
        render_inline(eq.what)                    # raises on LaTeX the converter cannot read
    keys = [(int(e.number.split("–")[0].split(".")[1])) for e in EQUATIONS]
    assert keys == sorted(keys) and len(set(e.number for e in EQUATIONS)) == len(EQUATIONS)


def test_docs_page_is_the_generated_index():
    page = (ROOT / "docs" / "equations.md").read_text(encoding="utf-8")
    assert page == markdown(), ("docs/equations.md is out of date: run "
                                "python -m prmlnet.tour.equations > docs/equations.md")


def test_backprop_and_r_operator_lines_cite_their_equations():
    from prmlnet import layers, network

    src = inspect.getsource(layers.Layer.r_forward) + inspect.getsource(layers.Layer.r_backward)
    assert {101, 102, 103, 107, 110, 111} <= cited(src)
    assert {51, 53, 54, 56, 57} <= cited(inspect.getsource(network.Network))
