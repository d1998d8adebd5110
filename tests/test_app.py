"""The playground as an app: `nst-teach app` starts Voilà on loopback with nst_teach/playground_app.ipynb.

The page must come with the playground's widget and without code. The page is
fetched by a child process, so this test process's network guard (conftest)
stays in place; the child talks only to 127.0.0.1.
"""

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
FETCH = ("import sys, urllib.request; "
         "print(urllib.request.urlopen(sys.argv[1], timeout=300).read().decode())")


def free_port():
    with socket.socket() as probe:  # binding is local; the network guard allows it
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(folder):
    """`nst-teach app --fast` in `folder`, with Jupyter's own folders there: (process, its URL)."""
    port = free_port()
    own_dirs = {f"JUPYTER_{kind}_DIR": str(folder / kind.lower())
                for kind in ("CONFIG", "DATA", "RUNTIME")}
    env = {**os.environ, "NST_TEACH_OFFLINE": "1", "PYTHONPATH": str(ROOT), **own_dirs}
    server = subprocess.Popen(
        [sys.executable, "-m", "nst_teach", "app", "--fast", f"--port={port}"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    log, ready = [], threading.Event()

    def read_log():
        for line in server.stdout:
            log.append(line)
            if line.startswith(f"The playground app is at {url}"):
                ready.set()

    threading.Thread(target=read_log, daemon=True).start()
    if not ready.wait(120):
        stop(server)
        pytest.fail("nst-teach app did not start:\n" + "".join(log[-30:]))
    return server, url


def stop(server):
    server.terminate()  # nst-teach stops Voilà as it would on Ctrl-C
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture
def voila(tmp_path):
    """`nst-teach app --fast` on 127.0.0.1; yields its URL."""
    server, url = start_app(tmp_path)
    try:
        yield url
    finally:
        stop(server)


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
    server, _ = start_app(tmp_path)
    voila = psutil.Process(server.pid).children(recursive=True)
    assert any("voila" in " ".join(child.cmdline()) for child in voila)
    stop(server)
    assert server.returncode == 0
    _, alive = psutil.wait_procs(voila, timeout=30)
    assert not alive, f"left running: {[child.cmdline() for child in alive]}"


def test_the_app_without_voila_says_how_to_install_it(monkeypatch, capsys):
    from nst_teach import app, cli

    real = app.importlib.util.find_spec
    monkeypatch.setattr(app.importlib.util, "find_spec",
                        lambda name, *args: None if name == "voila" else real(name, *args))
    assert cli.main(["app", "--port", "1"]) == 2
    assert "pip install 'nst-teach[classroom]'" in capsys.readouterr().err
