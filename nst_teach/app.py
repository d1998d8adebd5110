"""`nst-teach app`: notebook 07's playground as a page with only its controls and results.

Voilà (the `classroom` extra) serves `playground_app.ipynb`, shipped inside
this package, on 127.0.0.1: each browser tab that opens the page gets its own
kernel. See docs/teaching.md, "The playground on the projector".
"""

from __future__ import annotations

__all__ = ["APP_NOTEBOOK", "voila_command", "serve_app", "stop_group"]

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

APP_NOTEBOOK = Path(__file__).resolve().parent / "playground_app.ipynb"


def voila_command(port):
    """The Voilà command line that serves the app on 127.0.0.1:`port`. Used by `nst_teach.app`."""
    return [sys.executable, "-m", "voila", str(APP_NOTEBOOK), "--no-browser",
            "--Voila.ip=127.0.0.1", f"--port={port}", "--show_tracebacks=True"]


def serve_app(port=8866, fast=False, results="playground-results"):
    """Start Voilà, print the page's address once it answers, and wait until Ctrl-C.

    `fast` makes the app's runs small (NST_TEACH_FAST=1); the Save button
    writes into `results` (relative to the current folder). Returns the exit
    status. Used by the command line.
    """
    if importlib.util.find_spec("voila") is None:
        print("nst-teach: error: the app needs Voilà: pip install 'nst-teach[classroom]' "
              "(or pip install voila)", file=sys.stderr)
        return 2
    env = {**os.environ, "NST_TEACH_RESULTS": str(Path(results).resolve())}
    if fast:
        env["NST_TEACH_FAST"] = "1"
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(voila_command(port), env=env, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # its own group: its kernels stop with it
    try:
        for line in server.stderr:
            sys.stderr.write(line)
            if url in line:
                print(f"The playground app is at {url} (this machine only); Ctrl-C stops it.",
                      flush=True)
        return server.wait()
    except KeyboardInterrupt:
        stop_group(server)
        return 0


def stop_group(process, grace=10):
    """SIGTERM to a process's group, then SIGKILL if it still runs after `grace` seconds.

    Voilà sometimes takes longer than half a minute to act on SIGTERM.
    Used by `nst_teach.app`.
    """
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
