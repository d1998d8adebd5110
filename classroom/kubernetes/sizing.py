"""A class on Kubernetes, sized from the figures measured in docs/teaching.md.

    python classroom/kubernetes/sizing.py

    python classroom/kubernetes/sizing.py --write   # and rewrite docs/teaching.md's sizing

prints each student's memory and CPU (what config.yaml sets) and the sizing of
docs/teaching.md's section "A class past one server": why each number, and the
table for 30, 100 and 300 students at once, the nodes and what they cost per
hour. Nothing here is typed in twice: the per-notebook memory and run times, the
idle server's memory and the cost of a first result are read from
docs/teaching.md, the text between its sizing markers is this module's
`section`, and tests/test_kubernetes.py checks that config.yaml and that text
agree with the figures.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

TEACHING = Path(__file__).resolve().parents[2] / "docs" / "teaching.md"

LESSON_MINUTES = 90  # the lesson plan's "four lessons of about 90 minutes"
LESSONS = {1: ("01", "02"), 2: ("03", "04"), 3: ("05", "06"), 4: ("07",), 5: ("08", "09", "10")}
CORES_MEASURED = 2  # the figures were measured on 2 cores: no student needs more than a laptop's
CLASS_SIZES = (30, 100, 300)

# A typical cloud node: AWS m6i.2xlarge, 8 vCPU and 32 GiB, Linux, on demand, us-east-1.
NODE = {"name": "m6i.2xlarge", "vcpu": 8, "gib": 32, "usd_per_hour": 0.384}
# What Kubernetes and its per-node pods (kubelet, kube-proxy, the network plugin, the
# chart's image puller) keep on each node: an estimate, after EKS's reserve for this size.
NODE_RESERVED = {"vcpu": 0.5, "gib": 2.0}
USABLE = {"vcpu": NODE["vcpu"] - NODE_RESERVED["vcpu"], "gib": NODE["gib"] - NODE_RESERVED["gib"]}
HUB_NODES = 1  # one more node for the hub, its proxy, ngshare and the chart's scheduler
CLUSTER_USD_PER_HOUR = 0.10  # EKS's (and GKE's) fee per cluster


def measured(text=None):
    """The figures sizing needs, read from docs/teaching.md; used by `tests/test_kubernetes.py`."""
    text = TEACHING.read_text() if text is None else text

    def row(label):
        match = re.search(rf"^\| {re.escape(label)} \|(.*)\|$", text, re.M)
        if match is None:
            raise ValueError(f"docs/teaching.md has no table row '{label}': sizing.py reads it")
        # a notebook whose kept run is fast-mode only has no figure: None, left out of the sizing
        return [float(cell.split()[0]) if cell[:1].isdigit() else None
                for cell in (c.strip() for c in match.group(1).split("|"))]

    def by_notebook(label):
        values = row(label)  # first: a missing row is the error to name
        header = re.search(r"^\| notebook \|(.*)\|$", text, re.M)
        notebooks = [cell.strip() for cell in header.group(1).split("|")]
        return {n: value for n, value in zip(notebooks, values, strict=True) if value is not None}

    kernel_gb = by_notebook("kernel memory, full size")
    first_result = re.search(r"about (\d+) core-seconds", text)
    if first_result is None:
        raise ValueError("docs/teaching.md no longer says how many core-seconds a first result takes")
    return {"kernel_gb": kernel_gb, "run_minutes": by_notebook("run, full size"),
            "server_gb": row("memory of a student's idle server (no kernel yet)")[0],
            "first_result_core_seconds": float(first_result.group(1))}


def _largest(kernels, notebooks):
    """(GB, notebook) of the largest measured kernel among `notebooks`."""
    return max((kernels[n], n) for n in notebooks if n in kernels)


def ceil_to(value, step):
    """`value` rounded up to a multiple of `step` (and to two decimals, against float noise)."""
    return round(math.ceil(round(value / step, 6)) * step, 2)


REGULAR = [notebook for lesson in (1, 2, 3, 4) for notebook in LESSONS[lesson]]
"""The notebooks of lessons 1 to 4, which every student runs in class."""


def busiest_lesson(figures):
    """(minutes at full size, lesson) of the lesson of 1 to 4 that computes longest."""
    return max((sum(figures["run_minutes"].get(n, 0) for n in LESSONS[lesson]), lesson)
               for lesson in (1, 2, 3, 4))


def per_student(figures):
    """Each student's memory (GB) and cores: the limit and what Kubernetes guarantees; and the
    share of a class computing at once. Used by `tests/test_kubernetes.py` and the command line.

    limit: the largest kernel of the course measured at full size and the idle server,
    rounded up to a whole GB (a notebook with a fast-mode kept run only is left out).
    Guarantee: the largest kernel of lessons 1 to 4 and the server, rounded up
    to half a GB. Share: the busiest lesson's run time at full size over the lesson's 90
    minutes, rounded up to 5 %; each student is guaranteed that share of the 2 cores.
    """
    kernels, server = figures["kernel_gb"], figures["server_gb"]
    share = ceil_to(busiest_lesson(figures)[0] / LESSON_MINUTES, 0.05)
    return {"memory_limit_gb": math.ceil(max(kernels.values()) + server),
            "memory_guarantee_gb": ceil_to(_largest(kernels, REGULAR)[0] + server, 0.5),
            "cpu_limit": CORES_MEASURED,
            "cpu_guarantee": round(CORES_MEASURED * share, 2),
            "share_at_once": share}


def class_size(students, student, figures):
    """Nodes and cost per hour for `students` logged in at once; used by `table`."""
    per_node = min(math.floor(USABLE["gib"] / student["memory_guarantee_gb"]),
                   math.floor(round(USABLE["vcpu"] / student["cpu_guarantee"], 6)))
    nodes = math.ceil(students / per_node) + HUB_NODES
    usd = nodes * NODE["usd_per_hour"] + CLUSTER_USD_PER_HOUR
    return {"students": students, "computing": computing(students, student),
            "memory_gib": students * student["memory_guarantee_gb"],
            "cores": round(students * student["cpu_guarantee"], 1),
            "per_node": per_node, "nodes": nodes, "usd_per_hour": usd,
            "cents_per_student_hour": 100 * usd / students,
            "all_at_once_seconds": per_node * figures["first_result_core_seconds"] / USABLE["vcpu"]}


def computing(students, student):
    """How many of `students` compute at once, at the busiest lesson's share."""
    return math.ceil(round(students * student["share_at_once"], 6))


