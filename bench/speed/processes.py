"""What is measured in a fresh process, alone: the first preview, thread pools, peak memory.

`in_subprocess` runs ``bench/run.py --child KIND ARGS`` and reads the JSON
line the child prints (see `child`).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

from .common import CONTENT, ROOT, STYLE, log, setup, timed

RUN = ROOT / "bench" / "run.py"


def child_memory(height, evaluations):
    """Peak resident memory of a fresh process: build, targets, `evaluations` evaluations."""
    import numpy as np

    from nst_teach.evaluator import make_loss_and_grads

    settings, model, extractor, targets, content_x, _ = setup(height)
    fn = make_loss_and_grads(extractor, targets, settings, content_x.shape)
    x = content_x.ravel().astype(np.float64)
    start = time.perf_counter()
    for _ in range(evaluations):
        fn(x)
    seconds = (time.perf_counter() - start) / evaluations
    peak = peak_rss_bytes()
    return {"height": height, "width": int(content_x.shape[2]), "peak_bytes": peak,
            "seconds_per_evaluation": seconds}


def peak_rss_bytes():
    """This process's peak resident memory (VmHWM).

    Not `getrusage`'s ru_maxrss: on Linux that keeps the high-water mark of
    the forked parent across exec, so a child of a big benchmark process
    would report the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_threads(intra, inter, height=256, repeats=5):
    """Seconds per evaluation of (b) with TensorFlow's thread pools set (0: default)."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    from nst_teach.evaluator import make_loss_and_grads

    settings, model, extractor, targets, content_x, _ = setup(height)
    fn = make_loss_and_grads(extractor, targets, settings, content_x.shape)
    median, _ = timed(fn, content_x.ravel().astype(np.float64), repeats)
    return {"intra": intra, "inter": inter, "height": height, "seconds": median}


def child_preview(backbone):
    """Seconds from a fresh interpreter to the first stylised 128 px preview."""
    start = time.perf_counter()
    from nst_teach import transfer
    from nst_teach.backbones import load_backbone

    imported = time.perf_counter()
    load_backbone(backbone)  # what transfer does first; timed apart to show its share
    built = time.perf_counter()
    result = transfer(CONTENT, STYLE, height=128, iterations=1, backbone=backbone)
    done = time.perf_counter()
    assert result.image.shape[0] == 128
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime  # CPU seconds so far, all threads
    again = time.perf_counter()
    transfer(CONTENT, STYLE, height=128, iterations=1, backbone=backbone)
    second = time.perf_counter() - again
    return {"backbone": backbone, "import_seconds": imported - start,
            "build_seconds": built - imported,
            "call_seconds": done - built, "total_seconds": done - start,
            "second_call_seconds": second, "cpu_seconds": cpu,
            "evaluations": result.history.n_evaluations}


def child(kind, *args):
    """What ``bench/run.py --child KIND ARGS`` measures, as one JSON line on stdout."""
    if kind == "memory":
        return child_memory(int(args[0]), int(args[1]))
    if kind == "threads":
        return child_threads(int(args[0]), int(args[1]))
    if kind == "preview":
        return child_preview(args[0])
    raise ValueError(f"no child measurement {kind!r}")


def in_subprocess(kind, *args):
    """Run `child` in a fresh interpreter; its result."""
    command = [sys.executable, str(RUN), "--child", kind, *map(str, args)]
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"child {kind} {args} failed:\n{out.stderr[-3000:]}")


def bench_memory(quick):
    """Peak RSS at 400 px, and the largest height whose peak stays under 4 GB."""
    limit = 4 * 1024**3
    rows = [in_subprocess("memory", 400, 1)]
    log(f"  400 px: {rows[0]['peak_bytes'] / 1e9:.2f} GB")
    if quick:
        return {"rows": rows, "largest_under_4gb": None}
    # peak = base + per_pixel * pixels: fit it on two sizes, predict, then check
    rows.append(in_subprocess("memory", 800, 1))
    log(f"  800 px: {rows[-1]['peak_bytes'] / 1e9:.2f} GB")
    (h0, p0), (h1, p1) = [((r["height"], r["width"]), r["peak_bytes"]) for r in rows]
    per_pixel = max(p1 - p0, 1) / (h1[0] * h1[1] - h0[0] * h0[1])
    aspect = h0[1] / h0[0]
    guess = int((((limit - p0) / per_pixel + h0[0] * h0[1]) / aspect) ** 0.5 * 0.97) // 8 * 8
    largest = None
    for _ in range(3):
        row = in_subprocess("memory", guess, 1)
        rows.append(row)
        log(f"  {guess} px: {row['peak_bytes'] / 1e9:.2f} GB")
        if row["peak_bytes"] < limit:
            largest = row
            break
        guess = int(guess * 0.93) // 8 * 8
    return {"rows": rows, "largest_under_4gb": largest}


def bench_threads(quick, rounds):
    """Seconds per evaluation with each setting of TensorFlow's thread pools, best of `rounds`.

    The settings alternate, so that load from elsewhere hits them alike.
    """
    configs = ((0, 0), (2, 2)) if quick else ((0, 0), (2, 2), (1, 1))
    seconds = {c: [] for c in configs}
    for _ in range(1 if quick else rounds):
        for c in configs:
            seconds[c].append(in_subprocess("threads", *c)["seconds"])
    return [{"intra": c[0], "inter": c[1], "seconds": min(v)} for c, v in seconds.items()]
