"""Speed benchmark: nst_teach's path against the book's formulation (issue 4).

One command (from the repository root)::

    python bench/run.py            # full run, about 8 minutes on 2 free cores
    python bench/run.py --quick    # smoke test, about 2 minutes

It writes bench/results/latest.json, docs/benchmarks.png and the measured
tables inside docs/benchmarks.md (between the ``bench:begin``/``bench:end``
markers). Everything timed is measured in this one process, one run, with the
same weights (VGG19 with seeded random weights: `backbone="random"`, the
book's network at the book's cost, since ImageNet weights cannot be had
offline) and the same images (the package's examples grace_hopper and
swirls). Memory and the "fresh process" preview are measured in
subprocesses, each alone, so that their peaks do not mix.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks.png"
CONTENT, STYLE = "grace_hopper", "swirls"


# --------------------------------------------------------------------------
# (a) the book's formulation, re-implemented faithfully


def book_loss_and_grads(model, content_x, style_x, settings):
    """Deep Learning with Python 8.3 as written: one batch of three images.

    The content, style and combination images are concatenated into one
    batch that goes through VGG19 at every evaluation; the content target,
    the style Grams and the combination's features all come from that batch,
    and the gradient is taken with respect to the combination image. As in
    the book's `K.function([combination_image], [loss, grads])`, the whole is
    one graph (a `tf.function` here); layers the loss does not use are pruned
    by TensorFlow exactly as the book's session would prune them.
    """
    import tensorflow as tf

    from nst_teach.features import Targets
    from nst_teach.losses import gram_matrix, weighted_losses
    from nst_teach.optimize import for_scipy, gradient_step

    network = tf.keras.Model(model.input, {n: model.get_layer(n).output for n in settings.layers})
    content = tf.constant(content_x)
    style = tf.constant(style_x)

    def loss(x):
        features = network(tf.concat([content, style, x], axis=0))
        targets = Targets(
            features[settings.content_layer][0:1],
            {n: gram_matrix(features[n][1]) for n in settings.style_layers},
        )
        combination = {n: f[2:3] for n, f in features.items()}
        return weighted_losses(combination, targets, x, settings)

    return for_scipy(gradient_step(loss), content_x.shape)


# --------------------------------------------------------------------------
# helpers


def setup(height, backbone="random"):
    """Images, extractor and targets at `height`, as `transfer` prepares them."""
    from nst_teach import BOOK, data, images
    from nst_teach.backbones import load_backbone
    from nst_teach.features import compute_targets, feature_extractor
    from nst_teach.optimize import prepare_images

    settings = BOOK.replace(height=height, backbone=backbone)
    content, style = prepare_images(data.example(CONTENT), data.example(STYLE), settings)
    content_x, style_x = images.preprocess(content), images.preprocess(style)
    model, _ = load_backbone(backbone)
    extractor = feature_extractor(model, settings.layers, settings.convolution)
    targets = compute_targets(extractor, content_x, style_x, settings)
    return settings, model, extractor, targets, content_x, style_x


def conv_flops(model, layers, height, width):
    """FLOPs of one forward pass and one input-gradient pass, up to the deepest layer.

    Counted from the layer shapes as a direct convolution does them: a k x k
    convolution from C_in to C_out channels on an h x w map costs
    2 k^2 C_in C_out h w FLOPs (a multiply and an add), and its gradient with
    respect to its input costs the same. Bias, ReLU, pooling and the losses are
    left out (they are well under 1 %).
    """
    import keras

    deepest = max(model.layers.index(model.get_layer(n)) for n in layers)
    h, w, forward = height, width, 0
    for layer in model.layers[1 : deepest + 1]:
        if isinstance(layer, keras.layers.MaxPooling2D):
            h, w = h // 2, w // 2
        elif isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel_size[0] * layer.kernel_size[1]
            c_in = layer.kernel.shape[2]
            forward += 2 * k * c_in * layer.filters * h * w
    return forward, forward  # forward, input gradient


def timed(fn, x, repeats):
    """Median seconds of `fn(x)` over `repeats` calls (after one warm-up call)."""
    import numpy as np

    fn(x)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), seconds


def interleaved(paths, x, repeats):
    """Median seconds of each ``paths[name](x)``, and the samples, timed in turns.

    All paths are warmed up (traced) first; then each round calls every path
    once, so that a burst of load from elsewhere hits all of them alike.
    """
    import numpy as np

    for fn in paths.values():
        fn(x)
    samples = {name: [] for name in paths}
    for _ in range(repeats):
        for name, fn in paths.items():
            start = time.perf_counter()
            fn(x)
            samples[name].append(time.perf_counter() - start)
    return {name: float(np.median(v)) for name, v in samples.items()}, samples


def matmul_gflops(n=2048, repeats=10):
    """This machine's dense float32 matmul throughput, in GFLOP/s (best of 3 rounds)."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    mm = tf.function(lambda a, b: tf.matmul(a, b))
    mm(a, b).numpy()
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            c = mm(a, b)
        c.numpy()
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def log(*args):
    print(*args, flush=True)


