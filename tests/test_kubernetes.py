"""A class on Kubernetes (classroom/kubernetes/): the numbers, the pod, and nbgrader through ngshare.

The per-student memory and cores in config.yaml must follow from the figures
measured in docs/teaching.md; KubeSpawner itself, loaded with the hub's
configuration made from config.yaml, must ask Kubernetes for a pod with them,
the VGG19 weights read-only and the course's environment (no cluster needed: the
pod's specification is computed, never sent); and the class's round trip must go
through ngshare for real, on loopback (exchange_trial.py, in a child process, so
this process's network guard stays in place).
"""

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "classroom" / "kubernetes"
sys.path.insert(0, str(KUBERNETES))
import hub_config  # noqa: E402 (classroom/kubernetes/)
import sizing  # noqa: E402

GIB = 2**30  # JupyterHub's "G" (and Kubernetes' Gi)
GB = 10**9  # the figures' GB (if they meant GiB, the 7 % is within the rounding up)


def needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs {module}: pip install -e '.[kubernetes]'")


@pytest.fixture(scope="module")
def figures():
    return sizing.measured()


def test_the_config_s_memory_and_cores_follow_from_the_measured_figures(figures):
    singleuser = hub_config.values()["singleuser"]
    kernels, server = figures["kernel_gb"], figures["server_gb"]
    limit = float(singleuser["memory"]["limit"].rstrip("G"))
    guarantee = float(singleuser["memory"]["guarantee"].rstrip("G"))
    # the limit holds the largest kernel of the course (09) with the server, with less than 1 GB to spare
    assert 0 <= limit - (max(kernels.values()) + server) < 1
    # the guarantee holds the largest kernel of lessons 1 to 4 (01 to 07) with the server
    assert set(kernels) == {f"{n:02d}" for n in range(1, 11)}, "every kept run measured at full size"
    regular = max(kernels[f"{n:02d}"] for n in range(1, 8))
    assert 0 <= guarantee - (regular + server) < 0.5
    # cores: the 2 the figures were measured on, and 2 x the busiest lesson's share of 90 minutes
    minutes = figures["run_minutes"]
    lessons = [minutes["01"] + minutes["02"], minutes["03"] + minutes["04"],
               minutes["05"] + minutes["06"], minutes["07"]]
    busiest = max(lessons) / 90
    assert singleuser["cpu"]["limit"] == 2
    assert 2 * busiest <= singleuser["cpu"]["guarantee"] < 2 * (busiest + 0.05)
    # ... and the same numbers as sizing.py works out for the docs
    student = sizing.per_student(figures)
    assert (limit, guarantee) == (student["memory_limit_gb"], student["memory_guarantee_gb"])
    assert singleuser["cpu"]["guarantee"] == student["cpu_guarantee"]


def test_sizing_names_the_row_it_cannot_find():
    with pytest.raises(ValueError, match="no table row 'kernel memory, full size'"):
        sizing.measured("| run, full size | 3.3 min |\nabout 90 core-seconds")


def test_the_teachers_guide_shows_the_sizing_sizing_py_makes(figures):
    text = (ROOT / "docs" / "teaching.md").read_text()
    start, end = (text.index(marker) for marker in sizing.MARKERS)
    assert text[start + len(sizing.MARKERS[0]):end].strip() == sizing.section(figures).strip(), \
        "run python classroom/kubernetes/sizing.py --write"
    student = sizing.per_student(figures)
    section = sizing.section(figures)
    assert sizing.table(figures) in section and f"{student['share_at_once']:.0%} of a class" in section
    assert f"*Memory guarantee {student['memory_guarantee_gb']:g}G*" in section
    assert f"*Cores: limit 2, guarantee {student['cpu_guarantee']:g}.*" in section


def test_hub_config_refuses_a_key_it_does_not_translate():
    singleuser = {**hub_config.values()["singleuser"], "nodeSelector": {"pool": "students"}}
    with pytest.raises(ValueError, match="singleuser.nodeSelector"):
        hub_config.spawner_config(singleuser)


async def student_pod(config, name):
    """The pod KubeSpawner would create for `name`, as a dict, from the hub's `config`."""
    from jupyterhub import orm
    from jupyterhub.objects import Hub
    from jupyterhub.user import User
    from kubespawner import KubeSpawner

    db = orm.new_session_factory("sqlite:///:memory:")()
    db.add(orm.User(name=name))
    db.commit()
    hub = Hub(ip="127.0.0.1", port=8081, base_url="/hub/")
    user = User(db.query(orm.User).one(), settings={"hub": hub, "db": db, "domain": "", "statsd": None})
    spawner = KubeSpawner(config=config, user=user, hub=hub)
    spawner.api_token = "the student's server token"
    pod = await spawner.get_pod_manifest()
    return spawner.api.api_client.sanitize_for_serialization(pod)


