"""The book's style transfer: `transfer`, and what a run produced (`Result`).

Taught in notebook 06 (the optimisation). The parts have their own modules:
the loss-and-gradient step and the `Evaluator` that feeds scipy
(`nst_teach.evaluator`), the set-up of images, targets and start
(`nst_teach.problem`), and the optimisers (`nst_teach.optimizers`). Their
names are importable from here too, as before.
"""

from __future__ import annotations

__all__ = [
    "Result", "transfer",
    # defined in nst_teach.evaluator, nst_teach.problem and nst_teach.optimizers; kept here
    # so that code written before the split still imports them from nst_teach.optimize
    "StopRun", "BudgetSpent", "LossNotFinite", "History", "Evaluator", "make_loss_and_grads",
    "gradient_step", "for_scipy", "traced_step", "prepare_images", "Problem", "setup",
    "restarted_lbfgs", "continuous_lbfgs", "adam", "warm_up", "evaluation_event", "COMPONENTS",
    "OPTIMIZERS",
]

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import images
from .config import BOOK
from .evaluator import (COMPONENTS, BudgetSpent, Evaluator, History, LossNotFinite, StopRun,
                        evaluation_event, for_scipy, gradient_step, make_loss_and_grads,
                        traced_step)
from .optimizers import OPTIMIZERS, adam, continuous_lbfgs, restarted_lbfgs
from .problem import Problem, prepare_images, setup, warm_up
from .progress import ProgressBar, Round, combine, emit, reject_old_listeners


@dataclass
class Result:
    """What a run produced: the image, its history and what was saved.

    Used by `nst_teach.schedule`.
    """

    image: np.ndarray  # uint8 RGB
    history: History
    settings: object
    backbone: str
    content: np.ndarray  # the resized content and style images the run used
    style: np.ndarray
    saved: list = field(default_factory=list)
    stopped: bool = False  # ended early by Ctrl-C or a stop (event.stop(), Evaluator.stop)
    stage_histories: list = field(default_factory=list)  # coarse to fine: (height, History) per stage

    @property
    def loss(self):
        return self.history.iteration_loss[-1] if self.history.iteration_loss else None

    @property
    def loss_curve(self):
        """What `nst_teach.plotting.plot_loss_history` draws: every stage if staged, else `history`."""
        return self.stage_histories or self.history

    @property
    def n_evaluations(self):
        """Loss evaluations of the whole run, every stage's included."""
        return sum(h.n_evaluations for _, h in self.stage_histories) or self.history.n_evaluations


def transfer(content, style, settings=BOOK, *, on_event=None, save_prefix=None,
             progress=False, mask=None, init_image=None, **changes):
    """Stylise `content` with `style` by the book's restarted L-BFGS (or `settings.optimizer`).

    After each of the `settings.iterations` rounds of
    ``fmin_l_bfgs_b(maxfun=settings.maxfun)`` the image may be saved and
    `on_event` gets a `nst_teach.progress.Round`. Ctrl-C or ``event.stop()``
    end the run early: the result then holds the best image seen so far and
    ``stopped=True``. With `settings.optimizer` "lbfgs" or "adam" the same
    ``iterations x maxfun`` evaluations are spent, and every `maxfun` of them
    count as an iteration. With `settings.stages` the run goes coarse to fine
    instead (`nst_teach.schedule.coarse_to_fine`): the rounds and the saved
    images then come once per stage.

    Parameters
    ----------
    content, style
        Paths, example names (`nst_teach.data.example_names`), PIL images or
        arrays; `style` may be a list (blended by `settings.style_blend`, or
        one per region of `mask`).
    settings : Settings
        Default the book's; keyword `changes` override single fields
        (``transfer(c, s, height=256)``, aliases such as ``preserve_colour`` too).
    on_event : callable, optional
        ``on_event(event)``, called with a `nst_teach.progress.Evaluation` after
        every loss evaluation (count, losses, ``image()``: progress between
        rounds, for a live picture) and a `nst_teach.progress.Round` after every
        round (its index, loss and image); ``event.stop()`` or a truthy return
        ends the run.
    save_prefix : str or Path, optional
        Save each round's image as ``<save_prefix>_at_iteration_<i>.png`` (atomically).
    progress : bool
        Show a progress bar.
    mask, init_image
        A region for the style, or a starting image: see `nst_teach.problem.setup`.

    Returns
    -------
    Result
        The image, its `History`, the settings, the backbone used and the
        images at their working size.

    Raises
    ------
    LossNotFinite
        When the loss becomes NaN or infinite; it carries the last finite image.
    ValueError
        For invalid settings or images, naming the problem.

    Taught in notebooks 01 and 02.
    """
    reject_old_listeners("transfer", changes)
    settings = settings.replace(**changes) if changes else settings
    if settings.stages is not None:
        from .schedule import coarse_to_fine

        return coarse_to_fine(content, style, settings, on_event=on_event, save_prefix=save_prefix,
                              progress=progress, mask=mask, init_image=init_image)
    problem = setup(content, style, settings, mask=mask, init_image=init_image)
    evaluator = Evaluator(problem.loss_and_grads)
    bar = ProgressBar(settings.iterations, Round) if progress else None
    listener = combine(bar, on_event)
    if listener is not None:
        evaluator.on_evaluation = lambda n: emit(listener, evaluation_event(evaluator, problem))
    result = Result(problem.image(problem.x0), evaluator.history, settings, problem.backbone,
                    problem.content, problem.style)
    clock = [time.perf_counter()]

    def end_of_iteration(i, x, loss):
        result.image = problem.image(x)
        result.history.record_iteration(float(loss), time.perf_counter() - clock[0])
        clock[0] = time.perf_counter()
        if save_prefix is not None:
            path = Path(f"{save_prefix}_at_iteration_{i}.png")
            result.saved.append(images.save_image(result.image, path))
        emit(listener, Round(i, settings.iterations, "iteration", {"total": float(loss)},
                             result.image, problem.shape[1], result.history, evaluator.stop))
        if evaluator.stop_requested:
            raise StopRun

    try:
        OPTIMIZERS[settings.optimizer](evaluator, problem.x0, settings, end_of_iteration)
    except (KeyboardInterrupt, StopRun):
        result.stopped = True
        if evaluator.best_x is not None:
            result.image = problem.image(evaluator.best_x)
    except LossNotFinite as error:
        error.image = None if evaluator.best_x is None else problem.image(evaluator.best_x)
        error.history = result.history
        raise
    finally:
        if bar is not None:
            bar.close()
    return result
