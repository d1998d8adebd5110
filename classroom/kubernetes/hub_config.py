"""config.yaml's values as the hub's configuration: what Zero to JupyterHub gives KubeSpawner.

In the cluster, the chart's own jupyterhub_config.py reads config.yaml and sets
KubeSpawner's traits from it. This module does the same translation, key for key
(singleuser.memory.limit -> KubeSpawner.mem_limit, ...), for the keys config.yaml
uses, with the chart's defaults (4.4.0) for those it leaves out; a key it does not
know is an error rather than silently dropped. tests/test_kubernetes.py loads the
result into KubeSpawner itself and checks the pod it would ask Kubernetes for.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from traitlets.config import Config

CONFIG_YAML = Path(__file__).resolve().parent / "config.yaml"

# The chart's defaults (values.yaml of jupyterhub 4.4.0) that shape a student's pod.
CHART_DEFAULTS = {"uid": 1000, "fsGid": 100, "homeMountPath": "/home/jovyan",
                  "volumeNameTemplate": "volume-{user_server}", "capacity": "10Gi"}

# singleuser.<key> -> KubeSpawner trait, as the chart's jupyterhub_config.py maps them.
SPAWNER_TRAITS = {"memory.limit": "mem_limit", "memory.guarantee": "mem_guarantee",
                  "cpu.limit": "cpu_limit", "cpu.guarantee": "cpu_guarantee",
                  "extraEnv": "environment", "lifecycleHooks": "lifecycle_hooks",
                  "startTimeout": "start_timeout", "uid": "uid", "fsGid": "fs_gid"}
HANDLED = {*SPAWNER_TRAITS, "image", "storage", "cmd", "defaultUrl"}


def values(path=CONFIG_YAML):
    """config.yaml, read; used by `tests/test_kubernetes.py`."""
    return yaml.safe_load(Path(path).read_text())


def flatten(tree, prefix=""):
    """{"memory": {"limit": "4G"}} -> {"memory.limit": "4G"}, down to the keys the chart maps."""
    flat = {}
    for key, value in tree.items():
        name = prefix + key
        if isinstance(value, dict) and name not in HANDLED:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def spawner_config(singleuser):
    """KubeSpawner's traits from config.yaml's `singleuser`; used by `hub_config`."""
    flat = flatten({**{k: CHART_DEFAULTS[k] for k in ("uid", "fsGid")}, **singleuser})
    unknown = sorted(set(flat) - HANDLED)
    if unknown:
        raise ValueError(f"hub_config.py does not translate singleuser.{unknown[0]}: "
                         "add it to SPAWNER_TRAITS the way the chart's jupyterhub_config.py maps it")
    traits = {SPAWNER_TRAITS[key]: value for key, value in flat.items() if key in SPAWNER_TRAITS}
    image = singleuser["image"]
    traits["image"] = f"{image['name']}:{image['tag']}"
    storage = singleuser.get("storage", {})
    home = CHART_DEFAULTS["volumeNameTemplate"]  # dynamic storage: one volume claim per student
    traits["storage_pvc_ensure"] = True
    traits["storage_capacity"] = storage.get("capacity", CHART_DEFAULTS["capacity"])
    traits["volumes"] = {home: {"name": home, "persistentVolumeClaim": {"claimName": "{pvc_name}"}},
                         **{v["name"]: v for v in storage.get("extraVolumes", [])}}
    traits["volume_mounts"] = {
        home: {"name": home, "mountPath": CHART_DEFAULTS["homeMountPath"]},
        **{f"{i}-{m['name']}": m for i, m in enumerate(storage.get("extraVolumeMounts", []))}}
    return traits


def hub_config(config=None):
    """The hub's traitlets Config from config.yaml's values; used by `tests/test_kubernetes.py`
    and `exchange_trial.py`."""
    config = values() if config is None else config
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    singleuser = config["singleuser"]
    c.KubeSpawner.update(spawner_config(singleuser))
    if "cmd" in singleuser:
        c.Spawner.cmd = singleuser["cmd"]
    if "defaultUrl" in singleuser:
        c.Spawner.default_url = singleuser["defaultUrl"]
    hub = config.get("hub", {})
    for section, traits in hub.get("config", {}).items():
        c[section].update(traits)
    c.JupyterHub.services = [{"name": name, **service} for name, service in hub.get("services", {}).items()]
    cull = config.get("cull", {})
    if cull.get("enabled"):  # the chart runs jupyterhub-idle-culler as a service of the hub
        c.JupyterHub.services.append({"name": "jupyterhub-idle-culler", "command": [
            "python3", "-m", "jupyterhub_idle_culler", "--url=http://localhost:8081/hub/api",
            f"--timeout={cull['timeout']}", f"--cull-every={cull['every']}"]})
    return c
