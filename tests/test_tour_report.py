"""The tour report: `--only` never loses work, the page is complete, "Try it" blocks run."""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from prmlnet.tour import build
from prmlnet.tour.page import mathml, render_inline
from prmlnet.tour.report import section_modules, select_sections

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "prmlnet.cli", "tour", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Page(HTMLParser):
    """What the tests need from the report: ids, links, images, equations, sections."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.images, self.sections = set(), [], [], []
        self.eq_divs = self.maths = 0
        self.captions = []
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a)
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "div" and a.get("class") == "eq":
            self.eq_divs += 1
        if tag == "math":
            self.maths += 1
        if tag == "figcaption":
            self._in_caption = True
            self.captions.append("")

    def handle_endtag(self, tag):
        if tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data):
        if self._in_caption:
            self.captions[-1] += data


def parse(index):
    p = Page()
    p.feed(Path(index).read_text(encoding="utf-8"))
    return p


# -- selectors and --only -----------------------------------------------------------
@pytest.mark.parametrize("selector, expected", [
    ("07", ["sec_07_hidden_units"]),
    ("7", ["sec_07_hidden_units"]),
    ("hidden_units", ["sec_07_hidden_units"]),
    ("sec_07_hidden_units", ["sec_07_hidden_units"]),
    ("prmlnet.tour.sec_06_hessian", ["sec_06_hessian"]),
    ("5.6", ["sec_13_mdn"]),
    ("5.2.4", ["sec_04_optimizers"]),
    ("bayes", ["sec_14_bayes_regression", "sec_15_bayes_classification"]),
    ("03", ["sec_03_classification", "sec_03b_error_surface"]),
    ("03b", ["sec_03b_error_surface"]),
    ("13, 01", ["sec_01_network_function", "sec_13_mdn"]),            # report order
])
def test_selectors_pick_sections_by_number_slug_module_and_book_section(selector, expected):
    names = [m.__name__.rsplit(".", 1)[1] for m in select_sections(selector)]
    assert names[:len(expected)] == expected and set(names) <= set(
        m.__name__.rsplit(".", 1)[1] for m in section_modules())
    if selector not in ("5.6", "5.2.4"):       # a book section may gain subsections later
        assert names == expected


def test_book_section_selector_includes_subsections():
    books = {m.SECTION for m in select_sections("5.7")}
    assert books == {"5.7.1", "5.7.3"}


@pytest.mark.parametrize("bad", ["nosuch", "99", "5.99", "sec_99", ",", "06,nosuch"])
def test_a_selector_that_matches_nothing_is_refused_before_any_work(bad, tmp_path):
    with pytest.raises(ValueError, match="no tour section matches|needs a section"):
        build(tmp_path / "report", quick=True, only=bad)
    assert not (tmp_path / "report").exists()


def test_every_section_declares_title_and_book_section():
    for mod in section_modules():
        assert mod.TITLE.startswith(mod.SECTION.split(".")[0] + "."), mod.__name__
        assert re.fullmatch(r"5(\.\d+)+|5\.\d+", mod.SECTION), mod.__name__
        assert mod.TITLE.startswith(mod.SECTION + " ") or mod.TITLE.startswith(mod.SECTION + "–"), \
            mod.__name__


def test_typo_leaves_a_complete_report_untouched(quick_tour, tmp_path):
    report = tmp_path / "report"
    shutil.copytree(quick_tour[0].parent, report)
    before = snapshot(report)
    r = cli("--quick", "--only", "nosuch", "--out", str(report))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prmlnet: error: no tour section matches")
    assert snapshot(report) == before                      # nothing written, nothing removed


def test_partial_run_updates_its_section_and_keeps_all_others(quick_tour, tmp_path):
    report = tmp_path / "report"
    shutil.copytree(quick_tour[0].parent, report)
    old = parse(report / "index.html")
    fragment = report / "sections" / "sec_01_network_function.json"
    stale = json.loads(fragment.read_text())
    stale["seconds"] = -1.0                                # a mark the rerun must replace
    fragment.write_text(json.dumps(stale))
    old_fragment = fragment.read_bytes()
    seen = []
    index, pages = build(report, quick=True, only="01", progress=seen.append)
    assert [p.slug for p in pages] == ["sec_01_network_function"]
    new = parse(index)
    assert new.sections == old.sections                    # every section still there, in order
    assert len(new.images) == len(old.images)
    assert (report / "sections" / "sec_01_network_function.json").read_bytes() != old_fragment
    assert any(re.search(r"\d+\.\d s", line) for line in seen)   # progress with elapsed time
    for other in quick_tour[1]:
        if other != "sec_01_network_function":
            assert (report / "sections" / f"{other}.json").read_bytes() == (
                quick_tour[0].parent / "sections" / f"{other}.json").read_bytes()


def test_cli_runs_one_section_into_a_new_folder_with_progress(tmp_path):
    r = cli("--quick", "--only", "05", "--jobs", "1", "--out", str(tmp_path / "t"))
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "index.html" in r.stdout
    assert re.search(r"\[ 1/1\] 5\.3 .* \d+\.\d s", r.stderr)
    assert (tmp_path / "t" / "sec_05_backprop-fig-5-7.png").stat().st_size > 1000
    assert "Traceback" not in r.stderr


def test_bad_jobs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="jobs"):
        build(tmp_path, quick=True, only="01", jobs=0)
    assert cli("--jobs", "0", "--out", str(tmp_path / "x")).returncode == 2


# -- the page -----------------------------------------------------------------------
def test_report_has_viewport_contents_back_links_and_resolving_anchors(quick_tour):
    index, pages = quick_tour
    text = index.read_text()
    assert '<meta name=\'viewport\' content=\'width=device-width, initial-scale=1\'>' in text
    p = parse(index)
    assert p.sections[:len(pages)] == [m.__name__.rsplit(".", 1)[1] for m in section_modules()]
    internal = [h for h in p.links if h.startswith("#")]
    assert internal and all(h[1:] in p.ids for h in internal)
    assert sum(h == "#contents" for h in p.links) >= len(pages)   # a way back from each section
    assert not [h for h in p.links if not h.startswith("#")]        # nothing outside the page
    assert "src=\"http" not in text and "href=\"http" not in text


def test_every_figure_has_a_file_an_alt_text_and_a_caption_naming_its_book_figure(quick_tour):
    index, pages = quick_tour
    p = parse(index)
    for img in p.images:
        assert (index.parent / img["src"]).stat().st_size > 1000
        alt = img.get("alt", "")
        assert len(alt.split()) >= 4 and alt.rstrip(".") not in img["src"], img
    assert len(p.captions) == len(p.images) == sum(len(pg.figures) for pg in pages.values())
    for cap in p.captions:
        assert re.search(r"Figure 5\.\d+|\bbook\b", cap, re.I), cap     # which figure, or none


def test_every_equation_is_typeset_as_mathml(quick_tour):
    index, pages = quick_tour
    p = parse(index)
    n_eq = sum(len(pg.equations) for pg in pages.values())
    assert n_eq >= 25 and p.eq_divs == n_eq
    assert p.maths >= n_eq                                  # plus the inline formulas
    text = index.read_text()
    assert "<merror" not in text
    for pg in pages.values():
        for latex, number in pg.equations:
            assert not re.search(r"[Σ∇²ᵀ⁻¹√·]", latex), (pg.slug, latex)   # LaTeX, not ASCII art


def test_mathml_keeps_the_source_and_refuses_unknown_commands():
    out = mathml(r"\delta_j = h'(a_j) \sum_k w_{kj} \delta_k", display=True)
    assert out.startswith("<math") and 'display="block"' in out
    assert "<msub>" in out and "application/x-tex" in out
    with pytest.raises(ValueError, match="not understood"):
        mathml(r"\nosuchcommand x")
    html = render_inline(r"price \$5 and $y_k$ here")
    assert html.startswith("price $5 and <math") and html.endswith("here")


def test_try_it_blocks_run_as_written_in_fresh_interpreters(quick_tour, tmp_path):
    blocks = [(slug, code) for slug, pg in quick_tour[1].items() for code in pg.try_its]
    assert {slug for slug, _ in blocks} == set(quick_tour[1])   # every section has one
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(PYTHONPATH=str(ROOT / "src"), MPLBACKEND="Agg", OMP_NUM_THREADS="1")

    def run(item):
        slug, code = item
        r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=300)
        return slug, r

    with ThreadPoolExecutor(max_workers=2) as pool:
        for slug, r in pool.map(run, blocks):
            assert r.returncode == 0, f"{slug}: {r.stderr[-2000:]}"


def test_a_failing_section_is_reported_and_the_others_are_kept(tmp_path, monkeypatch):
    from prmlnet.tour import sec_03_classification

    def broken(page):
        raise ZeroDivisionError("on purpose")

    monkeypatch.setattr(sec_03_classification, "run", broken)
    seen = []
    with pytest.raises(RuntimeError, match="sec_03_classification: ZeroDivisionError: on purpose"):
        build(tmp_path, quick=True, only="01,03", progress=seen.append)
    assert any("FAILED" in line for line in seen)
    sections = parse(tmp_path / "index.html").sections
    assert "sec_01_network_function" in sections and "sec_03_classification" not in sections
