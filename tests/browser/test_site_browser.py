"""The course site, built in fast mode (every notebook executed), opened in Chromium.

Every page: each picture loads (the browser decoded it), each notebook page
shows as many figures as its build made and as its committed full-size run
has (the same code draws the same figures at any size), and every link inside
the site leads to a page that has the linked heading. Saves a screenshot of
each notebook page into NST_TEACH_SCREENSHOTS, else pytest's tmp_path.
"""

import os
from pathlib import Path

import nbformat
import pytest

from tests.browser import test_playground_browser as lab
from tests.test_site import build

pytestmark = lab.pytestmark  # the same skips: without Chromium or Playwright


@pytest.fixture(scope="module")
def fast_site(tmp_path_factory):
    output = tmp_path_factory.mktemp("fast-site")
    return output, build.Site(output).build(fast=True)


def full_size_figures(name):
    return build.figure_count(nbformat.read(build.RUNS / f"{name}.ipynb", as_version=4))


def test_every_page_shows_its_figures_and_every_link_works(fast_site, tmp_path):
    from playwright.sync_api import sync_playwright

    output, manifest = fast_site
    shots = Path(os.environ.get("NST_TEACH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    pages = sorted(path.relative_to(output).as_posix() for path in output.rglob("*.html"))
    links = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(lab.CHROMIUM),
                                             args=lab.CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        try:
            for name in pages:
                page.goto((output / name).as_uri())
                page.wait_for_load_state("load")
                broken = page.eval_on_selector_all(
                    "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                           ".map(i => i.getAttribute('src'))")
                assert broken == [], f"{name}: pictures that did not load: {broken}"
                if name in manifest:
                    figures = page.locator("img.course-figure").count()
                    assert figures == manifest[name]["figures"] >= 1, name
                    assert figures == full_size_figures(name[:-5]), name
                    assert manifest[name]["stale_cells"] == []
                    page.screenshot(path=str(shots / f"site-{name[:-5]}.png"))
                for href in page.eval_on_selector_all(
                        "a[href]", "links => links.map(a => a.href)"):
                    if href.startswith("file:"):
                        links.add(href)
            assert len(links) > 30
            for href in sorted(links):
                url, _, anchor = href.partition("#")
                response = page.goto(url)
                assert response is None or response.ok, f"broken link {href}"
                assert page.title(), f"{href}: an empty page"
                if anchor:  # nbconvert's heading ids keep the percent-encoding of their links
                    assert page.evaluate("a => !!(document.getElementById(a) || "
                                         "document.getElementById(decodeURIComponent(a)))",
                                         anchor), f"no anchor: {href}"
        finally:
            browser.close()
