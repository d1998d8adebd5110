"""The speed benchmark's report: markdown tables, the verdict on each target, the plot."""

from __future__ import annotations

import os

from .common import CONTENT, STYLE


def write_plot(results, path):
    """The per-evaluation bars and the time-to-quality curves, as a PNG at `path`."""
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
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def gb(n):
    return f"{n / 1e9:.2f} GB"


def report(results, goals):
    """Markdown tables of the results, and the targets (`goals`, see `targets`) met or missed."""
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
    lines += ["Targets:", ""] + [f"- {t}" for t in targets(results, goals)]
    return "\n".join(lines)


def _fmt(value):
    return "not reached" if value is None else f"{value:.1f}"


def targets(results, goals):
    """A sentence per target measured: the figure, the goal and **met** or **missed**.

    `goals` maps each target's name to its threshold (`bench/run.py`'s table):
    ``speedup`` (a/b per evaluation), ``throughput`` (b's GFLOP/s over
    matmul's), ``time_to_quality`` (the fast route's share of the book's
    time), ``preview_seconds`` and ``memory_bytes`` (at 400 px).
    """
    out = []
    top = results["per_evaluation"][-1]

    def verdict(ok):
        return "**met**" if ok else "**missed**"

    ratio = top["ratio_a_over_b"]
    out.append(f"(b) at least {goals['speedup']:g}x faster than (a) per evaluation at "
               f"{top['height']} px: {ratio:.2f}x, {verdict(ratio >= goals['speedup'])}.")
    mm = results["matmul_gflops"]
    times = "" if goals["throughput"] == 1 else f"{goals['throughput']:g}x "
    out.append(f"(b)'s throughput at least {times}matmul's: "
               f"{top['gflops_b']:.0f} vs {mm:.0f} GFLOP/s, "
               f"{verdict(top['gflops_b'] >= goals['throughput'] * mm)}.")
    quality = results.get("time_to_quality")
    if quality:
        book, fast = quality["book"], quality["fast"]
        reach, share = fast["seconds_to_target"], goals["time_to_quality"]
        a_estimate = book["evaluations"] * quality["a_seconds_per_evaluation"]
        part = {0.25: "a quarter", 0.5: "half"}.get(share, f"{share:.0%}")
        goal = f"Time to the book's final loss at most {part} of the book schedule's"
        if reach is None:
            out.append(f"{goal}: the fast route did not reach it, **missed**.")
        else:
            out.append(
                f"{goal}: {reach:.1f} s vs {book['seconds']:.1f} s with (b)'s evaluation "
                f"({reach / book['seconds']:.0%}, {verdict(reach <= book['seconds'] * share)}); "
                f"vs ~{a_estimate:.0f} s for the book as written "
                f"({reach / a_estimate:.0%}, {verdict(reach <= a_estimate * share)}).")
    if results.get("preview"):
        p = results["preview"][0]
        run = p["build_seconds"] + p["call_seconds"]
        cpu = (f"; the process used {p['cpu_seconds']:.0f} CPU seconds in all, "
               f"{p['cpu_seconds'] / os.cpu_count():.1f} s of wall time on {os.cpu_count()} "
               "free cores") if "cpu_seconds" in p else ""
        out.append(f"First 128 px preview within {goals['preview_seconds']:g} s of Run (model "
                   f"build and tracing included, {p['backbone']}): {run:.1f} s "
                   f"({p['total_seconds']:.1f} s counting Python importing TensorFlow too{cpu}), "
                   f"{verdict(run <= goals['preview_seconds'])}.")
    if results.get("memory"):
        peak = results["memory"]["rows"][0]["peak_bytes"]
        out.append(f"Peak memory at 400 px under {goals['memory_bytes'] / 1e9:g} GB: {gb(peak)}, "
                   f"{verdict(peak < goals['memory_bytes'])}.")
    return out


def write_doc(text, path):
    """Put `text` between the ``bench:begin`` and ``bench:end`` markers of the doc at `path`."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    doc = path.read_text() if path.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}")