# --------------------------------------------------------------------------
# 1 and 2: seconds per evaluation, and throughput


def bench_per_evaluation(heights, repeats, with_xla=True):
    import numpy as np

    import tensorflow as tf

    from nst_teach.features import feature_extractor
    from nst_teach.optimize import make_loss_and_grads, traced_step

    rows = []
    for height in heights:
        settings, model, extractor, targets, content_x, style_x = setup(height)
        x = content_x.ravel().astype(np.float64)
        book = book_loss_and_grads(model, content_x, style_x, settings)
        ours = make_loss_and_grads(extractor, targets, settings, content_x.shape)
        step = traced_step(extractor, settings, content_x.shape)
        x32 = tf.constant(content_x)

        def graph_only(_):  # (b) without the float64 hand-over to scipy
            parts, grad = step(x32, targets)
            return float(parts["total"]), grad.numpy()

        direct = feature_extractor(model, settings.layers, "direct")  # TensorFlow's kernels only
        paths = {"a_book": book, "b_nst_teach": ours, "b_graph_only": graph_only,
                 "b_direct": make_loss_and_grads(direct, targets, settings, content_x.shape)}
        if with_xla:
            paths["b_xla"] = make_loss_and_grads(extractor, targets, settings, content_x.shape,
                                                 jit_compile=True)
        medians, samples = interleaved(paths, x, repeats)
        losses = {name: fn(x)[0]["total"] for name, fn in paths.items() if name != "b_graph_only"}
        forward, backward = conv_flops(model, settings.layers, *content_x.shape[1:3])
        row = {
            "height": height,
            "width": int(content_x.shape[2]),
            "seconds": medians,
            "samples": samples,
            "loss": losses,
            "ratio_a_over_b": medians["a_book"] / medians["b_nst_teach"],
            "ratio_a_over_b_direct": medians["a_book"] / medians["b_direct"],
            "handover_seconds": medians["b_nst_teach"] - medians["b_graph_only"],
            "flops_b": forward + backward,
            "gflops_b": (forward + backward) / medians["b_nst_teach"] / 1e9,
        }
        if with_xla:
            row["ratio_xla_over_b"] = medians["b_xla"] / medians["b_nst_teach"]
        rows.append(row)
        log(f"  {height} px: a {medians['a_book']:.3f} s, b {medians['b_nst_teach']:.3f} s, "
            f"a/b {row['ratio_a_over_b']:.2f}, b {row['gflops_b']:.0f} GFLOP/s, "
            f"b direct {medians['b_direct']:.3f} s"
            + (f", xla {medians['b_xla']:.3f} s" if with_xla else ""))
    return rows