def table(figures=None):
    """The sizing table of docs/teaching.md, as markdown; used by `tests/test_kubernetes.py`."""
    figures = measured() if figures is None else figures
    student = per_student(figures)
    lines = ["| students at once | computing at once | memory guaranteed | cores guaranteed "
             f"| {NODE['name']} nodes (students per node + hub) | US dollars per hour "
             "| per student-hour | first result if all press Run together |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for size in CLASS_SIZES:
        row = class_size(size, student, figures)
        lines.append(
            f"| {row['students']} | {row['computing']} | {row['memory_gib']:g} GiB "
            f"| {row['cores']:g} | {row['nodes']} ({row['per_node']} per node + {HUB_NODES}) "
            f"| {row['usd_per_hour']:.2f} | {row['cents_per_student_hour']:.1f} cents "
            f"| {row['all_at_once_seconds']:.0f} s |")
    return "\n".join(lines)


def section(figures=None):
    """docs/teaching.md's sizing, between its markers: each number with why, then the table.

    Used by `tests/test_kubernetes.py` and the command line (``--write``).
    """
    figures = measured() if figures is None else figures
    student, kernels, server = per_student(figures), figures["kernel_gb"], figures["server_gb"]
    top_gb, top = _largest(kernels, kernels)
    regular_gb, regular = _largest(kernels, REGULAR)
    minutes, lesson = busiest_lesson(figures)
    row = class_size(CLASS_SIZES[0], student, figures)
    usable_gib, usable_vcpu = USABLE["gib"], USABLE["vcpu"]
    core_seconds = figures["first_result_core_seconds"]
    notebooks = " and ".join(LESSONS[lesson])
    at_once = computing(row["per_node"], student)
    cores = min(CORES_MEASURED, usable_vcpu / at_once)
    laptop = ", a laptop's speed" if cores == CORES_MEASURED else ""
    return f"""\
- *Memory limit {student['memory_limit_gb']}G*: the largest kernel of the course (notebook {top},
  {top_gb:g} GB) and the idle server ({server:g} GB), rounded up to a whole GB. Above it,
  Linux's OOM killer acts, and on Kubernetes 1.28 or later with cgroup v2 it ends the whole
  container: the student's server restarts, with all their kernels. The kubelet's
  `singleProcessOOMKill: true` (Kubernetes 1.32 and later) makes it end only the largest
  process, the kernel, which Jupyter restarts, as the memory cap does on one server. Either
  way the other students carry on.
- *Memory guarantee {student['memory_guarantee_gb']:g}G*: the largest kernel of lessons 1 to 4
  (notebook {regular}, {regular_gb:g} GB) and the server, rounded up to half a GB. Kubernetes
  places a pod only where this much is free, so a node's students can all compute at once in
  lessons 1 to 4. (The config's G is JupyterHub's and Kubernetes' GiB, 7 % more than a GB.)
- *Cores: limit {CORES_MEASURED}, guarantee {student['cpu_guarantee']:g}.* The run times were
  measured on {CORES_MEASURED} cores, and nobody needs more than a laptop's two. Of a
  {LESSON_MINUTES}-minute lesson, the busiest (lesson {lesson}: notebooks {notebooks},
  {minutes:.1f} minutes at full size) computes for {minutes / LESSON_MINUTES:.0%} of the time;
  rounded up, **{student['share_at_once']:.0%} of a class computes at any moment**, and each
  student is guaranteed that share of {CORES_MEASURED} cores. (The run times were taken on a
  machine often shared with other runs, so this is on the high side. Lesson 4 counts its kept
  run's time; what its playground really computes depends on how often students press Run.)

**Sizing for {", ".join(map(str, CLASS_SIZES[:-1]))} and {CLASS_SIZES[-1]} students logged in at
once**, on a typical cloud node ({NODE['vcpu']} vCPU and {NODE['gib']} GiB: AWS {NODE['name']};
GCP's e2-standard-8 and Azure's D8s v5 are the same size), of which {NODE_RESERVED['vcpu']:g}
vCPU and {NODE_RESERVED['gib']:g} GiB are left to Kubernetes and its per-node pods (an
estimate), plus one node for the hub, its proxy and ngshare, plus the cluster's fee:

{table(figures)}

How the columns come about: a node holds {row['per_node']} students, the fewer of what its
memory allows ({usable_gib:g} GiB / {student['memory_guarantee_gb']:g} GiB) and what its cores
allow ({usable_vcpu:g} / {student['cpu_guarantee']:g}). With {student['share_at_once']:.0%}
computing, each of the {at_once} computing students of a node has {cores:.2g} cores{laptop}:
notebook 01's first result in about {core_seconds / cores:.0f} s of computing
({core_seconds:g} core-seconds, from the one-server estimate above) plus the kernel's start.
If all {row['per_node']} press Run in the same minute, they share {usable_vcpu:g} cores:
{row['per_node']} × {core_seconds:g} / {usable_vcpu:g} = {row['all_at_once_seconds']:.0f} s to
the first result, the same for {CLASS_SIZES[0]} students as for {CLASS_SIZES[-1]}, since each
node carries its own {row['per_node']}. The one-server estimate for {CLASS_SIZES[0]} students
on 16 cores, {CLASS_SIZES[0]} × {core_seconds:g} / 16, is about
{CLASS_SIZES[0] * core_seconds / 16:.0f} s."""


MARKERS = ("<!-- sizing: made by classroom/kubernetes/sizing.py --write -->", "<!-- sizing: end -->")


def write(path=TEACHING):
    """Put `section` between docs/teaching.md's sizing markers."""
    text = path.read_text()
    start, end = (text.index(marker) for marker in MARKERS)
    path.write_text(text[:start + len(MARKERS[0])] + "\n" + section() + "\n" + text[end:])


if __name__ == "__main__":
    import sys

    numbers = per_student(measured())
    print("Each student:", ", ".join(f"{key} {value:g}" for key, value in numbers.items()))
    if "--write" in sys.argv[1:]:
        write()
        print(f"{TEACHING}: the sizing written")
    else:
        print(section())
