"""A class on one server: classroom/jupyterhub_config.py on loopback with three students.

classroom/hub_trial.py starts the hub, creates three students through its
REST API, starts their servers, and has all three run notebook 01 up to its
first stylisation at once (fast mode), then one student's kernel asks for
more memory than the limit. It runs in a child process, so this process's
network guard stays in place; everything talks to 127.0.0.1 only.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("configurable-http-proxy") is None,
                    reason="needs configurable-http-proxy: run classroom/install_proxy.sh")
@pytest.mark.skipif(importlib.util.find_spec("jupyterhub") is None,
                    reason="needs jupyterhub: pip install -e '.[classroom]'")
def test_three_students_run_the_first_stylisation_at_once_within_their_memory(tmp_path):
    report_file = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NST_TEACH_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "classroom" / "hub_trial.py"), "--students", "3",
         "--memory", "2G", "--json", str(report_file)],
        env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    report = json.loads(report_file.read_text())
    assert sorted(report["students"]) == ["student1", "student2", "student3"]
    for user, student in report["students"].items():
        assert "error" not in student, (user, student)
        assert student["result_shown"], user  # the result's figure reached the student's page
        assert 0 < student["memory_idle_mb"] < student["memory_peak_mb"] < 2048, (user, student)
    limit = report["memory_limit_test"]
    assert limit["100_mb"] == "ok"  # under the limit: fine
    assert limit["over_limit"] == "MemoryError"  # over it: refused, in that kernel only
    assert limit["greedy_kernel_after"] == "ok" and limit["other_kernels"] == ["ok", "ok"]
    assert report["left_running"] == 0


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


def test_the_memory_limit_reaches_prlimit_in_bytes(tmp_path, monkeypatch):
    pytest.importorskip("jupyterhub")
    monkeypatch.setenv("NST_CLASS_MEMORY", "2500M")
    config, _ = load_config(tmp_path, monkeypatch)  # prlimit reads "2G" as something else
    assert config.Spawner.cmd[:3] == ["prlimit", f"--data={2500 * 2**20}", "--"]
