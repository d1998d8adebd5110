"""A class on one server, tried on this machine: the hub, three students, one notebook at once.

    python classroom/hub_trial.py [--students 3] [--memory 2G] [--full-size] [--json FILE]

Starts JupyterHub with classroom/jupyterhub_config.py on 127.0.0.1 (its own
state in a temporary folder; students' servers run as this user, in
/tmp-like homes, instead of as new Linux accounts), creates the students
through the hub's REST API, starts their servers, and has every student run
notebook 01's code cells up to its first stylisation, all at the same time.
It records, per student, the seconds to that first result and the memory of
their server and kernel (the largest sum of resident memory, sampled every
second). Then one student's kernel asks for more memory than the limit, and
must get a MemoryError while the others' kernels still answer. It prints a
JSON report and stops everything it started.

Fast mode (NST_TEACH_FAST=1: 48 px) unless --full-size (notebook 01 at its
own size, 256 px). Needs jupyterhub (the `classroom` extra) and
configurable-http-proxy (npm install -g configurable-http-proxy).
Used by tests/test_hub.py; the measurements in docs/teaching.md come from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SETUP_NOTEBOOK = "01_setup.ipynb"
FIRST_STYLISATION = "nst_teach.transfer("  # the set-up notebook's cell that makes the first result
SERVICE = "hub-trial"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def trial_config(folder, token, port, memory, fast):
    """A config file that loads the classroom's and changes only what a trial on loopback needs."""
    path = Path(folder) / "trial_config.py"
    path.write_text(f"""
import os
os.environ.update(NST_CLASS_PASSWORD="trial-password", NST_CLASS_STATE={str(folder)!r},
                  NST_CLASS_MEMORY={memory!r}, NST_CLASS_URL="http://127.0.0.1:{port}",
                  NST_CLASS_KERAS_HOME={str(Path(folder) / 'keras')!r},
                  NST_CLASS_FAST={'1' if fast else '0'!r})
load_subconfig({str(HERE / 'jupyterhub_config.py')!r})
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.JupyterHub.spawner_class = "simple"  # servers run as this user, homes under the trial's folder
c.SimpleLocalProcessSpawner.home_dir_template = {str(Path(folder) / 'homes' / '{username}')!r}
c.Spawner.ip = "127.0.0.1"
c.Spawner.args = [*c.Spawner.args, "--allow-root"] if os.getuid() == 0 else c.Spawner.args
c.Spawner.environment["PYTHONPATH"] = {str(ROOT)!r}
c.Spawner.environment["NST_HUB_TRIAL"] = "1"
c.JupyterHub.services = [{{"name": {SERVICE!r}, "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": {SERVICE!r}, "services": [{SERVICE!r}],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users"]}}]
""")
    return path


class Hub:
    """JupyterHub in a child process; `stop()` ends it and everything it started."""

    def __init__(self, folder, memory, fast):
        self.folder, self.token, self.port = Path(folder), secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = trial_config(folder, self.token, self.port, memory, fast)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        self.log = open(self.folder / "hub.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=folder, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops the servers and the proxy
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for process in students_processes().values():  # anything the hub left behind
            for each in process:
                each.kill()
        self.log.close()

    def own_memory(self):
        """Resident memory of the hub and its proxy (not the students' servers), in bytes."""
        students = {p.pid for each in students_processes().values() for p in each}
        hub = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [hub, *hub.children(recursive=True)]
                   if p.pid not in students)

    def tail(self, lines=40):
        return "".join((self.folder / "hub.log").read_text().splitlines(True)[-lines:])


def students_processes():
    """Processes of the trial's students, by user name (their environment says whose they are)."""
    found = {}
    for process in psutil.process_iter():
        try:
            env = process.environ()
        except (psutil.Error, OSError):
            continue
        if env.get("NST_HUB_TRIAL") == "1" and "JUPYTERHUB_USER" in env:
            found.setdefault(env["JUPYTERHUB_USER"], []).append(process)
    return found


