"""Each student's memory limit as a total: the hub ends a student's largest kernel when they go over.

JupyterHub leaves `Spawner.mem_limit` to the spawner, and its own spawners
for it need cgroups (systemdspawner, DockerSpawner), which a plain machine or
a container may not offer. So the hub checks instead: every `poll_interval`
seconds it calls each running server's `poll()` to see whether the server is
still alive, and MemoryCap's `poll()` also adds up the resident memory of
the student's server and of everything it started. When the total is above
`mem_limit`, it ends the largest of the server's children (a kernel, with
whatever that kernel started) and logs it. Jupyter restarts that kernel
empty, so the student sees "kernel restarting" in that notebook, while their
server, their other kernels and the other students carry on. A poll is not
a cgroup: docs/teaching.md, "A class on one server", says what it can miss.
Used by classroom/jupyterhub_config.py and, on loopback, classroom/hub_trial.py.
"""

import psutil
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner

GB = 2**30


def resident(processes):
    """The resident memory of these processes together, in bytes (ended ones count 0)."""
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def student_memory(server_pid):
    """(the server's own resident bytes, {pid of each child: bytes of it and its descendants}).

    The children of a student's Jupyter server are their kernels (and the
    programs of their terminals), each counted with what it started itself.
    """
    server = psutil.Process(server_pid)
    children = {child.pid: resident([child, *child.children(recursive=True)])
                for child in server.children()}
    return resident([server]), children


def to_end(server, children, limit):
    """The children to end, largest first, until the total is within `limit` (usually one).

    `server` and `children` as student_memory gives them. The server itself
    is never ended: that would stop everything the student has open.
    """
    total = server + sum(children.values())
    ending = []
    for pid in sorted(children, key=children.get, reverse=True):
        if total <= limit:
            break
        ending.append(pid)
        total -= children[pid]
    return ending


def end(pid):
    """SIGKILL a process and its descendants (a kernel and what it started)."""
    try:
        process = psutil.Process(pid)
        for each in [*process.children(recursive=True), process]:
            each.kill()
    except psutil.Error:  # already gone
        pass


class MemoryCap:
    """Mixin for JupyterHub's local spawners: `mem_limit` is the total of a student's processes."""

    async def poll(self):
        status = await super().poll()
        if status is None and self.pid and self.mem_limit:  # running (or starting)
            self.cap_memory()
        return status

    def cap_memory(self):
        try:
            server, children = student_memory(self.pid)
        except psutil.Error:  # the server just ended: the next poll says so
            return
        total = server + sum(children.values())
        for pid in to_end(server, children, self.mem_limit):
            self.log.warning(
                "Memory cap: %s's processes use %.2f GB together, above their limit of %.2f GB: "
                "ending their largest process, %d (%.2f GB)",
                self.user.name, total / GB, self.mem_limit / GB, pid, children[pid] / GB)
            end(pid)
            total -= children[pid]


class MemoryCappedSpawner(MemoryCap, LocalProcessSpawner):
    """Each student's server in their own Linux account, with a total memory limit."""


class MemoryCappedSimpleSpawner(MemoryCap, SimpleLocalProcessSpawner):
    """Every server as the hub's user (the loopback trial), with a total memory limit."""
