"""Starting a local server for a test and waiting until it says it is ready.

Shared by the Voilà app test (tests/test_app.py) and the JupyterLab browser
test (tests/browser/test_playground_browser.py).
"""

import contextlib
import socket
import subprocess
import threading
import time

import pytest


def free_port():
    """A free TCP port on 127.0.0.1 (binding is local; the tests' network guard allows it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(command, ready_text, *, env, cwd=None, timeout=120, name="the server"):
    """Run `command` until the block ends; enter once its output shows `ready_text`.

    Fails the test with the server's last log lines if it exits or is not
    ready within `timeout` seconds; terminates it (kills it if need be) at the end.
    """
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    log, ready = [], threading.Event()

    def read_log():
        for line in server.stdout:
            log.append(line)
            if ready_text in line:
                ready.set()

    threading.Thread(target=read_log, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not ready.wait(0.5):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{name} did not start:\n" + "".join(log[-30:]))
        yield server
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
