"""Progress as it happens: one event interface for every long run, and how to show it.

A round of the book's L-BFGS takes 20 evaluations, seconds to minutes on a
laptop; training a style network takes hundreds of steps. A student who sees
nothing until it ends thinks the run is stuck. Every long run therefore takes
one listener, ``on_event(event)``, and calls it with a typed event:

- `Evaluation` after every loss evaluation (`transfer`, `coarse_to_fine`);
- `Round` after every round of the book's L-BFGS, or every stage of a
  coarse-to-fine run, with that round's image;
- `TrainingStep` after every step of `nst_teach.fast.train`.

Every event can end its run: call ``event.stop()`` (or return a truthy
value); the run then ends with the best image (or the network trained so far)
kept and ``stopped=True``. `combine` joins several listeners into one;
`ProgressBar` draws a tqdm bar, `Throttle` decides when to redraw, and
`PreviewFile` writes the command line's ``--preview`` picture. The run itself
(its history, saved files and result) is the same with or without a listener.
Taught in notebook 07 (the playground).
"""

from __future__ import annotations

__all__ = ["Evaluation", "Round", "TrainingStep", "combine", "emit",
           "Throttle", "PreviewFile", "RoundFiles", "save_side_file", "ProgressBar"]

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


def _nothing():
    pass


class _Event:
    """What every event has: `stop()`, and `loss`, the weighted total of `losses`."""

    def stop(self):
        """End the run: at its next evaluation or step; the best result so far is kept."""
        self.stop_run()

    @property
    def loss(self):
        return self.losses["total"]


@dataclass(frozen=True)
class Evaluation(_Event):
    """One loss evaluation of a run, as ``on_event`` receives it (notebook 07's playground).

    `count` counts evaluations in this stage (the whole run without stages),
    `losses` holds the weighted ``total``, ``content``, ``style`` and ``tv``
    of this evaluation, `history` is the stage's `History` so far. `image()`
    renders the best image so far (RGB uint8): it costs a deprocessing, so it
    is a method, called only when a picture is wanted.

    Used by `nst_teach.evaluator`.
    """

    count: int
    losses: dict
    height: int  # the height being optimised (a stage's, with stages)
    stage: int  # 0 without stages
    history: object
    image: Callable
    stop_run: Callable = field(default=_nothing, repr=False, compare=False)


@dataclass(frozen=True)
class Round(_Event):
    """A round of the book's L-BFGS (`unit` "iteration") or a coarse-to-fine stage ("stage") ended.

    `index` counts from 0 up to `total` - 1; `image` is the round's image (RGB
    uint8, the one saved with ``save_prefix``), `losses` holds its loss as
    ``{"total": ...}``, `history` the run's (the stage's) `History`, with
    this round recorded.

    Taught in notebook 06. Used by `nst_teach.loop`.
    """

    index: int
    total: int
    unit: str
    losses: dict
    image: object
    height: int
    history: object
    stop_run: Callable = field(default=_nothing, repr=False, compare=False)


@dataclass(frozen=True)
class TrainingStep(_Event):
    """A training step of `nst_teach.fast.train` ended (steps count from 1 up to `total`).

    `losses` are the step's weighted ``total``, ``content``, ``style`` and
    ``tv``; `model` is the network being trained. Used by `nst_teach.fast.training`.
    """

    step: int
    total: int
    losses: dict
    model: object
    stop_run: Callable = field(default=_nothing, repr=False, compare=False)


def combine(*listeners):
    """One ``on_event`` listener calling each of `listeners` (None ones skipped) in turn.

    It returns True if any of them did (a truthy return stops the run, as
    ``event.stop()`` does); None if there is no listener at all.
    Used by `nst_teach.loop` and `nst_teach.fast.training`.
    """
    listeners = [listener for listener in listeners if listener is not None]
    if not listeners:
        return None

    def listener(event):
        return any([bool(each(event)) for each in listeners])  # a list: every one is called

    return listener


def emit(listener, event):
    """Give `event` to `listener` (if any); a truthy answer stops the run like ``event.stop()``.

    Used by `nst_teach.loop` and `nst_teach.fast.training`.
    """
    if listener is not None and listener(event):
        event.stop()


