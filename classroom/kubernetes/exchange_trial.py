"""nbgrader's exchange through ngshare, tried on this machine: a class's round trip, on loopback.

    python classroom/kubernetes/exchange_trial.py [--json FILE] [--keep FOLDER]

Starts JupyterHub with config.yaml's authentication and its ngshare service
(hub_config.py), its proxy, and ngshare itself, all on 127.0.0.1 and in a
temporary folder. The teacher and two students, ada and bob, log in with the
passwords and take an API token each, as their servers would have one. Then
the class's round trip, with the course's own nbgrader set-up (make_course.py,
nbgrader_config.py) and the image's exchange configuration
(etc-jupyter/nbgrader_config.py): the teacher creates the course in ngshare and
releases notebook 03; each student fetches it, answers (ada right, bob with a
usual mistake: the mean instead of the sum) and submits; the teacher collects,
autogrades, generates and returns the feedback; each student fetches their
own. Then ada tries to take bob's feedback and submission, through nbgrader
and straight from ngshare's API. It writes a JSON report of what each step
gave and stops everything it started.

No server is started for the students (no cluster here): their nbgrader
commands run on this machine, each in its own home with its own token, as
they would in their pods. Needs the `classroom` and `kubernetes` extras and
configurable-http-proxy. Used by tests/test_kubernetes.py.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from make_course import make_course  # noqa: E402 (classroom/)

COURSE = "nst-teach"  # nbgrader_config.py's course_id
ASSIGNMENT = "03_content_loss"
STUDENTS = ("ada", "bob")
# JupyterHub wants 8 characters or more for the class's password, 32 for the teacher's.
PASSWORDS = {"class": "the class's trial password",
             "teacher": "the teacher's trial password, 32 characters or more"}


def free_port():
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive(pid):
    """Whether process `pid` still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Trial:
    """The hub, its proxy and ngshare on loopback, in `folder`; `stop()` ends them."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.ports = {name: free_port() for name in ("proxy", "proxy_api", "hub", "ngshare")}
        self.public = f"http://127.0.0.1:{self.ports['proxy']}"
        self.ngshare_url = f"{self.public}/services/ngshare"  # through the proxy, as in the cluster
        self.token = secrets.token_hex(32)  # the hub's and ngshare's shared service token
        self.processes = []
        self.proxy = None  # the proxy's process id

    def hub_config(self):
        """jupyterhub_config.py: config.yaml's hub (hub_config.py), moved to loopback."""
        path = self.folder / "jupyterhub_config.py"
        ngshare = {"url": f"http://127.0.0.1:{self.ports['ngshare']}", "api_token": self.token}
        path.write_text(f"""import sys
sys.path.insert(0, {str(HERE)!r})
from hub_config import hub_config

c.merge(hub_config())
c.JupyterHub.spawner_class = "simple"  # no server is started: no cluster here
c.JupyterHub.services = [dict(service, **{ngshare!r}) for service in c.JupyterHub.services
                         if service["name"] == "ngshare"]  # the idle culler has nothing to cull
c.SharedPasswordAuthenticator.user_password = {PASSWORDS['class']!r}
c.SharedPasswordAuthenticator.admin_password = {PASSWORDS['teacher']!r}
c.JupyterHub.bind_url = {self.public!r}
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{self.ports['hub']}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.ports['proxy_api']}"
c.JupyterHub.db_url = "sqlite:///{self.folder / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(self.folder / 'cookie_secret')!r}
c.ConfigurableHTTPProxy.pid_file = {str(self.folder / 'proxy.pid')!r}
""")
        return path

    def start(self, name, command, env=None):
        log = open(self.folder / f"{name}.log", "w")
        self.processes.append(subprocess.Popen(command, cwd=self.folder, env=env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))

    def start_all(self):
        self.start("hub", [sys.executable, "-m", "jupyterhub", "-f", str(self.hub_config())])
        self.start("ngshare", [sys.executable, str(HERE / "ngshare_local.py"), "--admins", "teacher",
                               "--database", f"sqlite:///{self.folder / 'ngshare.sqlite'}",
                               "--storage", str(self.folder / "ngshare-files")],
                   env=dict(os.environ, JUPYTERHUB_API_TOKEN=self.token,
                            JUPYTERHUB_API_URL=f"http://127.0.0.1:{self.ports['hub']}/hub/api",
                            JUPYTERHUB_CLIENT_ID="service-ngshare",
                            JUPYTERHUB_SERVICE_PREFIX="/services/ngshare/",
                            JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{self.ports['ngshare']}/"))
        self.wait_for(f"{self.public}/hub/api")
        self.wait_for(f"{self.ngshare_url}/healthz")
        self.proxy = int((self.folder / "proxy.pid").read_text())  # the hub started it

    def wait_for(self, url, seconds=120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                break
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{url} did not answer; the logs are in {self.folder}\n" + self.logs())

    def logs(self):
        return "\n".join(path.read_text()[-3000:] for path in sorted(self.folder.glob("*.log")))

    def stop(self):
        """End the hub (which ends its proxy) and ngshare; return how many were left running."""
        for process in self.processes:
            process.terminate()
        running = 0
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                running += 1
        return running + (self.proxy is not None and alive(self.proxy))


def login(public, name, password):
    """Log in through the hub's form, then take an API token as that user; None if refused."""
    session = requests.Session()
    session.get(f"{public}/hub/login", timeout=30)
    answer = session.post(f"{public}/hub/login", allow_redirects=False, timeout=30, data={
        "username": name, "password": password, "_xsrf": session.cookies.get("_xsrf")})
    if answer.status_code != 302:
        return None
    session.get(f"{public}/hub/token", timeout=30)  # a fresh _xsrf cookie for the API call
    answer = session.post(f"{public}/hub/api/users/{name}/tokens", timeout=30,
                          json={"note": "nbgrader", "expires_in": 3600},
                          headers={"X-XSRFToken": session.cookies.get("_xsrf")})
    answer.raise_for_status()
    return answer.json()["token"]


class Person:
    """The teacher or a student: a home, a token, and nbgrader run as them."""

    def __init__(self, trial, name, token):
        self.name, self.token = name, token
        self.home = trial.folder / "home" / name
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, HOME=str(self.home), USER=name, JUPYTERHUB_USER=name,
                        JUPYTERHUB_API_TOKEN=token, NST_NGSHARE_URL=trial.ngshare_url,
                        JUPYTER_CONFIG_PATH=str(HERE / "etc-jupyter"),  # the image's /etc/jupyter
                        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        for variable in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "NST_TEACH_FAST"):
            self.env.pop(variable, None)

    def run(self, *command, cwd=None, check=True):
        """A command as this person; fails on a non-zero exit or an error in nbgrader's log
        (an exchange that fails logs the error and still exits with 0)."""
        done = subprocess.run(command, cwd=cwd or self.home, env=self.env, capture_output=True,
                              text=True, timeout=600)
        if check and (done.returncode != 0 or "| ERROR]" in done.stderr):
            raise RuntimeError(f"{self.name}: {' '.join(command)} failed:\n{done.stderr[-3000:]}")
        return done

    def nbgrader(self, *args, **kwargs):
        return self.run(sys.executable, "-m", "nbgrader", *args, **kwargs)

    def ngshare(self, trial, path, **params):
        """GET ngshare's API as this person: (HTTP status, its JSON answer)."""
        answer = requests.get(f"{trial.ngshare_url}{path}", params=params, timeout=30,
                              headers={"Authorization": f"token {self.token}"})
        return answer.status_code, answer.json()


def answer_cells(source):
    """The right answer (the source's, markers out) and bob's: the mean instead of the sum."""
    cell = next(cell for cell in nbformat.read(source, as_version=4).cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == "content_loss")
    right = re.sub(r"^ *### (BEGIN|END) SOLUTION\n?", "", cell.source, flags=re.M)
    wrong = right.replace("tf.reduce_sum(", "tf.reduce_mean(")
    assert wrong != right, "notebook 03's answer no longer uses tf.reduce_sum"
    return {"ada": right, "bob": wrong}


def answer(student, source):
    """Put `source` in the exercise cell of the student's fetched copy."""
    path = student.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "content_loss":
            assert "raise NotImplementedError()" in cell.source  # the student version
            cell.source = source
    nbformat.write(notebook, path)


def feedback_pages(student):
    """The feedback pages in a student's home, by their path there, with what the checks said
    (the lines of the page's text that start with ✓ or name an error)."""
    pages = {}
    for path in sorted((student.home / ASSIGNMENT / "feedback").rglob("*.html")):
        text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))
        pages[str(path.relative_to(student.home))] = [
            line.strip() for line in text.splitlines()
            if line.strip().startswith("✓") or "Error:" in line]
    return pages


