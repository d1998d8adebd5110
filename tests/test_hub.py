"""A class on one server: classroom/jupyterhub_config.py on loopback with three students.

classroom/hub_trial.py starts the hub, creates three students through its
REST API, starts their servers, and has all three run notebook 01 up to its
first stylisation at once (fast mode), then tries both memory layers on one
student: a kernel that asks for more than the limit (MemoryError), and a
second kernel that takes the student's total over it (the hub ends it). It
runs in a child process, so this process's network guard stays in place;
everything talks to 127.0.0.1 only. With NST_HUB_ACCOUNTS=1, as root, it
also runs with a Linux account per student, which it deletes afterwards.
"""

import grp
import importlib.util
import json
import logging
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def hub_trial(tmp_path, *options):
    """classroom/hub_trial.py with three students in fast mode and a 2 GB limit: its JSON report."""
    report_file = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NST_TEACH_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "classroom" / "hub_trial.py"), "--students", "3",
         "--memory", "2G", "--json", str(report_file), *options],
        env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return json.loads(report_file.read_text())


def check_the_class(report, users):
    """All students saw their first result within their memory; both memory layers held."""
    assert sorted(report["students"]) == users
    for user, student in report["students"].items():
        assert "error" not in student, (user, student)
        assert student["result_shown"], user  # the result's figure reached the student's page
        assert 0 < student["memory_idle_mb"] < student["memory_peak_mb"] < 2048, (user, student)
    limit = report["memory_limit_test"]
    assert limit["100_mb"] == "ok"  # under the per-process limit: fine
    assert limit["over_limit"] == "MemoryError"  # over it: refused, in that kernel only
    assert limit["greedy_kernel_after"] == "ok" and limit["other_kernels"] == ["ok", "ok"]
    total = report["memory_total_test"]  # two kernels of 0.6 and 1.5 GB, with the server over 2 GB
    assert total["smaller_kernel"] == "ok"
    assert total["larger_kernel"] == "restarting"  # the hub ended it and Jupyter restarted it
    assert total["larger_kernel_back"]  # the restarted kernel answers again ...
    assert total["larger_kernel_after"] == "ok"  # ... empty: its 1.5 GB are gone
    assert total["smaller_kernel_after"] == "ok"  # the smaller kernel kept its 0.6 GB
    assert total["other_kernels"] == ["ok", "ok"]
    [logged] = total["hub_log"]  # one kernel ended, and the hub says whose
    assert f"{users[0]}'s processes use" in logged
    assert report["left_running"] == 0


def with_the_hub(test):
    """A test that starts the hub: slow, and skipped without JupyterHub or its proxy."""
    marks = [pytest.mark.slow,
             pytest.mark.skipif(shutil.which("configurable-http-proxy") is None,
                                reason="needs configurable-http-proxy: run classroom/install_proxy.sh"),
             pytest.mark.skipif(importlib.util.find_spec("jupyterhub") is None,
                                reason="needs jupyterhub: pip install -e '.[classroom]'")]
    for mark in marks:
        test = mark(test)
    return test


@with_the_hub
def test_three_students_run_the_first_stylisation_at_once_within_their_memory(tmp_path):
    check_the_class(hub_trial(tmp_path), ["student1", "student2", "student3"])


@with_the_hub
@pytest.mark.skipif(os.environ.get("NST_HUB_ACCOUNTS") != "1" or os.geteuid() != 0,
                    reason="makes and deletes Linux accounts: only as root with NST_HUB_ACCOUNTS=1")
def test_three_students_in_their_own_linux_accounts(tmp_path):
    group_was_there = "nst-class" in {group.gr_name for group in grp.getgrall()}
    report = hub_trial(tmp_path, "--accounts")
    users = ["nst-trial1", "nst-trial2", "nst-trial3"]
    check_the_class(report, users)
    uids = set()
    for user, account in report["linux_accounts"].items():
        assert account["kernel_runs_as"] == user and account["processes_run_as"] == [user]
        assert account["home_mode"] == "0o700" and account["course_owner"] == user
        assert account["opens_others_homes"] == [False, False]
        uids.add(account["uid"])
    assert len(uids) == 3 and 0 not in uids
    assert report["accounts_removed"]
    assert not set(users) & {account.pw_name for account in pwd.getpwall()}  # seen here too
    assert ("nst-class" in {group.gr_name for group in grp.getgrall()}) == group_was_there


def load_config(tmp_path, monkeypatch):
    """classroom/jupyterhub_config.py as JupyterHub loads it, with its state in tmp_path."""
    import runpy

    from traitlets.config import Config

    monkeypatch.setenv("NST_CLASS_PASSWORD", "a class password")
    monkeypatch.setenv("NST_CLASS_STATE", str(tmp_path))
    config = Config()
    names = runpy.run_path(str(ROOT / "classroom" / "jupyterhub_config.py"),
                           init_globals={"get_config": lambda: config})
    return config, names


class Spawner:  # what the hook reads of JupyterHub's LocalProcessSpawner
    def __init__(self, name):
        self.user = type("User", (), {"name": name})()


@pytest.mark.parametrize("name", ["root", "daemon", "nobody"])
def test_the_class_password_never_opens_an_account_the_hub_did_not_make(name, tmp_path,
                                                                        monkeypatch):
    pytest.importorskip("jupyterhub")
    _, names = load_config(tmp_path, monkeypatch)
    made = []
    monkeypatch.setattr(names["subprocess"], "run", lambda *a, **k: made.append(a))
    with pytest.raises(PermissionError, match="choose another name"):
        names["prepare_student"](Spawner(name))
    assert made == []  # no account made, no file copied or handed over



