"""The playground as an app: Voilà serves classroom/playground_app.ipynb on loopback.

The page must come with the playground's widget and without code. The page is
fetched by a child process, so this test process's network guard (conftest)
stays in place; the child talks only to 127.0.0.1.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port, serving

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "classroom" / "playground_app.ipynb"
FETCH = ("import sys, urllib.request; "
         "print(urllib.request.urlopen(sys.argv[1], timeout=300).read().decode())")


@pytest.fixture
def voila(tmp_path):
    """`voila playground_app.ipynb` on 127.0.0.1 in fast mode; yields its URL."""
    shutil.copy(APP, tmp_path / APP.name)
    port = free_port()
    own_dirs = {f"JUPYTER_{kind}_DIR": str(tmp_path / kind.lower())
                for kind in ("CONFIG", "DATA", "RUNTIME")}
    env = {**os.environ, "NST_TEACH_FAST": "1", "NST_TEACH_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           **own_dirs}
    url = f"http://127.0.0.1:{port}/"
    with serving([sys.executable, "-m", "voila", APP.name, "--no-browser",
                  "--Voila.ip=127.0.0.1", f"--port={port}"], url, env=env, cwd=tmp_path,
                 name="Voilà"):
        yield url


@pytest.mark.slow
def test_voila_serves_the_playground_without_code(voila):
    page = subprocess.run([sys.executable, "-c", FETCH, voila], capture_output=True, text=True,
                          timeout=360, check=True).stdout
    assert "Neural style transfer: the playground" in page
    assert page.count("application/vnd.jupyter.widget-view+json") == 1  # the playground
    assert "Playground(" not in page and "import nst_teach" not in page  # no code shown
    assert "There was an error" not in page and '"output_type": "error"' not in page
