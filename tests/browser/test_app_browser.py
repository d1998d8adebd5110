"""The playground app (`nst-teach app`: Voilà, nst_teach/playground_app.ipynb) in a real browser.

Chromium via Playwright: pick a style, upload a content photo, Run, see the
image and the loss plot change, Stop; and no code on the page. Saves a
screenshot into NST_TEACH_SCREENSHOTS, else pytest's tmp_path.
"""

import os
from pathlib import Path

import numpy as np
from PIL import Image

from nst_teach import data
from tests.browser import test_playground_browser as lab
from tests.test_app import voila  # noqa: F401 (the fixture)

pytestmark = lab.pytestmark  # the same skips: without Chromium or Playwright


def test_the_app_picks_uploads_runs_updates_and_stops(voila, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("NST_TEACH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    photo = tmp_path / "my_photo.png"
    Image.fromarray(data.example("chelsea")[::4, ::4].astype(np.uint8)).save(photo)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile", executable_path=str(lab.CHROMIUM), headless=True,
            args=lab.CHROMIUM_FLAGS, viewport={"width": 1300, "height": 1300})
        page = browser.new_page()
        try:
            page.goto(voila, timeout=300_000)
            run = page.locator("button.widget-button", has_text="Run")
            run.wait_for(timeout=300_000)
            assert page.get_by_text("import nst_teach").count() == 0  # no code on the page
            assert page.locator(".jp-CodeCell .jp-InputArea").count() == 0

            page.get_by_label("style", exact=True).select_option(data.STYLES[1])
            with page.expect_file_chooser() as chooser:
                page.locator("button.widget-upload", has_text="content file").click()
            chooser.value.set_files(photo)
            content = page.get_by_label("content", exact=True)
            content.locator("option", has_text="my_photo.png").wait_for(state="attached")
            assert "my_photo.png" in content.input_value()
            lab.set_slider(page, "iterations", 50)
            before = lab.image_sources(page)
            run.click()
            first = lab.wait_for_change(page, before)
            lab.wait_for_change(page, first)  # live: it changes again while running
            page.locator("button.widget-button", has_text="Stop").click()
            page.locator(".widget-html-content", has_text="stopped after").wait_for(timeout=60_000)
            page.get_by_text("run 1", exact=False).first.wait_for()
            page.get_by_text(f"upload: my_photo.png × {data.STYLES[1]}").wait_for()  # what ran
            page.screenshot(path=str(shots / "playground-app.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(shots / "app-failure.png"))
            raise
        finally:
            browser.close()