def bench_layers(height, repeats):
    """Each 3x3 convolution of VGG19 up to block5_conv2, forward and input gradient,
    with TensorFlow's kernel and with Winograd: which layers Winograd should take."""
    import keras
    import numpy as np
    import tensorflow as tf

    from nst_teach.backbones import load_backbone
    from nst_teach.winograd import conv3x3, uses_winograd

    model, _ = load_backbone("random")
    rng = np.random.default_rng(0)
    h, w, rows = height, int(round(height * 341 / 400)), []
    for layer in model.layers[1:model.layers.index(model.get_layer("block5_conv2")) + 1]:
        if isinstance(layer, keras.layers.MaxPooling2D):
            h, w = h // 2, w // 2
            continue
        kernel = layer.kernel.numpy()
        x = tf.constant(rng.normal(size=(1, h, w, kernel.shape[2])).astype(np.float32))
        winograd = conv3x3(kernel)

        def through(conv):
            @tf.function
            def step(x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.reduce_sum(tf.nn.relu(conv(x)))
                return tape.gradient(y, x)
            return lambda x: step(x).numpy()

        paths = {"direct": through(lambda x: tf.nn.conv2d(x, kernel, 1, "SAME")),
                 "winograd": through(winograd)}
        medians, _ = interleaved(paths, x, repeats)
        rows.append({"layer": layer.name, "height": h, "width": w, "c_in": int(kernel.shape[2]),
                     "c_out": int(kernel.shape[3]), "seconds": medians,
                     "speedup": medians["direct"] / medians["winograd"],
                     "uses_winograd": uses_winograd(layer)})
        log(f"  {layer.name} {h}x{w} {kernel.shape[2]}->{kernel.shape[3]}: direct "
            f"{medians['direct'] * 1e3:.1f} ms, winograd {medians['winograd'] * 1e3:.1f} ms")
    return rows


# --------------------------------------------------------------------------
# 3: time to quality


def run_book_schedule(height, iterations=20):
    """The book's 20 x 20 restarted L-BFGS at `height`, with nst_teach's evaluation."""
    from nst_teach import Evaluation, transfer

    timeline = []
    start = time.perf_counter()

    def on_event(event):
        if isinstance(event, Evaluation):
            timeline.append((time.perf_counter() - start, event.loss))

    result = transfer(CONTENT, STYLE, height=height, iterations=iterations, backbone="random",
                      on_event=on_event)
    return result, timeline, time.perf_counter() - start


def run_fast_route(height, target=None, stages=None):
    """nst_teach's fast route (`nst_teach.schedule.coarse_to_fine`) to the book's quality."""
    from nst_teach import Evaluation
    from nst_teach.schedule import coarse_to_fine

    timeline = []  # (seconds, loss at full size) of the full-size stage only
    start = time.perf_counter()

    stage_evaluations = {}

    def on_event(event):
        if not isinstance(event, Evaluation):
            return
        stage_evaluations[event.height] = stage_evaluations.get(event.height, 0) + 1
        if event.height == height:
            timeline.append((time.perf_counter() - start, event.loss))

    from nst_teach.schedule import FAST_STAGES

    result = coarse_to_fine(CONTENT, STYLE, height=height, backbone="random",
                           stages=stages or FAST_STAGES, on_event=on_event,
                           target_loss=target)
    result.stage_evaluations = stage_evaluations
    return result, timeline, time.perf_counter() - start


def first_time_below(timeline, target):
    for seconds, loss in timeline:
        if loss <= target:
            return seconds
    return None


# --------------------------------------------------------------------------
# 4 and the preview: subprocesses


def child_memory(height, evaluations):
    """Peak resident memory of a fresh process: build, targets, `evaluations` evaluations."""
    import numpy as np

    from nst_teach.optimize import make_loss_and_grads

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
    from nst_teach.optimize import make_loss_and_grads

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


def in_subprocess(kind, *args):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, *map(str, args)]
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


# --------------------------------------------------------------------------
# report