def hub_login(tmp_path, monkeypatch):
    """(name, password) -> what the hub's login answers, with the config's authenticator."""
    import asyncio

    from jupyterhub.authenticators.shared import SharedPasswordAuthenticator

    config, _ = load_config(tmp_path, monkeypatch)
    authenticator = SharedPasswordAuthenticator(config=config)  # validates the passwords as the hub does
    return lambda name, password: asyncio.run(
        authenticator.authenticate(None, {"username": name, "password": password}))


def test_the_admin_password_lets_the_admins_in_and_only_them(tmp_path, monkeypatch):
    pytest.importorskip("jupyterhub")
    admin_password = "a long admin password, 32 characters or more"
    monkeypatch.setenv("NST_CLASS_ADMIN_PASSWORD", admin_password)
    login = hub_login(tmp_path, monkeypatch)
    assert login("teacher", admin_password)["admin"] is True
    assert login("teacher", "a class password") is None  # an admin needs the admin password
    assert login("ada", "a class password")["admin"] is False
    assert login("ada", admin_password) is None  # the admin password makes no one else an admin
    monkeypatch.setenv("NST_CLASS_ADMIN_PASSWORD", "too short")
    with pytest.raises(ValueError, match="32"):
        hub_login(tmp_path, monkeypatch)  # JupyterHub refuses it at start, and says why


def test_without_an_admin_password_no_admin_logs_in(tmp_path, monkeypatch):
    pytest.importorskip("jupyterhub")
    monkeypatch.delenv("NST_CLASS_ADMIN_PASSWORD", raising=False)
    assert hub_login(tmp_path, monkeypatch)("teacher", "a class password") is None


def test_the_memory_limit_reaches_both_layers_in_bytes(tmp_path, monkeypatch):
    pytest.importorskip("jupyterhub")
    monkeypatch.setenv("NST_CLASS_MEMORY", "2500M")
    config, names = load_config(tmp_path, monkeypatch)  # prlimit reads "2G" as something else
    assert config.Spawner.cmd[:3] == ["prlimit", f"--data={2500 * 2**20}", "--"]  # per process
    assert config.Spawner.mem_limit == 2500 * 2**20  # per student, checked at every poll
    assert config.JupyterHub.spawner_class is names["MemoryCappedSpawner"]
    assert config.Spawner.poll_interval <= 10


@pytest.fixture
def memory_cap(monkeypatch):
    pytest.importorskip("jupyterhub")
    monkeypatch.syspath_prepend(str(ROOT / "classroom"))
    return importlib.import_module("memory_cap")


MB = 2**20


@pytest.mark.parametrize("server, children, limit, ended", [
    (150, {11: 800, 12: 900}, 2000, []),  # 1850 in all: within the limit
    (150, {11: 800, 12: 1500}, 2450, []),  # exactly at the limit: nothing ended
    (150, {11: 800, 12: 1500}, 2000, [12]),  # over: the larger kernel, and that is enough
    (150, {11: 1500, 12: 800}, 2000, [11]),  # whichever it is
    (150, {11: 900, 12: 1000, 13: 950}, 1100, [12, 13]),  # far over: the largest, then the next
    (3000, {11: 10}, 2000, [11]),  # a server over the limit on its own is never ended itself
    (150, {}, 100, []),
])
def test_the_cap_ends_the_largest_kernels_until_the_student_is_within_the_limit(
        memory_cap, server, children, limit, ended):
    assert memory_cap.to_end(server * MB, {pid: mb * MB for pid, mb in children.items()},
                             limit * MB) == ended


A_SERVER = """
import subprocess, sys, time
kernels = [subprocess.Popen([sys.executable, "-c", f"block = b'x' * {mb} * 2**20; print(flush=True);"
                             "import time; time.sleep(120)"], stdout=subprocess.PIPE)
           for mb in (300, 20)]
for kernel in kernels:
    kernel.stdout.readline()  # its block is written
print(*[kernel.pid for kernel in kernels], flush=True)
time.sleep(120)
"""


def test_a_poll_over_the_total_ends_the_largest_kernel_of_real_processes(memory_cap, caplog):
    import psutil

    server = subprocess.Popen([sys.executable, "-c", A_SERVER], stdout=subprocess.PIPE, text=True)
    tree = psutil.Process(server.pid)
    try:
        big, small = map(int, server.stdout.readline().split())
        own, children = memory_cap.student_memory(server.pid)
        assert set(children) == {big, small}
        assert children[big] > 300 * MB > 100 * MB > children[small]  # the block is resident
        assert 0 < own < 100 * MB

        class Spawner(memory_cap.MemoryCap):  # what cap_memory reads of a JupyterHub spawner
            pid, mem_limit = server.pid, own + children[small] + 100 * MB  # over by 200 MB or more
            user, log = type("User", (), {"name": "student1"}), logging.getLogger("hub")

        caplog.set_level(logging.WARNING)
        Spawner().cap_memory()
        assert ended(psutil.Process(big))
        assert running(tree) and running(psutil.Process(small))
        [record] = caplog.records
        assert "student1's processes use" in record.getMessage() and str(big) in record.getMessage()
    finally:
        for process in [*tree.children(recursive=True), tree]:
            process.kill()
        server.wait()


def ended(process, seconds=10):
    """Whether `process` ends (is gone, or a zombie its parent has not reaped) within `seconds`."""
    import psutil

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def running(process):
    import psutil

    return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
