"""The one run loop of `nst_teach.transfer` and `nst_teach.schedule.coarse_to_fine`, and `Result`.

A run is a sequence of rounds (the book's L-BFGS restarts, or the stages of
a coarse-to-fine run), each spending evaluations of a `nst_teach.problem.Problem`
through an `nst_teach.evaluator.Evaluator`. What happens around them is the
same for both, and lives here once (`RunLoop`): the listeners get an
`Evaluation` after every evaluation and a `Round` after every round; each
round's image may be saved as ``<save_prefix>_at_iteration_<i>.png``; Ctrl-C
or a stop ends the run with the best image seen so far (``stopped=True``); a
loss that is not finite ends it with an error carrying the last finite image;
and the `Result` is built.
"""

from __future__ import annotations

__all__ = ["Result", "RunLoop"]

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import images
from .evaluator import Evaluator, History, LossNotFinite, StopRun, evaluation_event
from .progress import ProgressBar, Round, combine, emit


@dataclass
class Result:
    """What a run produced: the image, its history and what was saved.

    Used by `nst_teach.loop` (`RunLoop` builds it for `transfer` and `coarse_to_fine`).
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


class RunLoop:
    """What every run does around its optimiser: listeners, stops, saved rounds, the `Result`.

    Use it as a context manager (it closes the progress bar), `start` an
    `Evaluator` on each problem, run the optimiser inside `guard`, and call
    `end_round` after each round: ``unit`` "iteration" (rounds of one problem,
    `transfer`) or "stage" (one problem per round, `coarse_to_fine`, which
    keeps each stage's ``(height, History)``). `result` is the run's `Result`.

    Used by `nst_teach.optimize` and `nst_teach.schedule`.
    """

    def __init__(self, settings, rounds, unit, *, on_event=None, save_prefix=None, bar=None):
        self.settings, self.rounds, self.unit, self.save_prefix = settings, rounds, unit, save_prefix
        if save_prefix is not None:  # before any work: a run is not thrown away for a bad prefix
            images.check_writable(self._round_path(0))
        self.bar = ProgressBar(*bar) if bar is not None else None  # (total, event type counted)
        self.listener = combine(self.bar, on_event)
        self.result = None
        self.last_image = None  # the last finished round's
        self.stopped = False  # Ctrl-C, or a stop asked for by a listener or Evaluator.stop
        self.reached = False  # the target loss (see `start`) was reached
        self.problem = self.evaluator = None
        self._saved, self._stages, self._clock = [], [], None

    def __enter__(self):
        return self

    def __exit__(self, *error):
        if self.bar is not None:
            self.bar.close()

    def start(self, problem, stage=0, target_loss=None):
        """A new `Evaluator` on `problem`, whose evaluations the listeners see.

        With `target_loss`, the run ends (not stopped: done) once a loss is at or below it.
        """
        evaluator = Evaluator(problem.loss_and_grads)
        if self.listener is not None or target_loss is not None:
            def after_evaluation(n):
                emit(self.listener, evaluation_event(evaluator, problem, stage))
                if target_loss is not None and evaluator.loss_value <= target_loss:
                    self.reached = True
                    evaluator.stop()

            evaluator.on_evaluation = after_evaluation
        self.problem, self.evaluator = problem, evaluator
        if self.result is None:
            self.result = Result(problem.image(problem.x0), evaluator.history, self.settings,
                                 problem.backbone, problem.content, problem.style, self._saved)
        self._clock = time.perf_counter()
        return evaluator

    @contextmanager
    def guard(self):
        """Ctrl-C and stops inside end the run quietly; a loss that is not finite is raised on.

        A `LossNotFinite` then carries the best image with a finite loss (else
        the last round's) and the history. Ctrl-C before the first problem is
        set up has nothing to keep: it goes on to the caller.
        """
        try:
            yield
        except (KeyboardInterrupt, StopRun):
            if self.result is None:
                raise
            self.stopped = self.stopped or not self.reached
        except LossNotFinite as error:
            best = self.evaluator.best_x
            error.image = self.problem.image(best) if best is not None else self.last_image
            error.history = self.evaluator.history
            raise

    def end_round(self, index, x, loss, *, announce=True):
        """Round `index` ended at `x` (flat) with `loss`: record it, save its image, tell the listeners.

        Raises `StopRun` when a stop was asked for (run it inside `guard`).
        `announce` False records and saves a round cut short, without a `Round`.
        """
        problem, evaluator = self.problem, self.evaluator
        history = evaluator.history
        image = self.last_image = problem.image(x)
        now = time.perf_counter()
        history.record_iteration(float(loss), now - self._clock)
        self._clock = now
        if self.unit == "stage":
            self._stages.append((problem.shape[1], history))
        if self.save_prefix is not None:
            self._save(image, self._round_path(index))
        self.result = Result(image, history, self.settings, problem.backbone, problem.content,
                             problem.style, self._saved, stage_histories=self._stages)
        if announce:
            emit(self.listener, Round(index, self.rounds, self.unit, {"total": float(loss)}, image,
                                      problem.shape[1], history, evaluator.stop))
        if evaluator.stop_requested and not self.reached:
            raise StopRun

    def _round_path(self, index):
        return Path(f"{self.save_prefix}_at_iteration_{index}.png")

    def _save(self, image, path):
        """Save a round's image; if the disk refuses (full, removed), warn and run on: the
        result still holds the image."""
        try:
            self._saved.append(images.save_image(image, path))
        except OSError as error:
            warnings.warn(f"could not save {str(path)!r} ({error.strerror or error}); the run goes "
                          "on and its result keeps the image", RuntimeWarning, stacklevel=3)

    def finish(self):
        """The run's `Result`; if it was stopped, with the image its last problem showed
        (the best seen, or Adam's average: `Evaluator.shown_x`)."""
        if self.stopped:
            self.result.stopped = True
            shown = self.evaluator.shown_x()
            if shown is not None:
                self.result.image = self.problem.image(shown)
        return self.result
