"""JupyterHub for a class on one machine: see docs/teaching.md, "A class on one server".

    sudo NST_CLASS_PASSWORD='a class password' jupyterhub -f classroom/jupyterhub_config.py

Students log in with a user name of their choice and the class's password.
On a student's first start the hub makes a Linux account for them (the hub
runs as root) and copies the course notebooks into ~/nst-teach-course.
VGG19's weights are shared read-only through KERAS_HOME.

Memory, in two layers, so that one student cannot take the machine from the others:
  - a total per student: every few seconds the hub adds up the resident memory
    of a student's server and kernels, and above NST_CLASS_MEMORY it ends
    their largest kernel (classroom/memory_cap.py), which Jupyter restarts
    empty; a spike shorter than the poll can slip through;
  - a limit per process, at once: the server and each kernel run under
    `prlimit --data=NST_CLASS_MEMORY`, so a single kernel that asks for more
    gets a MemoryError the moment it asks, and lives on.

Settings, from the environment (defaults in brackets):
  NST_CLASS_PASSWORD    the students' shared password, 8 characters or more (required)
  NST_CLASS_ADMINS      comma-separated user names that may use the admin page [teacher]
  NST_CLASS_ADMIN_PASSWORD  the admins' own password, 32 characters or more: JupyterHub's
                        shared-password login refuses admins without one [none: no admin logs in]
  NST_CLASS_MEMORY      each student's memory limit (server and kernels), e.g. 2500M [4G]
  NST_CLASS_KERAS_HOME  a folder with models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5,
                        readable by all, writable by root only [/srv/nst-teach/keras]
  NST_CLASS_URL         where students connect [http://0.0.0.0:8000]
  NST_CLASS_STATE       where the hub keeps its database and cookie secret [/srv/nst-teach/hub]
  NST_CLASS_FAST        1: the notebooks' fast mode for everyone [0]
"""

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jupyterhub.spawner import SimpleLocalProcessSpawner  # noqa: E402
from jupyterhub.traitlets import ByteSpecification  # noqa: E402
from memory_cap import MemoryCappedSpawner  # noqa: E402 (beside this file)

c = get_config()  # noqa: F821 (JupyterHub provides it)

COURSE = Path(__file__).resolve().parents[1] / "notebooks"
COURSE_FOLDER = "nst-teach-course"  # in each student's home


def setting(name, default=None):
    value = os.environ.get(f"NST_CLASS_{name}", default)
    if value is None:
        sys.exit(f"jupyterhub_config.py: set NST_CLASS_{name} (see docs/teaching.md)")
    return value


STATE = Path(setting("STATE", "/srv/nst-teach/hub"))
STATE.mkdir(parents=True, exist_ok=True)
MEMORY = ByteSpecification().validate(None, setting("MEMORY", "4G"))  # in bytes, as prlimit takes it

# Who comes in: any user name (lower-case letters, digits, - and _) with the class's password.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = setting("PASSWORD")
c.Authenticator.allow_all = True
c.Authenticator.admin_users = set(filter(None, setting("ADMINS", "teacher").split(",")))
if setting("ADMIN_PASSWORD", ""):  # JupyterHub checks its length (32 or more) and tells
    c.SharedPasswordAuthenticator.admin_password = setting("ADMIN_PASSWORD")
c.Authenticator.username_pattern = r"^[a-z][a-z0-9_-]{0,31}$"

c.JupyterHub.bind_url = setting("URL", "http://0.0.0.0:8000")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")


def limited(command):
    """`command` under a per-process memory limit that every process it starts inherits (kernels too).

    RLIMIT_DATA counts the memory a process has written to or set aside for
    writing (heap, arrays), not the address space TensorFlow maps and never
    uses (its virtual size is about 1.7 GB above what it uses), so the limit
    can sit close to real use. Going over it gives a MemoryError.
    """
    return ["prlimit", f"--data={MEMORY}", "--", *command]


STUDENTS_GROUP = "nst-class"  # the accounts this hub made; no other account can be logged into


def student_account(name):
    """The Linux account of a student, made on their first start; refuses any other account.

    With a shared password, anyone could log in as `root` or `www-data`: only
    accounts in the group nst-class, which this hub made, are used.
    """
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["groupadd", "--force", STUDENTS_GROUP], check=True)
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash",
                        "--groups", STUDENTS_GROUP, name], check=True)
        account = pwd.getpwnam(name)
        os.chmod(account.pw_dir, 0o700)  # Debian's umask would let the others read it
    try:
        members = grp.getgrnam(STUDENTS_GROUP).gr_mem
    except KeyError:  # no student yet
        members = []
    if name not in members:
        raise PermissionError(f"the name {name!r} belongs to an account of this machine that "
                              "the class hub did not make: choose another name")
    return account


def prepare_student(spawner):
    """Before a student's server starts: their Linux account and their copy of the course."""
    local = not isinstance(spawner, SimpleLocalProcessSpawner)
    home = Path(student_account(spawner.user.name).pw_dir if local else spawner.home_dir)
    course = home / COURSE_FOLDER
    if not course.exists():
        course.mkdir(parents=True)
        for notebook in [*COURSE.glob("*.ipynb"), COURSE / "README.md"]:
            shutil.copyfile(notebook, course / notebook.name)
        if local:
            subprocess.run(["chown", "-R", f"{spawner.user.name}:", str(course)], check=True)


c.JupyterHub.spawner_class = MemoryCappedSpawner  # LocalProcessSpawner, with a total per student
c.Spawner.mem_limit = MEMORY
c.Spawner.poll_interval = 5  # seconds between the hub's checks of each server (and of its memory)
c.Spawner.cmd = limited([sys.executable, "-m", "jupyterhub.singleuser"])
c.Spawner.pre_spawn_hook = prepare_student
c.Spawner.default_url = f"/lab/tree/{COURSE_FOLDER}/README.md"
c.Spawner.environment = {
    "KERAS_HOME": setting("KERAS_HOME", "/srv/nst-teach/keras"),
    "NST_TEACH_OFFLINE": "1",  # no knocking on the weights' server from every kernel
    "NST_TEACH_FAST": setting("FAST", "0"),
}
c.Spawner.start_timeout = 180  # 30 servers starting at once on a few cores
c.Spawner.http_timeout = 180
# An idle kernel still holds its network's memory: shut kernels down after 20 idle minutes.
c.Spawner.args = ["--MappingKernelManager.cull_idle_timeout=1200",
                  "--MappingKernelManager.cull_interval=120"]