@needs("kubespawner")
def test_kubespawner_asks_for_each_student_s_pod_with_the_measured_resources(tmp_path, figures,
                                                                              monkeypatch):
    # KubeSpawner reads a cluster's address at start; this one is never contacted (the network
    # guard would fail the test): the pod's specification is computed, not sent.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "none", "user": {"token": "unused"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    values = hub_config.values()
    pod = asyncio.run(student_pod(hub_config.hub_config(values), "ada"))

    [container] = pod["spec"]["containers"]
    resources = container["resources"]
    student = sizing.per_student(figures)
    kernels, server = figures["kernel_gb"], figures["server_gb"]
    assert resources["limits"]["memory"] == student["memory_limit_gb"] * GIB
    assert resources["limits"]["memory"] >= (max(kernels.values()) + server) * GB
    assert resources["requests"]["memory"] == student["memory_guarantee_gb"] * GIB
    assert resources["requests"]["memory"] >= (kernels["07"] + server) * GB
    assert resources["limits"]["cpu"] == student["cpu_limit"] == 2
    assert resources["requests"]["cpu"] == student["cpu_guarantee"]

    image = values["singleuser"]["image"]
    assert container["image"] == f"{image['name']}:{image['tag']}"
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    assert env["NST_TEACH_OFFLINE"] == "1" and env["JUPYTERHUB_USER"] == "ada"
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    weights = mounts[env["KERAS_HOME"]]  # the weights are where Keras and nst-teach look
    assert weights["readOnly"] is True
    assert volumes[weights["name"]]["persistentVolumeClaim"] == {"claimName": "nst-teach-keras",
                                                                 "readOnly": True}
    home = mounts["/home/jovyan"]  # each student's own home, kept between sessions
    assert volumes[home["name"]]["persistentVolumeClaim"]["claimName"] == "claim-ada"
    assert "--MappingKernelManager.cull_idle_timeout=1200" in container["args"]
    assert "nst-teach-course" in " ".join(container["lifecycle"]["postStart"]["exec"]["command"])
    assert container["securityContext"]["runAsUser"] == 1000
    assert pod["spec"]["securityContext"]["fsGroup"] == 100


def test_idle_servers_are_culled_by_the_hub():
    services = {service["name"]: service for service in hub_config.hub_config().JupyterHub.services}
    culler = services["jupyterhub-idle-culler"]["command"]
    assert "--timeout=1800" in culler  # 30 idle minutes
    assert services["ngshare"]["url"] == "http://ngshare:8080"


@pytest.mark.slow
@needs("ngshare")
@needs("ngshare_exchange")
@pytest.mark.skipif(shutil.which("configurable-http-proxy") is None,
                    reason="needs configurable-http-proxy: run classroom/install_proxy.sh")
def test_a_class_round_trip_through_ngshare(tmp_path):
    report_file = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NST_TEACH_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(KUBERNETES / "exchange_trial.py"), "--json",
                           str(report_file)], env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    report = json.loads(report_file.read_text())

    # the class's password lets students in, not as the teacher; a wrong one lets nobody in
    assert report["refused_logins"] == {"ada, wrong password": True, "teacher, class password": True}
    assert report["collected"] == ["ada", "bob"]
    assert report["scores"] == {"ada": [1.0, 1.0], "bob": [0.0, 1.0]}
    [ada_page] = report["feedback"]["ada"].values()  # one page each, in their own home
    [bob_page] = report["feedback"]["bob"].values()
    assert ada_page == ["✓ content_loss is correct."]
    assert any("you averaged the squared differences" in line for line in bob_page)

    takes = report["ada_takes_bobs"]
    assert takes["nbgrader_posing_as_bob"]["new_pages"] == []
    assert "Permission denied" in takes["nbgrader_posing_as_bob"]["log"]
    assert takes["feedback_api"] == [403, {"success": False, "message": "Permission denied"}]
    assert takes["submission_api"][0] == 403
    status, own = takes["bob_own_feedback_api"]  # the same request with bob's token: his page
    assert status == 200 and [file["path"] for file in own["files"]] == ["03_content_loss.html"]
    assert report["left_running"] == 0