def write_plot(results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["per_evaluation"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    labels = [f"{r['height']}x{r['width']}" for r in rows]
    xs = range(len(rows))
    names = [("a_book", "(a) book: batch of 3"), ("b_direct", "(b) direct convolutions"),
             ("b_nst_teach", "(b) nst_teach (Winograd)"), ("b_xla", "(b) with XLA")]
    names = [(k, label) for k, label in names if k in rows[0]["seconds"]]
    width = 0.8 / len(names)
    for i, (key, label) in enumerate(names):
        values = [r["seconds"][key] for r in rows]
        bars = ax.bar([x + (i - (len(names) - 1) / 2) * width for x in xs], values, width,
                      label=label)
        if key == "b_nst_teach":
            for bar, r in zip(bars, rows):
                ax.annotate(f"a/b {r['ratio_a_over_b']:.1f}x", (bar.get_x() + width / 2,
                            bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), labels)
    ax.set_xlabel("image size (height x width, px)")
    ax.set_ylabel("seconds per loss-and-gradient evaluation")
    ax.set_title("Per evaluation (VGG19, random weights, 2 cores)")
    ax.legend()

    ax = axes[1]
    quality = results.get("time_to_quality")
    if quality:
        import numpy as np

        iters = quality["book_iterations"]
        for key, label in (("book", f"book: {iters} x 20 restarted L-BFGS"),
                           ("fast", "nst_teach coarse_to_fine (full-size stage)")):
            run = quality[key]
            t, loss = zip(*run["timeline"])
            ax.plot(t, np.minimum.accumulate(loss), label=label)
        target = quality["target_loss"]
        ax.axhline(target, color="grey", ls="--", lw=1, label="book's final loss")
        for key in ("book", "fast"):
            reach = quality[key]["seconds_to_target"]
            if reach is not None:
                ax.axvline(reach, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        low = min(l for run in (quality["book"], quality["fast"]) for _, l in run["timeline"])
        high = quality["book"]["timeline"][min(5, len(quality["book"]["timeline"]) - 1)][1]
        ax.set_ylim(low * 0.8, high * 1.2)
        ax.set_xlabel("wall time (s, from the call, including build and tracing)")
        ax.set_ylabel("lowest loss so far (book formula)")
        ax.set_title(f"Time to quality at {quality['height']} px")
        ax.legend()
    fig.tight_layout()
    PLOT.parent.mkdir(exist_ok=True)
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def device_name():
    """What TensorFlow computes on: its first GPU if it sees one (Winograd is then off), else CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU {details.get('device_name', gpus[0].name)} (TensorFlow's kernels, no Winograd)"


def gb(n):
    return f"{n / 1e9:.2f} GB"


def report(results):
    """Markdown tables of the results, and the targets met or missed."""
    lines = [
        f"Run: {results['started']} UTC, `{results['command']}`, {results['machine']}, "
        f"computing on {results.get('device', 'CPU')}. "
        "VGG19 with seeded random weights (`backbone=\"random\"`: the book's network and "
        f"cost), images `{CONTENT}` and `{STYLE}`. Load average (1 min) before and after: "
        f"{results['load_before'][0]:.1f} and {results.get('load_after', [float('nan')])[0]:.1f} on "
        f"{os.cpu_count()} cores (other work shares this machine; ratios are measured "
        "in one process, interleaved, so they hold better than absolute times).",
        "",
        "| size (px) | (a) book, batch of 3 (s/eval) | (b) nst_teach (s/eval) | a/b "
        "| (b) with direct convolutions (s/eval) | a/b direct | (b) with XLA (s/eval) "
        "| (b) GFLOP/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["per_evaluation"]:
        s = r["seconds"]
        xla = f"{s['b_xla']:.3f}" if "b_xla" in s else "-"
        lines.append(f"| {r['height']} x {r['width']} | {s['a_book']:.3f} | {s['b_nst_teach']:.3f} "
                     f"| **{r['ratio_a_over_b']:.2f}x** | {s['b_direct']:.3f} "
                     f"| {r['ratio_a_over_b_direct']:.2f}x | {xla} | {r['gflops_b']:.0f} |")
    top = results["per_evaluation"][-1]
    mm = results["matmul_gflops"]
    lines += [
        "",
        f"Medians of {results['repeats']} interleaved evaluations per path. "
        f"Dense float32 matmul (2048 x 2048, same process): **{mm:.0f} GFLOP/s**. "
        f"(b) at {top['height']} px does {top['flops_b'] / 1e9:.0f} GFLOP per evaluation "
        "(direct-convolution count: forward and input gradient up to block5_conv2; "
        "Winograd does fewer multiplications, so the rate can pass matmul's), "
        f"{top['gflops_b']:.0f} GFLOP/s = {top['gflops_b'] / mm:.0%} of matmul.",
        "",
    ]
    quality = results.get("time_to_quality")
    if quality:
        book, fast = quality["book"], quality["fast"]
        a_estimate = book["evaluations"] * quality["a_seconds_per_evaluation"]
        iters = quality["book_iterations"]
        stages = " + ".join(f"{n} at {h} px" for h, n in sorted(fast["stage_evaluations"].items()))
        lines += [
            f"Time to quality at {quality['height']} px (wall time from the call, "
            "including building and tracing):",
            "",
            "| route | evaluations | cost in full-size evaluations | total time (s) "
            "| final loss | time to the book's final loss (s) |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| book: {iters} x 20 restarted L-BFGS, (b)'s evaluation | {book['evaluations']} "
            f"| {book['evaluations']} | {book['seconds']:.1f} | {book['final_loss']:.6g} "
            f"| {book['seconds_to_target']:.1f} |",
            f"| book: {iters} x 20 with (a)'s evaluation (estimate: evaluations x (a) s/eval) "
            f"| {book['evaluations']} | {book['evaluations']} | ~{a_estimate:.0f} | same "
            f"| ~{a_estimate:.0f} |",
            f"| nst_teach `coarse_to_fine` (stops at the book's final loss) | {stages} "
            f"| {fast['full_size_equivalent']:.0f} | {fast['seconds']:.1f} "
            f"| {fast['final_loss']:.6g} | {_fmt(fast['seconds_to_target'])} |",
            "",
        ]
    memory = results.get("memory") or {"rows": []}
    lines += ["Peak resident memory (fresh process: build, targets, one evaluation):", "",
              "| size (px) | peak RSS | s/eval |", "| --- | --- | --- |"]
    for r in memory["rows"]:
        lines.append(f"| {r['height']} x {r['width']} | {gb(r['peak_bytes'])} "
                     f"| {r['seconds_per_evaluation']:.2f} |")
    largest = memory.get("largest_under_4gb")
    if largest:
        lines += ["", f"Largest size tried that fits in 4 GB: {largest['height']} x "
                  f"{largest['width']} px ({gb(largest['peak_bytes'])})."]
    lines.append("")
    if results.get("preview"):
        lines += ["First stylised preview, fresh process (`transfer(..., height=128, "
                  "iterations=1)`, 20 evaluations):", "",
                  "| backbone | import (s) | build the network (s) | transfer: targets, trace, "
                  f"{results['preview'][0]['evaluations']} evals (s) | total (s) "
                  "| same call again (s) |", "| --- | --- | --- | --- | --- | --- |"]
        for p in results["preview"]:
            lines.append(f"| {p['backbone']} | {p['import_seconds']:.1f} "
                         f"| {p['build_seconds']:.1f} | {p['call_seconds']:.1f} "
                         f"| {p['total_seconds']:.1f} | {p['second_call_seconds']:.1f} |")
        lines.append("")
    if results.get("threads"):
        base = results["threads"][0]["seconds"]
        lines += ["Thread pools (fresh process each, (b) at 256 px, best of the runs; "
                  "intra-op 0 = TensorFlow's default, one thread per core; inter-op 0 = "
                  "nst_teach's default, one thread, which `import nst_teach` sets; (2, 2) is "
                  "TensorFlow's own default on this machine):", "",
                  "| intra-op | inter-op | s/eval | vs default |", "| --- | --- | --- | --- |"]
        for t in results["threads"]:
            lines.append(f"| {t['intra']} | {t['inter']} | {t['seconds']:.3f} "
                         f"| {t['seconds'] / base:.2f} |")
        lines.append("")
    if results.get("layers"):
        first = results["layers"][0]
        lines += [f"Each 3x3 convolution alone at {first['height']} px (forward and input "
                  "gradient, median ms; Winograd where marked, TensorFlow's kernel elsewhere):",
                  "", "| layer | map (px) | channels | direct (ms) | Winograd (ms) | speed-up "
                  "| used |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in results["layers"]:
            lines.append(f"| {r['layer']} | {r['height']} x {r['width']} | {r['c_in']} -> "
                         f"{r['c_out']} | {r['seconds']['direct'] * 1e3:.1f} "
                         f"| {r['seconds']['winograd'] * 1e3:.1f} | {r['speedup']:.2f}x "
                         f"| {'Winograd' if r['uses_winograd'] else 'direct'} |")
        lines.append("")
    lines += ["Targets:", ""] + [f"- {t}" for t in targets(results)]
    return "\n".join(lines)


def _fmt(value):
    return "not reached" if value is None else f"{value:.1f}"


def targets(results):
    out = []
    top = results["per_evaluation"][-1]

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    ratio = top["ratio_a_over_b"]
    out.append(f"(b) at least 3.5x faster than (a) per evaluation at {top['height']} px: "
               f"{ratio:.2f}x, {verdict(ratio >= 3.5)}.")
    mm = results["matmul_gflops"]
    out.append(f"(b)'s throughput at least matmul's: {top['gflops_b']:.0f} vs {mm:.0f} GFLOP/s, "
               f"{verdict(top['gflops_b'] >= mm)}.")
    quality = results.get("time_to_quality")
    if quality:
        book, fast = quality["book"], quality["fast"]
        reach = fast["seconds_to_target"]
        a_estimate = book["evaluations"] * quality["a_seconds_per_evaluation"]
        if reach is None:
            out.append("Time to the book's final loss at most a quarter of the book schedule's: "
                       "the fast route did not reach it, **missed**.")
        else:
            out.append(
                f"Time to the book's final loss at most a quarter of the book schedule's: "
                f"{reach:.1f} s vs {book['seconds']:.1f} s with (b)'s evaluation "
                f"({reach / book['seconds']:.0%}, {verdict(reach <= book['seconds'] / 4)}); "
                f"vs ~{a_estimate:.0f} s for the book as written "
                f"({reach / a_estimate:.0%}, {verdict(reach <= a_estimate / 4)}).")
    if results.get("preview"):
        p = results["preview"][0]
        run = p["build_seconds"] + p["call_seconds"]
        cpu = (f"; the process used {p['cpu_seconds']:.0f} CPU seconds in all, "
               f"{p['cpu_seconds'] / os.cpu_count():.1f} s of wall time on {os.cpu_count()} "
               "free cores") if "cpu_seconds" in p else ""
        out.append(f"First 128 px preview within 10 s of Run (model build and tracing "
                   f"included, {p['backbone']}): {run:.1f} s "
                   f"({p['total_seconds']:.1f} s counting Python importing TensorFlow too{cpu}), "
                   f"{verdict(run <= 10)}.")
    if results.get("memory"):
        peak = results["memory"]["rows"][0]["peak_bytes"]
        out.append(f"Peak memory at 400 px under 2 GB: {gb(peak)}, {verdict(peak < 2e9)}.")
    return out


def write_doc(text):
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    doc = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


# --------------------------------------------------------------------------


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
    if args.report_only:
        results = json.loads((RESULTS / "latest.json").read_text())
        write_plot(results)
        write_doc(report(results))
        return 0
    if args.child:
        kind, *rest = args.child
        if kind == "memory":
            print(json.dumps(child_memory(int(rest[0]), int(rest[1]))))
        elif kind == "threads":
            print(json.dumps(child_threads(int(rest[0]), int(rest[1]))))
        elif kind == "preview":
            print(json.dumps(child_preview(rest[0])))
        return 0

    import tensorflow as tf

    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    t0 = time.perf_counter()
    quick = args.quick
    heights = (128, 256) if quick else (128, 256, 400)
    if not quick and args.quality_height not in heights:  # (a)'s time there, for the estimate
        heights = tuple(sorted((*heights, args.quality_height)))
    repeats = 2 if quick else args.repeats
    results = {
        "started": started,
        "command": "python " + " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
                   f"TensorFlow {tf.__version__}, Python {platform.python_version()}",
        "device": device_name(),
        "repeats": repeats,
        "load_before": os.getloadavg(),
    }
    log(f"computing on {results['device']}")
    log("1. preview from a fresh process (128 px)")
    results["preview"] = [in_subprocess("preview", "random")]
    log(f"  {results['preview'][0]}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    partial = RESULTS / ("quick.json" if quick else "latest.json")

    def save():  # after every section, so that a crash or a kill keeps what was measured
        partial.write_text(json.dumps(results, indent=1))

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
    height = 128 if quick else args.quality_height
    book, book_timeline, book_seconds = run_book_schedule(height, 3 if quick else 20)
    target = min(loss for _, loss in book_timeline)
    fast, fast_timeline, fast_seconds = run_fast_route(
        height, target, ((0.5, 20), (1.0, 40)) if quick else None)
    a_row = [r for r in results["per_evaluation"] if r["height"] == height]
    a_seconds = a_row[0]["seconds"]["a_book"] if a_row else float("nan")
    results["time_to_quality"] = {
        "height": height,
        "book_iterations": 3 if quick else 20,
        "target_loss": target,
        "a_seconds_per_evaluation": a_seconds,
        "book": {"timeline": book_timeline, "seconds": book_seconds,
                 "evaluations": len(book_timeline), "final_loss": target,
                 "seconds_to_target": first_time_below(book_timeline, target)},
        "fast": {"timeline": fast_timeline, "seconds": fast_seconds,
                 "stage_evaluations": fast.stage_evaluations,
                 "full_size_equivalent": sum(n * (h / height) ** 2
                                             for h, n in fast.stage_evaluations.items()),
                 "evaluations": len(fast_timeline),
                 "final_loss": min(l for _, l in fast_timeline),
                 "seconds_to_target": first_time_below(fast_timeline, target)},
    }
    log(f"  book {book_seconds:.1f} s, final {target:.6g}; fast {fast_seconds:.1f} s, "
        f"reached at {results['time_to_quality']['fast']['seconds_to_target']}")
    save()
    log("5. thread settings (subprocesses, alternated)")
    configs = ((0, 0), (2, 2), (1, 1)) if not quick else ((0, 0), (2, 2))
    thread_rows = {c: [] for c in configs}
    for _ in range(1 if quick else args.thread_rounds):
        for c in configs:
            thread_rows[c].append(in_subprocess("threads", *c)["seconds"])
    results["threads"] = [{"intra": c[0], "inter": c[1], "seconds": min(v)}
                          for c, v in thread_rows.items()]
    log(f"  {results['threads']}")
    save()
    log("6. peak memory (subprocesses)")
    results["memory"] = bench_memory(quick)
    results["total_seconds"] = time.perf_counter() - t0
    results["load_after"] = os.getloadavg()

    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "quick.json" if quick else "latest.json"
    (RESULTS / name).write_text(json.dumps(results, indent=1))
    text = report(results)
    log(text)
    if not args.no_doc and not quick:
        write_plot(results)
        write_doc(text)
    elif quick:
        write_plot_to = RESULTS / "quick.png"
        global PLOT
        PLOT = write_plot_to
        write_plot(results)
    log(f"done in {results['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
