"""A faster route to the book's result: coarse-to-fine, one long L-BFGS run per size.

The book restarts L-BFGS 20 times for 20 evaluations each at 400 px. Two things
waste time there: every restart throws away the curvature L-BFGS has learnt,
and the first hundreds of evaluations at full size only move colours around,
which a smaller image does four times cheaper. `coarse_to_fine` optimises the
same loss (same weights, layers and normalisation, so the same final loss
values) but first at smaller sizes (by default half the height), upsampling
the result each time, and finishes at full size with one uninterrupted L-BFGS
run. docs/benchmarks.md measures how much sooner it reaches the book's final
loss, and the book's picture as an independent judge scores it.

One thing must change with the size: the content loss is a sum over the
content layer's positions, so it shrinks with the image's area, while both
style normalisations divide the area out. A smaller stage therefore gets a
content weight larger by (full height / stage height)^2, so that the content
keeps its share of the loss and the photo is not lost at the coarse stages
(docs/quality.md).

With ``optimizer="adam"`` each stage runs Adam instead, its picture the
average of its steps when `Settings.adam_average` is set
(`nst_teach.optimizers.Adam`; docs/quality.md, "Adam with an averaged image").

Not the book's schedule: use `transfer` (the default) to compare with the book.
"""

from __future__ import annotations

__all__ = ["upsample", "coarse_to_fine", "first_look"]

import numpy as np

from .config import BOOK, FAST_STAGES
from .data import image_or_example
from .loop import RunLoop
from .optimizers import Adam, lbfgs
from .problem import setup
from .progress import Evaluation
from .stages import settings_per_stage, stage_heights
from .tensorflow_setup import tf


def upsample(x, size):
    """A preprocessed image batch (1, h, w, 3) resized to `size` = (H, W), bicubic, float32.

    Used by `nst_teach.schedule`.
    """
    resized = tf.image.resize(tf.constant(x, tf.float32), size, method="bicubic")
    return resized.numpy()


FIRST_LOOK = (64, 15)
"""(height in px, L-BFGS evaluations) of the playground's quick first look."""


def first_look(settings, content, height=FIRST_LOOK[0], evaluations=FIRST_LOOK[1]):
    """`settings` for a quick first look at `content`: a small, short, continuous L-BFGS run.

    A picture in about a second, whatever the size chosen; the full run then
    starts from it (``transfer(..., init_image=look.image)``) and sharpens it.
    Not the book's start, so the playground leaves it off for the book preset.
    `height` grows if the content is too narrow for the layers there.

    Used by `nst_teach.widgets`.
    """
    content = image_or_example(content)
    height = stage_heights(height, ((1.0, evaluations),), settings.layers,
                           content.shape[1] / content.shape[0])[0]
    return settings.replace(height=height, stages=None, optimizer="lbfgs", iterations=1,
                            maxfun=evaluations)


def coarse_to_fine(content, style, settings=BOOK, *, stages=None, history_size=None,
                  on_event=None, target_loss=None, mask=None, init_image=None,
                  save_prefix=None, progress=False, **changes):
    """Stylise `content` with `style` with the book's losses, smaller sizes first: its picture sooner.

    Same arguments as `nst_teach.transfer` for images, settings, `mask` and
    `init_image` (see `nst_teach.problem.setup`); instead of
    `settings.iterations` x `settings.maxfun` restarted L-BFGS, runs one
    L-BFGS (history `history_size`, default `settings.lbfgs_history`), or
    Adam if `settings.optimizer` is "adam", per
    stage of `stages` (default `settings.stages`, else `FAST_STAGES`), each
    ``(fraction of settings.height, evaluations)``, upsampling the image
    between stages. `transfer` calls this when `settings.stages` is set.

    Parameters
    ----------
    stages : tuple of (float, int), optional
        ``(fraction of settings.height, evaluations)`` per stage, the last at 1.
    history_size : int, optional
        L-BFGS memory m (default `settings.lbfgs_history`).
    on_event : callable, optional
        ``on_event(event)``, called with a `nst_teach.progress.Evaluation` after
        every evaluation (its `height` and `stage` say which stage) and a
        `nst_teach.progress.Round` (`unit` "stage") after every stage, as in
        `nst_teach.transfer`; ``event.stop()`` or a truthy return ends the run.
    target_loss : float, optional
        Stop as soon as the full-size loss is at or below it.
    save_prefix : str or Path, optional
        Save ``<save_prefix>_at_iteration_<stage>.png`` after each stage.
    progress : bool
        A progress bar over all the stages' evaluations.

    Returns
    -------
    nst_teach.loop.Result
        Its `history` is the full-size stage's (so its losses compare with the
        book's); its `stage_histories` lists every stage's ``(height, History)``.

    Taught in notebook 09.
    """
    settings = settings.replace(**changes) if changes else settings
    stages = stages or settings.stages or FAST_STAGES
    history_size = history_size or settings.lbfgs_history
    content = image_or_example(content)
    x, shape = None, None
    with RunLoop(settings, len(stages), "stage", on_event=on_event, save_prefix=save_prefix,
                 bar=(sum(n for _, n in stages), Evaluation) if progress else None) as loop:
        for index, ((_, evaluations), stage_settings) in enumerate(
                zip(stages, settings_per_stage(settings, stages, content))):
            last = index == len(stages) - 1
            with loop.guard():  # Ctrl-C between stages keeps the last stage's image
                problem = setup(content, style, stage_settings, mask=mask, init_image=init_image)
            if loop.stopped:
                break
            evaluator = loop.start(problem, index, target_loss if last else None)
            if x is None:
                start = problem.x0  # as `transfer`: the content image unless settings.init says
            else:
                start = upsample(x.reshape(shape), problem.shape[1:3]).ravel().astype(np.float64)
            x, loss = _run_stage(evaluator, start, evaluations, stage_settings, history_size, loop)
            shape = problem.shape
            with loop.guard():
                loop.end_round(index, x, loss, announce=not loop.stopped)
            if loop.stopped or loop.reached:
                break
    return loop.finish()


def _run_stage(evaluator, start, evaluations, settings, history_size, loop):
    """One stage's optimiser from `start`: (picture, its loss), kept when the run is stopped.

    L-BFGS (its best image), or Adam (`nst_teach.optimizers.Adam`) when
    `settings.optimizer` is "adam".
    """
    if settings.optimizer == "adam":
        adam = Adam(start, settings.learning_rate, settings.adam_average)
        with loop.guard():
            adam.run(evaluator, evaluations)
        return adam.shown(evaluator)
    with loop.guard():
        lbfgs(evaluator, start, evaluations, history_size, factr=10.0)
    if evaluator.best_x is None:
        return start, evaluator.best_loss
    return evaluator.best_x, evaluator.best_loss
