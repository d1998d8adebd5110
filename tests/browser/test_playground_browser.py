"""The playground notebook in a real browser: JupyterLab on loopback, Chromium via Playwright.

Runs notebook 07, clicks the widget's Run, waits until the image and the loss
plot appear and change, clicks Stop, and saves a screenshot (into the
directory named by NST_TEACH_SCREENSHOTS, else pytest's tmp_path).
Install what it needs with tests/browser/install.sh.
"""

import importlib.util
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.servers import free_port, serving

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "07_playground.ipynb"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs /usr/bin/chromium: run tests/browser/install.sh"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="needs the playwright package: run tests/browser/install.sh"),
]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on loopback serving a copy of notebook 07 in fast mode."""
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    no_news = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    no_news.mkdir(parents=True)
    (no_news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "NST_TEACH_FAST": "1", "NST_TEACH_OFFLINE": "1",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--allow-root", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={tmp_path}"]
    with serving(command, f"127.0.0.1:{port}/lab", env=env, timeout=90, name="JupyterLab"):
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}"


def accept_kernel_dialog(page):
    """Accept the notebook's own kernel if JupyterLab asks which kernel to start."""
    from playwright.sync_api import TimeoutError

    try:
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=20_000)
    except TimeoutError:
        pass  # no dialog: the kernel started by itself


def image_sources(page):
    """The `src` of the playground's current image and of its loss plot."""
    return tuple(page.locator(f"img.{name}").first.get_attribute("src")
                 for name in ("nst-result", "nst-loss-plot"))


def wait_for_change(page, before, timeout=120):
    """Wait until both the image and the plot show something other than `before`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = image_sources(page)
        if all(src and src != old for src, old in zip(now, before)):
            return now
        page.wait_for_timeout(250)
    pytest.fail(f"image and plot did not both change within {timeout} s: {before} -> {now}")


def open_and_run_all(page, url):
    page.goto(url)
    page.locator(".jp-NotebookPanel").wait_for(timeout=90_000)
    accept_kernel_dialog(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def set_slider(page, description, value):
    """Type `value` into the editable readout of the slider labelled `description`."""
    page.locator(".widget-slider", has_text=description).locator(".widget-readout").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def check_playground(page, shots):
    # The notebook's last cell makes one scripted run: wait for its card.
    page.get_by_text("run 1", exact=False).first.wait_for(timeout=180_000)
    page.locator(".widget-html-content", has_text="done after").first.wait_for()
    before = image_sources(page)
    assert all(before), "the scripted run should have shown an image and a plot"

    set_slider(page, "iterations", 50)
    page.locator("button.widget-button", has_text="Run").click()
    first = wait_for_change(page, before)
    wait_for_change(page, first)  # and again: the updates are live, not only at the end
    page.locator("button.widget-button", has_text="Stop").click()
    status = page.locator(".widget-html-content", has_text="stopped after")
    status.wait_for(timeout=60_000)
    stopped_after = int(status.inner_text().split("stopped after")[1].split()[0])
    assert 0 <= stopped_after < 50  # live updates come within an iteration: 0 is possible
    page.get_by_text("run 2", exact=False).first.wait_for()
    widget = page.locator(".jp-OutputArea-output", has=page.locator("button.widget-button"))
    widget.first.screenshot(path=str(shots / "playground.png"))
    # The beyond-the-book controls open from their accordion.
    page.get_by_text("Beyond the book", exact=False).first.click()
    page.get_by_text("keep colour", exact=True).first.wait_for()
    page.get_by_text("Apply to content", exact=False).first.wait_for()
    widget.first.screenshot(path=str(shots / "playground-beyond.png"))


def test_playground_runs_updates_live_and_stops(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("NST_TEACH_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",  # a fresh profile: no state from earlier runs
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1800},
        )
        page = browser.new_page()
        try:
            open_and_run_all(page, jupyterlab)
            check_playground(page, shots)
        except Exception:
            page.screenshot(path=str(shots / "failure.png"))
            raise
        finally:
            browser.close()