class MemoryWatch(threading.Thread):
    """Samples each student's resident memory (server + kernels) every second; keeps the peak."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stopped = {}, threading.Event()

    def run(self):
        while not self.stopped.wait(1.0):
            for user, processes in students_processes().items():
                total = 0
                for process in processes:
                    try:
                        total += process.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak[user] = max(self.peak.get(user, 0), total)


async def request(client, hub, method, path, body=None, base="/hub/api"):
    from tornado.httpclient import HTTPRequest

    response = await client.fetch(HTTPRequest(
        f"{hub.url}{base}{path}", method=method,
        headers={"Authorization": f"token {hub.token}"},
        body=None if body is None else json.dumps(body), allow_nonstandard_methods=True,
        request_timeout=600))
    return json.loads(response.body) if response.body else None


async def wait_for_hub(client, hub, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            raise RuntimeError("JupyterHub ended:\n" + hub.tail())
        try:
            return await request(client, hub, "GET", "/")
        except (OSError, Exception):  # not listening yet
            await asyncio.sleep(1)
    raise TimeoutError(f"JupyterHub did not answer within {seconds} s:\n" + hub.tail())


async def start_server(client, hub, user, seconds=300):
    await request(client, hub, "POST", f"/users/{user}")
    started = time.monotonic()
    await request(client, hub, "POST", f"/users/{user}/server", body={})
    while time.monotonic() - started < seconds:
        model = await request(client, hub, "GET", f"/users/{user}")
        if model["servers"].get("", {}).get("ready"):
            return time.monotonic() - started
        await asyncio.sleep(1)
    raise TimeoutError(f"{user}'s server did not start within {seconds} s:\n" + hub.tail())


class Kernel:
    """A kernel in a student's server, driven over its websocket as JupyterLab does."""

    def __init__(self, hub, user):
        self.hub, self.user, self.session = hub, user, uuid.uuid4().hex

    async def start(self, client, notebook_path):
        session = await request(client, self.hub, "POST", "/sessions", base=f"/user/{self.user}/api",
                                body={"path": notebook_path, "type": "notebook",
                                      "kernel": {"name": "python3"}})
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = (f"ws://127.0.0.1:{self.hub.port}/user/{self.user}/api/kernels/"
               f"{session['kernel']['id']}/channels?session_id={self.session}")
        self.socket = await websocket_connect(HTTPRequest(
            url, headers={"Authorization": f"token {self.hub.token}"}), max_message_size=2**28)

    async def run(self, code, seconds=1800):
        """Run `code`; returns (status, error name or None, output kinds, seconds)."""
        msg_id = uuid.uuid4().hex
        await self.socket.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3",
                       "date": datetime.now(timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        started, kinds, error, status, idle = time.monotonic(), set(), None, None, False
        while status is None or not idle:  # the reply (shell) and idle (iopub) come in any order
            text = await asyncio.wait_for(self.socket.read_message(), seconds)
            if text is None:
                return "dead", "kernel connection closed", kinds, time.monotonic() - started
            message = json.loads(text)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if kind in ("display_data", "execute_result"):
                kinds.update(message["content"]["data"])
            elif kind == "error":
                error = message["content"]["ename"]
            elif kind == "execute_reply":
                status = message["content"]["status"]
            elif kind == "status":
                idle = message["content"]["execution_state"] == "idle"
        return status, error, kinds, time.monotonic() - started


def setup_cells():
    """Notebook 01's code cells, up to and including its first stylisation."""
    notebook = nbformat.read(ROOT / "notebooks" / SETUP_NOTEBOOK, as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cells.append(cell.source)
            if FIRST_STYLISATION in cell.source:
                return cells
    raise ValueError(f"{SETUP_NOTEBOOK} has no cell with {FIRST_STYLISATION!r}")


async def student_session(client, hub, user, start_line):
    """One student: open notebook 01 (their copy), run its cells to the first result."""
    kernel, path = Kernel(hub, user), f"nst-teach-course/{SETUP_NOTEBOOK}"
    await request(client, hub, "GET", f"/contents/{path}?content=0", base=f"/user/{user}/api")
    await start_line.wait()  # everyone starts together
    began = time.monotonic()
    await kernel.start(client, path)
    for code in setup_cells():
        status, error, kinds, _ = await kernel.run(code)
        if status != "ok":
            return kernel, {"error": error or status}
    return kernel, {"seconds_to_first_result": round(time.monotonic() - began, 1),
                    "result_shown": "image/png" in kinds}


async def trial(students, memory, fast):
    from tornado.httpclient import AsyncHTTPClient

    folder = Path(tempfile.mkdtemp(prefix="nst-hub-trial-"))
    (folder / "keras").mkdir()
    hub, watch = Hub(folder, memory, fast), MemoryWatch()
    client = AsyncHTTPClient()
    report = {"students": {}, "memory_limit": memory, "fast": fast, "cpus": os.cpu_count()}
    try:
        await wait_for_hub(client, hub)
        users = [f"student{n}" for n in range(1, students + 1)]
        starts = await asyncio.gather(*(start_server(client, hub, user) for user in users))
        watch.start()
        await asyncio.sleep(2)
        idle = dict(watch.peak)
        start_line = asyncio.Event()
        sessions = [asyncio.create_task(student_session(client, hub, user, start_line))
                    for user in users]
        start_line.set()
        results = await asyncio.gather(*sessions)
        await asyncio.sleep(1)
        for user, start, (_, result) in zip(users, starts, results):
            report["students"][user] = {**result, "server_start_seconds": round(start, 1),
                                        "memory_idle_mb": round(idle.get(user, 0) / 2**20),
                                        "memory_peak_mb": round(watch.peak.get(user, 0) / 2**20)}
        if all("error" not in result for _, result in results):
            report["memory_limit_test"] = await over_the_limit([k for k, _ in results])
        report["hub_and_proxy_mb"] = round(hub.own_memory() / 2**20)
        report["load_average"] = round(os.getloadavg()[0], 1)
    finally:
        watch.stopped.set()
        hub.stop()
        client.close()
        report["left_running"] = sum(len(p) for p in students_processes().values())
        shutil.rmtree(folder, ignore_errors=True)
    return report


async def over_the_limit(kernels):
    """The first student's kernel asks for its whole memory limit at once; the others carry on."""
    greedy, *others = kernels
    small = await greedy.run("block = bytearray(100 * 2**20); del block")
    big = await greedy.run("import resource; block = bytearray(resource.getrlimit(resource.RLIMIT_DATA)[0])")
    after = await greedy.run("1 + 1")
    fine = [(await kernel.run("1 + 1"))[0] for kernel in others]
    return {"100_mb": small[0], "over_limit": big[1] or big[0], "greedy_kernel_after": after[0],
            "other_kernels": fine}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--memory", default="2G", help="each server's and kernel's limit (default 2G)")
    parser.add_argument("--full-size", action="store_true", help="notebook 01 at its own size")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    for tool in ("configurable-http-proxy", "prlimit"):
        if shutil.which(tool) is None:
            sys.exit(f"hub_trial.py: {tool} is not installed (see docs/teaching.md)")
    report = asyncio.run(trial(args.students, args.memory, fast=not args.full_size))
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
