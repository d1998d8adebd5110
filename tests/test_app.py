"""The playground as an app: `nst-teach app` starts Voilà on loopback with nst_teach/playground_app.ipynb.

The page must come with the playground's widget and without code. The page is
fetched by a child process, so this test process's network guard (conftest)
stays in place; the child talks only to 127.0.0.1.
"""

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.servers import free_port, serving

ROOT = Path(__file__).resolve().parents[1]
FETCH = ("import sys, urllib.request; "
         "print(urllib.request.urlopen(sys.argv[1], timeout=300).read().decode())")


def app(folder):
    """`nst-teach app --fast` in `folder`, Jupyter's own folders there: a context giving (process, URL)."""
    port = free_port()
    own_dirs = {f"JUPYTER_{kind}_DIR": str(folder / kind.lower())
                for kind in ("CONFIG", "DATA", "RUNTIME")}
    env = {**os.environ, "NST_TEACH_OFFLINE": "1", "PYTHONPATH": str(ROOT), **own_dirs}
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "nst_teach", "app", "--fast", f"--port={port}"]
    return url, serving(command, f"The playground app is at {url}", env=env, cwd=folder,
                        name="nst-teach app")


@pytest.fixture
def voila(tmp_path):
    """`nst-teach app --fast` on 127.0.0.1; yields its URL."""
    url, server = app(tmp_path)
    with server:
        yield url


@pytest.mark.slow
def test_voila_serves_the_playground_without_code(voila):
    page = subprocess.run([sys.executable, "-c", FETCH, voila], capture_output=True, text=True,
                          timeout=360, check=True).stdout
    assert "Neural style transfer: the playground" in page
    assert page.count("application/vnd.jupyter.widget-view+json") == 1  # the playground
    assert "Playground(" not in page and "import nst_teach" not in page  # no code shown
    assert "There was an error" not in page and '"output_type": "error"' not in page


@pytest.mark.slow
def test_stopping_the_app_stops_voila(tmp_path):
    _, serving_app = app(tmp_path)
    with serving_app as server:
        voila = psutil.Process(server.pid).children(recursive=True)
        assert any("voila" in " ".join(child.cmdline()) for child in voila)
        server.terminate()  # nst-teach stops Voilà as it would on Ctrl-C
        assert server.wait(30) == 0
    _, alive = psutil.wait_procs(voila, timeout=30)
    assert not alive, f"left running: {[child.cmdline() for child in alive]}"


def test_the_app_without_voila_says_how_to_install_it(monkeypatch, capsys):
    from nst_teach import app, cli

    real = app.importlib.util.find_spec
    monkeypatch.setattr(app.importlib.util, "find_spec",
                        lambda name, *args: None if name == "voila" else real(name, *args))
    assert cli.main(["app", "--port", "1"]) == 2
    assert "pip install 'nst-teach[classroom]'" in capsys.readouterr().err