def round_trip(trial):
    """The class's round trip through ngshare; the report of what each step gave."""
    report = {"refused_logins": {
        "ada, wrong password": login(trial.public, "ada", "not the password") is None,
        "teacher, class password": login(trial.public, "teacher", PASSWORDS["class"]) is None}}
    teacher = Person(trial, "teacher", login(trial.public, "teacher", PASSWORDS["teacher"]))
    students = {name: Person(trial, name, login(trial.public, name, PASSWORDS["class"]))
                for name in STUDENTS}
    course = make_course(teacher.home / "course", assignments=(ASSIGNMENT,))
    manage = [sys.executable, "-m", "ngshare_exchange.course_management"]
    teacher.run(*manage, "create_course", COURSE, "teacher", cwd=course)
    for name in STUDENTS:
        teacher.run(*manage, "add_student", COURSE, name, cwd=course)
    teacher.nbgrader("generate_assignment", ASSIGNMENT, cwd=course)
    teacher.nbgrader("release_assignment", ASSIGNMENT, cwd=course)

    answers = answer_cells(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    for name, student in students.items():
        student.nbgrader("fetch_assignment", ASSIGNMENT, "--course", COURSE)
        answer(student, answers[name])
        student.nbgrader("submit", ASSIGNMENT, "--course", COURSE)

    for step in ("collect", "autograde", "generate_feedback", "release_feedback"):
        teacher.nbgrader(step, ASSIGNMENT, cwd=course)
    report["collected"] = sorted(path.parent.parent.name for path in
                                 (course / "submitted").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    report["scores"] = scores(course)

    for student in students.values():
        student.nbgrader("fetch_feedback", ASSIGNMENT, "--course", COURSE)
        report.setdefault("feedback", {})[student.name] = feedback_pages(student)
    report["ada_takes_bobs"] = others_feedback(trial, students)
    return report


def scores(course):
    """Each student's score and maximum for the assignment, from the teacher's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {name: [gradebook.find_submission(ASSIGNMENT, name).score,
                       gradebook.find_submission(ASSIGNMENT, name).max_score] for name in STUDENTS}


def others_feedback(trial, students):
    """ada asks for bob's feedback and submission: through nbgrader posing as bob, and from
    ngshare's API with bob's own timestamp; bob asks for his own, as a control."""
    ada, bob = students["ada"], students["bob"]
    cache = bob.home / ".local/share/jupyter/nbgrader_cache" / COURSE
    [submitted] = cache.glob(f"bob+{ASSIGNMENT}+*")
    timestamp = submitted.name.split("+")[-1]
    path = f"/feedback/{COURSE}/{ASSIGNMENT}/bob"
    before = feedback_pages(ada)
    posing = dict(ada.env, JUPYTERHUB_USER="bob", USER="bob")
    done = subprocess.run([sys.executable, "-m", "nbgrader", "fetch_feedback", ASSIGNMENT,
                           "--course", COURSE], cwd=ada.home, env=posing, capture_output=True,
                          text=True, timeout=600)
    return {"nbgrader_posing_as_bob": {"new_pages": sorted(set(feedback_pages(ada)) - set(before)),
                                       "log": done.stderr[-2000:]},
            "feedback_api": ada.ngshare(trial, path, timestamp=timestamp),
            "submission_api": ada.ngshare(trial, f"/submission/{COURSE}/{ASSIGNMENT}/bob"),
            "bob_own_feedback_api": bob.ngshare(trial, path, timestamp=timestamp, list_only="true")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the report to this file")
    parser.add_argument("--keep", type=Path, help="work in this folder and leave it there")
    args = parser.parse_args(argv)
    if shutil.which("configurable-http-proxy") is None:
        sys.exit("exchange_trial.py: JupyterHub's proxy is missing: run classroom/install_proxy.sh")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nst-exchange-"))
    folder.mkdir(parents=True, exist_ok=True)
    trial = Trial(folder)
    try:
        trial.start_all()
        report = round_trip(trial)
    finally:
        left_running = trial.stop()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    report["left_running"] = left_running
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
