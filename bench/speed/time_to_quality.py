"""Time to quality: the book's 20 x 20 restarted L-BFGS against nst_teach's coarse to fine."""

from __future__ import annotations

import time

from .common import CONTENT, STYLE

LOSS_STAGES = ((0.25, 60), (0.5, 80), (1.0, 200))
"""Stages that reach the book's final *loss* (VGG19 with random weights, 400 px):
72 and 94 full-size-equivalent evaluations on two pairs, against the book's 420.
Their *picture* loses the photo on a pretrained backbone: `nst_teach.config.FAST_STAGES`
is the schedule judged by its picture (bench/time_to_picture.py)."""


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
    """nst_teach's fast route (`nst_teach.schedule.coarse_to_fine`) to the book's final loss."""
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

    result = coarse_to_fine(CONTENT, STYLE, height=height, backbone="random",
                           stages=stages or LOSS_STAGES, on_event=on_event,
                           target_loss=target)
    result.stage_evaluations = stage_evaluations
    return result, timeline, time.perf_counter() - start


def first_time_below(timeline, target):
    """The first time in `timeline` ((seconds, loss) pairs) with a loss at or below `target`."""
    for seconds, loss in timeline:
        if loss <= target:
            return seconds
    return None


def bench_time_to_quality(height, quick, per_evaluation):
    """The book's schedule, then coarse to fine until the book's final loss, at `height`.

    `per_evaluation` (the rows of `nst_teach`'s per-evaluation section) gives
    (a)'s seconds per evaluation there, for the estimate of the book as written.
    """
    iterations = 3 if quick else 20
    _, book_timeline, book_seconds = run_book_schedule(height, iterations)
    target = min(loss for _, loss in book_timeline)
    fast, fast_timeline, fast_seconds = run_fast_route(
        height, target, ((0.5, 20), (1.0, 40)) if quick else None)
    a_row = [r for r in per_evaluation if r["height"] == height]
    return {
        "height": height,
        "book_iterations": iterations,
        "target_loss": target,
        "a_seconds_per_evaluation": a_row[0]["seconds"]["a_book"] if a_row else float("nan"),
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