class Throttle:
    """True at most every `every` evaluations *and* every `seconds`, whichever comes later.

    Drawing a picture and a loss curve costs tens of milliseconds; doing it
    after each evaluation of a small image would slow the run it shows. The
    first call after `start()` (or creation) waits for both as well.

    Used by `nst_teach.runner`.
    """

    def __init__(self, every=3, seconds=0.5, clock=time.perf_counter):
        self.every, self.seconds, self.clock = every, seconds, clock
        self.start()

    def start(self):
        self._evaluations, self._last = 0, self.clock()

    def __call__(self):
        """Count one evaluation; whether it is time to show one."""
        self._evaluations += 1
        now = self.clock()
        if self._evaluations < self.every or now - self._last < self.seconds:
            return False
        self._evaluations, self._last = 0, now
        return True


class PreviewFile:
    """An ``on_event`` listener that rewrites an image file at most every `seconds`.

    The first evaluation is written at once, so a picture is there as soon as
    the run starts. The file is replaced atomically
    (`nst_teach.images.save_image`): an image viewer that reloads it never
    sees half a picture. A preview that cannot be written (a full disk) is
    skipped with one warning: it never ends the run (`save_side_file`).

    Used by the command line.
    """

    def __init__(self, path, seconds=2.0, clock=time.perf_counter):
        from .images import check_writable

        self.path, self.seconds, self.clock = Path(path), seconds, clock
        check_writable(self.path)
        self._last = None
        self.written = 0

    def __call__(self, event):
        if not isinstance(event, Evaluation):
            return
        now = self.clock()
        if self._last is not None and now - self._last < self.seconds:
            return
        self._last = now
        if save_side_file(event.image(), self.path, self):
            self.written += 1


class RoundFiles:
    """An ``on_event`` listener saving each `Round`'s image as ``<prefix>_at_iteration_<i>.png``.

    Side files: one that cannot be written (a full disk, a folder in the way)
    is skipped with one warning for the run (`save_side_file`), never ends it.
    `saved` lists the files written. Used by the command line
    (``--save-every-iteration``).
    """

    def __init__(self, prefix):
        self.prefix, self.saved = prefix, []

    def __call__(self, event):
        if isinstance(event, Round):
            path = Path(f"{self.prefix}_at_iteration_{event.index}.png")
            if save_side_file(event.image, path, self):
                self.saved.append(path)


def save_side_file(image, path, owner):
    """Save `image` at `path`; True if written. A failure warns once per `owner` and is skipped.

    A preview or a per-round picture must never end the run it shows: the
    result and its loss curve matter more. Used by `nst_teach.progress`.
    """
    from .images import save_image

    try:
        save_image(image, path)
        return True
    except OSError as error:
        if not getattr(owner, "warned", False):
            owner.warned = True
            warnings.warn(f"cannot write {path} ({error.strerror or error}); the run goes on "
                          "without it (this warning is shown once)", RuntimeWarning, stacklevel=2)
        return False


class ProgressBar:
    """An ``on_event`` listener drawing a tqdm bar that advances on each event of type `counts`.

    `transfer` counts `Round` events, `coarse_to_fine` `Evaluation` events
    (a stage's evaluations are what takes time), `nst_teach.fast.train`
    `TrainingStep` events. Call `close()` when the run ends.

    Used by `nst_teach.loop` and `nst_teach.fast.training`.
    """

    def __init__(self, total, counts, unit="it", desc="style transfer", initial=0):
        from tqdm.auto import tqdm

        self.counts = counts
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc)

    def __call__(self, event):
        if not isinstance(event, self.counts):
            return
        shown = {"height": event.height} if isinstance(event, Evaluation) else {}
        shown["loss"] = f"{event.loss:.4g}"
        if isinstance(event, TrainingStep):
            shown.update(style=f"{event.losses['style']:.3g}", content=f"{event.losses['content']:.3g}")
        self.bar.set_postfix(shown)
        if self.bar.total is not None and self.bar.n >= self.bar.total:
            self.bar.total = self.bar.n + 1  # L-BFGS may finish a line search past its budget
        self.bar.update()

    def close(self):
        self.bar.close()


