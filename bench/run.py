"""Speed benchmark: nst_teach's path against the book's formulation (issue 4).

One command (from the repository root)::

    python bench/run.py            # full run, about 8 minutes on 2 free cores
    python bench/run.py --quick    # smoke test, about 2 minutes

It writes bench/results/latest.json, docs/benchmarks.png and the measured
tables inside docs/benchmarks.md (between the ``bench:begin``/``bench:end``
markers); ``--quick`` writes bench/results/quick.json and quick.png only.
Everything timed is measured in this one process, one run, with the same
weights (VGG19 with seeded random weights: `backbone="random"`, the book's
network at the book's cost, since ImageNet weights cannot be had offline) and
the same images (the package's examples grace_hopper and swirls). Memory and
the "fresh process" preview are measured in subprocesses, each alone, so that
their peaks do not mix. The sections live in `bench/speed/` (its
``__init__`` lists them); this file holds the targets and the order of the run.

What a student waits for (issue 13) is measured apart, with pretrained weights:
``python bench/first_picture.py`` (seconds from Run to the first picture, warm
and cold) and ``python bench/time_to_picture.py`` (the book's picture, judged,
against coarse to fine); their figures are in docs/benchmarks.md too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import namedtuple
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # `speed`, when run as a script

from speed.common import ROOT, device_name, log  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks.png"

Target = namedtuple("Target", "name measured goal where")

# What is measured, the target, and where it is reported. The `goal` numbers are
# what `speed.report.targets` judges against; its sentences end docs/benchmarks.md's tables.
TARGETS = (
    Target("speedup", "seconds per loss-and-gradient evaluation at 400 px: (a) the book's "
           "batch of three against (b) nst_teach (`speed.evaluation`)",
           3.5, "(b) at least 3.5x faster; docs/benchmarks.md, first table; benchmarks.png, left"),
    Target("throughput", "(b)'s GFLOP/s against this machine's float32 matmul (`speed.evaluation`)",
           1.0, "at least matmul's rate; docs/benchmarks.md, under the first table"),
    Target("time_to_quality", "wall time to the book's final loss: the book's 20 x 20 restarted "
           "L-BFGS against coarse to fine (`speed.time_to_quality`)",
           0.25, "at most a quarter of the book's time; docs/benchmarks.md, time-to-quality "
           "table; benchmarks.png, right"),
    Target("preview_seconds", "seconds from Run to the first 128 px picture in a fresh process, "
           "build and tracing included (`speed.processes`)",
           10.0, "within 10 s; docs/benchmarks.md, first-preview table"),
    Target("memory_bytes", "peak resident memory at 400 px in a fresh process (`speed.processes`)",
           2e9, "under 2 GB; docs/benchmarks.md, memory table"),
)
GOALS = {target.name: target.goal for target in TARGETS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: small sizes, no long runs")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--quality-height", type=int, default=400,
                        help="height of the time-to-quality runs (book: 400; lower it on a "
                             "machine that is busy with other work)")
    parser.add_argument("--repeats", type=int, default=5, help="timed evaluations per path and size")
    parser.add_argument("--thread-rounds", type=int, default=2,
                        help="rounds of the thread-pool comparison")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite docs/benchmarks.md and the plot from bench/results/latest.json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from speed.report import report, write_doc, write_plot

    if args.report_only:
        results = json.loads((RESULTS / "latest.json").read_text())
        write_plot(results, PLOT)
        write_doc(report(results, GOALS), DOC)
        return 0
    if args.child:
        from speed.processes import child

        print(json.dumps(child(*args.child)))
        return 0
    results = measure(args, argv)
    text = report(results, GOALS)
    log(text)
    if args.quick:
        write_plot(results, RESULTS / "quick.png")
    elif not args.no_doc:
        write_plot(results, PLOT)
        write_doc(text, DOC)
    log(f"done in {results['total_seconds']:.0f} s")
    return 0


def measure(args, argv):
    """Every section in turn; the results are saved after each, so a crash keeps what was measured."""
    import tensorflow as tf

    from speed.evaluation import bench_layers, bench_per_evaluation, matmul_gflops
    from speed.processes import bench_memory, bench_threads, in_subprocess
    from speed.time_to_quality import bench_time_to_quality

    t0 = time.perf_counter()
    quick = args.quick
    heights = (128, 256) if quick else (128, 256, 400)
    if not quick and args.quality_height not in heights:  # (a)'s time there, for the estimate
        heights = tuple(sorted((*heights, args.quality_height)))
    repeats = 2 if quick else args.repeats
    results = {
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "command": "python " + " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
                   f"TensorFlow {tf.__version__}, Python {platform.python_version()}",
        "device": device_name(),
        "repeats": repeats,
        "load_before": os.getloadavg(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("quick.json" if quick else "latest.json")

    def save():
        path.write_text(json.dumps(results, indent=1))

    log(f"computing on {results['device']}")
    log("1. preview from a fresh process (128 px)")
    results["preview"] = [in_subprocess("preview", "random")]
    log(f"  {results['preview'][0]}")
    save()
    log("2. matmul throughput")
    results["matmul_gflops"] = matmul_gflops()
    log(f"  {results['matmul_gflops']:.0f} GFLOP/s")
    log("3. seconds per evaluation")
    results["per_evaluation"] = bench_per_evaluation(heights, repeats, with_xla=True)
    results["matmul_gflops_after"] = matmul_gflops()
    log(f"  matmul again: {results['matmul_gflops_after']:.0f} GFLOP/s")
    results["matmul_gflops"] = max(results["matmul_gflops"], results["matmul_gflops_after"])
    save()
    log("3b. each convolution, direct and Winograd")
    results["layers"] = bench_layers(128 if quick else 400, repeats)
    save()
    log("4. time to quality")
    quality = bench_time_to_quality(128 if quick else args.quality_height, quick,
                                    results["per_evaluation"])
    results["time_to_quality"] = quality
    log(f"  book {quality['book']['seconds']:.1f} s, final {quality['target_loss']:.6g}; "
        f"fast {quality['fast']['seconds']:.1f} s, reached at {quality['fast']['seconds_to_target']}")
    save()
    log("5. thread settings (subprocesses, alternated)")
    results["threads"] = bench_threads(quick, args.thread_rounds)
    log(f"  {results['threads']}")
    save()
    log("6. peak memory (subprocesses)")
    results["memory"] = bench_memory(quick)
    results["total_seconds"] = time.perf_counter() - t0
    results["load_after"] = os.getloadavg()
    save()
    return results


if __name__ == "__main__":
    sys.exit(main())
