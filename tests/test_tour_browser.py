"""The tour report in a real browser: headless Chromium through Selenium.

Every figure must load (naturalWidth > 0), every formula must be laid out as MathML,
every contents link must resolve and the console must stay free of errors. Skipped
cleanly where Chromium, chromedriver or Selenium is missing (`.ci/run` installs them).
"""

import shutil
import tempfile

import pytest

pytestmark = pytest.mark.browser

MATHML = "http://www.w3.org/1998/Math/MathML"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,900"]


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    binary = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                   if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip("no headless Chromium with chromedriver on this machine")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="prmlnet-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options), profile


@pytest.fixture(scope="module")
def page(quick_tour):
    browser, profile = _browser()
    try:
        browser.set_page_load_timeout(60)
        browser.get(quick_tour[0].resolve().as_uri())
        browser.execute_script("return document.readyState")
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_every_figure_loaded(page, quick_tour):
    images = page.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    n_figures = sum(len(p.figures) for p in quick_tour[1].values())
    assert len(images) == n_figures > 20
    assert [src for src, complete, width in images if not (complete and width > 0)] == []


def test_every_formula_is_laid_out_as_mathml(page, quick_tour):
    rows = page.execute_script("""
        return Array.from(document.querySelectorAll('div.eq')).map(d => {
            const m = d.querySelector('math');
            if (!m) return [null, 0, 0, ''];
            const r = m.getBoundingClientRect();
            return [m.namespaceURI, r.width, r.height, getComputedStyle(m).display];
        })""")
    n_eq = sum(len(p.equations) for p in quick_tour[1].values())
    assert len(rows) == n_eq > 20
    for ns, width, height, display in rows:
        assert ns == MATHML and width > 20 and height > 8
        assert "math" in display                     # MathML Core layout, not an unknown element
    inline = page.execute_script(
        "return Array.from(document.querySelectorAll('p math, figcaption math'))"
        ".map(m => m.getBoundingClientRect().width)")
    assert inline and min(inline) > 0


def test_every_contents_link_resolves(page):
    targets = page.execute_script("""
        return Array.from(document.querySelectorAll('a[href^="#"]')).map(a => {
            const t = document.getElementById(a.getAttribute('href').slice(1));
            return [a.getAttribute('href'), t !== null];
        })""")
    assert len(targets) > 20
    assert [href for href, ok in targets if not ok] == []


def test_the_console_shows_no_errors(page):
    errors = [e for e in page.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == []
