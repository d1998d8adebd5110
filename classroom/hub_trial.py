"""A class on one server, tried on this machine: the hub, three students, one notebook at once.

    python classroom/hub_trial.py [--students 3] [--memory 2G] [--full-size] [--accounts] [--json FILE]

Starts JupyterHub with classroom/jupyterhub_config.py on 127.0.0.1 (its own
state in a temporary folder), creates the students through the hub's REST
API, starts their servers, and has every student run notebook 01's code
cells up to its first stylisation, all at the same time. It records, per
student, the seconds to that first result and the memory of their server
and kernel (the largest sum of resident memory, sampled every second).
Then the two memory layers are tried on the first student: a kernel that
asks for more than the limit must get a MemoryError (prlimit), and of two
kernels that are each under the limit but together over it, the hub must
end the larger (memory_cap.py), which Jupyter restarts empty; the smaller
one and the others' kernels must still answer. It prints a JSON report and
stops everything it started.

Students' servers run as this user, in homes under the trial's folder
(JupyterHub's SimpleLocalProcessSpawner), unless --accounts: then the hub
uses the config's own spawner, as root, and makes a Linux account per
student (nst-trial1, ...); the trial checks that each student's processes
run as that account and that no student can open another's home, and it
deletes the accounts (userdel -r) and the group nst-class, if it made it,
at the end. --accounts needs root, and a Python and a repository that every
account can read.

Fast mode (NST_TEACH_FAST=1: 48 px) unless --full-size (notebook 01 at its
own size, 256 px). Needs jupyterhub (the `classroom` extra) and
configurable-http-proxy (npm install -g configurable-http-proxy).
Used by tests/test_hub.py; the measurements in docs/teaching.md come from it.
"""

from __future__ import annotations

import argparse
import asyncio
import grp
import json
import os
import pwd
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import psutil
from memory_cap import resident  # beside this file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COURSE_FOLDER = "nst-teach-course"
SETUP_NOTEBOOK = "01_setup.ipynb"
SMALLER_NOTEBOOK, LARGER_NOTEBOOK = "02_images_and_vgg.ipynb", "03_content_loss.ipynb"  # over_the_total
FIRST_STYLISATION = "nst_teach.transfer("  # the set-up notebook's cell that makes the first result
SERVICE = "hub-trial"
ACCOUNTS_PREFIX = "nst-trial"  # --accounts: names unlikely to exist already
STUDENTS_GROUP = "nst-class"  # as in jupyterhub_config.py


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def trial_config(folder, keras, token, port, memory, fast, accounts):
    """A config file that loads the classroom's and changes only what a trial on loopback needs."""
    path = Path(folder) / "trial_config.py"
    as_this_user = f"""
from memory_cap import MemoryCappedSimpleSpawner
c.JupyterHub.spawner_class = MemoryCappedSimpleSpawner  # servers as this user, homes in the trial's folder
c.SimpleLocalProcessSpawner.home_dir_template = {str(Path(folder) / 'homes' / '{username}')!r}
c.Spawner.args = [*c.Spawner.args, "--allow-root"] if os.getuid() == 0 else c.Spawner.args
"""
    path.write_text(f"""
import os
os.environ.update(NST_CLASS_PASSWORD="trial-password", NST_CLASS_STATE={str(folder)!r},
                  NST_CLASS_MEMORY={memory!r}, NST_CLASS_URL="http://127.0.0.1:{port}",
                  NST_CLASS_KERAS_HOME={str(keras)!r}, NST_CLASS_FAST={'1' if fast else '0'!r})
load_subconfig({str(HERE / 'jupyterhub_config.py')!r})
{'' if accounts else as_this_user}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.Spawner.ip = "127.0.0.1"
c.Spawner.environment["PYTHONPATH"] = {str(ROOT)!r}
c.Spawner.environment["NST_HUB_TRIAL"] = "1"
c.JupyterHub.services = [{{"name": {SERVICE!r}, "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": {SERVICE!r}, "services": [{SERVICE!r}],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users"]}}]
""")
    return path


class Hub:
    """JupyterHub in a child process; `stop()` ends it and everything it started."""

    def __init__(self, folder, keras, memory, fast, accounts):
        self.folder, self.token, self.port = Path(folder), secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = trial_config(folder, keras, self.token, self.port, memory, fast, accounts)
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
        return "".join(self.log_lines()[-lines:])

    def log_lines(self):
        return (self.folder / "hub.log").read_text().splitlines(True)


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
                self.peak[user] = max(self.peak.get(user, 0), resident(processes))


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


@dataclass
class Reply:
    """What running one cell gave: status 'ok', 'error', or 'restarting'/'dead' if the kernel ended."""

    status: str | None = None
    error: str | None = None
    kinds: set = field(default_factory=set)  # the MIME types of its displays
    stdout: str = ""


def kernel_ended(message):
    """'restarting' or 'dead' when Jupyter says a kernel died (such messages answer no request)."""
    state = message["content"].get("execution_state") if message["header"]["msg_type"] == "status" else None
    return state if state in ("restarting", "dead") else None


class Kernel:
    """A kernel in a student's server, driven over its websocket as JupyterLab does."""

    def __init__(self, hub, user):
        self.hub, self.user, self.session = hub, user, uuid.uuid4().hex

    async def start(self, client, notebook_path):
        session = await request(client, self.hub, "POST", "/sessions", base=f"/user/{self.user}/api",
                                body={"path": notebook_path, "type": "notebook",
                                      "kernel": {"name": "python3"}})
        self.id = session["kernel"]["id"]
        await self.connect()

    async def connect(self):
        """Open the kernel's channels; again after a restart, as JupyterLab does."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = (f"ws://127.0.0.1:{self.hub.port}/user/{self.user}/api/kernels/"
               f"{self.id}/channels?session_id={self.session}")
        self.socket = await websocket_connect(HTTPRequest(
            url, headers={"Authorization": f"token {self.hub.token}"}), max_message_size=2**28)

    async def shut_down(self, client):
        await request(client, self.hub, "DELETE", f"/kernels/{self.id}", base=f"/user/{self.user}/api")

    async def message(self, seconds):
        """The next message from the kernel's channels; None when the connection closed."""
        text = await asyncio.wait_for(self.socket.read_message(), seconds)
        return None if text is None else json.loads(text)

    async def send(self, msg_type, content):
        """Send a request on the shell channel; its message id."""
        msg_id = uuid.uuid4().hex
        await self.socket.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": msg_type, "version": "5.3",
                       "date": datetime.now(timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": content}))
        return msg_id

    async def run(self, code, seconds=1800):
        """Run `code` as a notebook cell: its Reply."""
        msg_id = await self.send("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        reply, idle = Reply(), False
        while reply.status is None or not idle:  # the reply (shell) and idle (iopub) come in any order
            message = await self.message(seconds)
            if message is None:
                return Reply("dead", "kernel connection closed")
            if ended := kernel_ended(message):
                return Reply(ended)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["header"]["msg_type"], message["content"]
            if kind in ("display_data", "execute_result"):
                reply.kinds.update(content["data"])
            elif kind == "stream" and content["name"] == "stdout":
                reply.stdout += content["text"]
            elif kind == "error":
                reply.error = content["ename"]
            elif kind == "execute_reply":
                reply.status = content["status"]
            elif kind == "status":
                idle = content["execution_state"] == "idle"
        return reply

    async def reconnected(self, seconds):
        """True once a restarted kernel answers on both its shell and iopub channels; False after `seconds`.

        After a restart the old connection no longer carries the kernel's
        messages; a connection opened while it restarts can stay on its old
        ports; and a shell reply does not prove that iopub, where a cell's
        'idle' comes, is subscribed yet. So open a fresh connection, ask for
        the kernel's info and wait for its reply and its iopub status, on a
        new connection every 5 seconds until both come.
        """
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.socket.close()
            await self.connect()
            msg_id, channels = await self.send("kernel_info_request", {}), set()

            def answered(message):
                if message.get("parent_header", {}).get("msg_id") == msg_id:
                    channels.add(message.get("channel"))
                return {"shell", "iopub"} <= channels

            outcome, _ = await self.first(min(time.monotonic() + 5.0, deadline), answered)
            if outcome == "found":
                return True
        return False

    async def wait_until_ended(self, seconds):
        """'restarting' (or 'dead') once Jupyter says this kernel died; 'running' after `seconds`."""
        outcome, message = await self.first(time.monotonic() + seconds, kernel_ended)
        if outcome == "found":
            return kernel_ended(message)
        return "dead" if outcome == "closed" else "running"

    async def first(self, until, wanted):
        """("found", message) for the first message before `until` (monotonic) that is `wanted`;
        ("closed", None) if the connection closed first, ("timeout", None) if time ran out."""
        while (left := until - time.monotonic()) > 0:
            try:
                message = await self.message(left)
            except asyncio.TimeoutError:
                break
            if message is None:
                return "closed", None
            if wanted(message):
                return "found", message
        return "timeout", None


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
    kernel, path = Kernel(hub, user), f"{COURSE_FOLDER}/{SETUP_NOTEBOOK}"
    await request(client, hub, "GET", f"/contents/{path}?content=0", base=f"/user/{user}/api")
    await start_line.wait()  # everyone starts together
    began = time.monotonic()
    await kernel.start(client, path)
    for code in setup_cells():
        reply = await kernel.run(code)
        if reply.status != "ok":
            return kernel, {"error": reply.error or reply.status}
    return kernel, {"seconds_to_first_result": round(time.monotonic() - began, 1),
                    "result_shown": "image/png" in reply.kinds}


def student_names(students, accounts):
    return [f"{ACCOUNTS_PREFIX if accounts else 'student'}{n}" for n in range(1, students + 1)]


async def trial(students, memory, fast, accounts=False):
    from jupyterhub.traitlets import ByteSpecification
    from tornado.httpclient import AsyncHTTPClient

    users = student_names(students, accounts)
    folder = Path(tempfile.mkdtemp(prefix="nst-hub-trial-"))  # the hub's state: root's only
    keras = Path(tempfile.mkdtemp(prefix="nst-hub-keras-"))
    keras.chmod(0o755)  # read by every student, in their own accounts too
    group_was_there = exists(grp.getgrnam, STUDENTS_GROUP)
    hub, watch = Hub(folder, keras, memory, fast, accounts), MemoryWatch()
    client = AsyncHTTPClient()
    report = {"students": {}, "memory_limit": memory, "fast": fast, "own_accounts": accounts,
              "cpus": os.cpu_count()}
    try:
        await wait_for_hub(client, hub)
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
            kernels = [kernel for kernel, _ in results]
            if accounts:
                report["linux_accounts"] = await account_checks(kernels, users)
            report["memory_limit_test"] = await over_the_limit(kernels)
            report["memory_total_test"] = await over_the_total(
                client, hub, kernels, ByteSpecification().validate(None, memory))
        report["hub_and_proxy_mb"] = round(hub.own_memory() / 2**20)
        report["load_average"] = round(os.getloadavg()[0], 1)
    finally:
        watch.stopped.set()
        hub.stop()
        client.close()
        report["left_running"] = sum(len(p) for p in students_processes().values())
        if accounts:
            report["accounts_removed"] = remove_accounts(users, group_was_there)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(keras, ignore_errors=True)
    return report


async def over_the_limit(kernels):
    """Per process: the first student's kernel asks for its whole limit at once; the others carry on."""
    greedy, *others = kernels
    small = await greedy.run("block = bytearray(100 * 2**20); del block")
    big = await greedy.run("import resource; block = bytearray(resource.getrlimit(resource.RLIMIT_DATA)[0])")
    after = await greedy.run("1 + 1")
    fine = [(await kernel.run("1 + 1")).status for kernel in others]
    return {"100_mb": small.status, "over_limit": big.error or big.status,
            "greedy_kernel_after": after.status, "other_kernels": fine}


async def over_the_total(client, hub, kernels, limit):
    """Per student: two kernels of the first student, each under the limit, together over it.

    Its notebook 01 kernel shut down, the student opens notebook 02 and fills
    0.3 of the limit, then notebook 03 and fills 0.75: the hub must end the
    larger kernel (Jupyter restarts it empty) and leave the smaller one and
    the other students' kernels alone. (While the larger one fills, it passes
    the smaller before the total passes the limit, whenever the poll comes.)
    """
    first, *others = kernels
    await first.shut_down(client)
    smaller, larger = Kernel(hub, first.user), Kernel(hub, first.user)
    await smaller.start(client, f"{COURSE_FOLDER}/{SMALLER_NOTEBOOK}")
    await larger.start(client, f"{COURSE_FOLDER}/{LARGER_NOTEBOOK}")
    small_bytes, large_bytes = limit * 3 // 10, limit * 3 // 4
    kept = await smaller.run(f"kept = b'x' * {small_bytes}")
    began = time.monotonic()
    filled = await larger.run(f"block = b'x' * {large_bytes}")
    ended = filled.status if filled.status != "ok" else await larger.wait_until_ended(120)
    return {"kernels_mb": [small_bytes // 2**20, large_bytes // 2**20],
            "smaller_kernel": kept.status, "larger_kernel": ended,
            "seconds_to_end": round(time.monotonic() - began, 1),
            "larger_kernel_back": await larger.reconnected(120),
            "larger_kernel_after": (await larger.run("assert 'block' not in dir()", 120)).status,
            "smaller_kernel_after": (await smaller.run(f"assert len(kept) == {small_bytes}", 120)).status,
            "other_kernels": [(await kernel.run("1 + 1", 120)).status for kernel in others],
            "hub_log": [line.strip() for line in hub.log_lines() if "Memory cap" in line]}


ACCOUNT_CHECK = """
import json, os, pwd
def opens(home):
    try:
        os.listdir(home)
        return True
    except PermissionError:
        return False
print(json.dumps({{"user": pwd.getpwuid(os.getuid()).pw_name, "opens": [opens(h) for h in {homes!r}]}}))
"""


async def account_checks(kernels, users):
    """Per student: whom their processes run as, their home's mode, whether they open others' homes."""
    processes, checks = students_processes(), {}
    for kernel in kernels:
        home = Path(pwd.getpwnam(kernel.user).pw_dir)
        others = [pwd.getpwnam(user).pw_dir for user in users if user != kernel.user]
        seen = json.loads((await kernel.run(ACCOUNT_CHECK.format(homes=others))).stdout)
        checks[kernel.user] = {
            "uid": pwd.getpwnam(kernel.user).pw_uid, "kernel_runs_as": seen["user"],
            "processes_run_as": sorted({process.username() for process in processes[kernel.user]}),
            "home_mode": oct(home.stat().st_mode & 0o777),
            "course_owner": pwd.getpwuid((home / COURSE_FOLDER / SETUP_NOTEBOOK).stat().st_uid).pw_name,
            "opens_others_homes": seen["opens"]}
    return checks


def exists(lookup, name):
    try:
        lookup(name)
        return True
    except KeyError:
        return False


def accounts_problem(users):
    """Why --accounts cannot run here (None if it can)."""
    if os.geteuid() != 0:
        return "it makes Linux accounts: run it as root"
    if taken := [user for user in users if exists(pwd.getpwnam, user)]:
        return f"the accounts {taken} exist already: the trial makes and deletes its own"
    probe = subprocess.run(  # can an account other than root run the students' Python and package?
        ["runuser", "-u", "nobody", "--", "env", f"PYTHONPATH={ROOT}", sys.executable, "-c",
         "import jupyterhub.singleuser, importlib.util as u; assert u.find_spec('nst_teach')"],
        capture_output=True, text=True)
    if probe.returncode:
        why = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return (f"another account cannot run {sys.executable} with {ROOT} ({why}): "
                "use a Python environment and a "
                "clone that every account can read, as docs/teaching.md sets one up in /srv/nst-teach")
    return None


def remove_accounts(users, group_was_there):
    """userdel -r the trial's accounts (and groupdel nst-class if the trial made it); True if all gone."""
    homes = [Path(pwd.getpwnam(user).pw_dir) for user in users if exists(pwd.getpwnam, user)]
    for process in psutil.process_iter(["username"]):  # userdel refuses while they run anything
        if process.info["username"] in users:
            process.kill()
    for user in users:
        if exists(pwd.getpwnam, user):
            subprocess.run(["userdel", "--remove", user], capture_output=True)
    if not group_was_there and exists(grp.getgrnam, STUDENTS_GROUP):
        subprocess.run(["groupdel", STUDENTS_GROUP], capture_output=True)
    return (not any(exists(pwd.getpwnam, user) for user in users)
            and not any(home.exists() for home in homes)
            and exists(grp.getgrnam, STUDENTS_GROUP) == group_was_there)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--memory", default="2G", help="each student's memory limit (default 2G)")
    parser.add_argument("--full-size", action="store_true", help="notebook 01 at its own size")
    parser.add_argument("--accounts", action="store_true",
                        help="a Linux account per student, as on a real server (root; deleted at the end)")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    for tool in ("configurable-http-proxy", "prlimit"):
        if shutil.which(tool) is None:
            sys.exit(f"hub_trial.py: {tool} is not installed (see docs/teaching.md)")
    if args.accounts and (problem := accounts_problem(student_names(args.students, True))):
        sys.exit(f"hub_trial.py --accounts: {problem}")
    report = asyncio.run(trial(args.students, args.memory, not args.full_size, args.accounts))
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
