"""Progress as it happens: one event per loss evaluation, and how often to show it.

A round of the book's L-BFGS takes 20 evaluations, seconds to minutes on a
laptop; a student who sees nothing until it ends thinks the run is stuck.
`transfer` and `coarse_to_fine` therefore call ``on_evaluation(event)`` after
every evaluation with an `Evaluation`; `Throttle` decides when to redraw, and
`PreviewFile` writes the command line's ``--preview`` picture. The run itself
(its history, saved files and result) is the same with or without a listener.
Taught in notebook 07 (the playground).
"""

from __future__ import annotations

__all__ = ["Evaluation", "Throttle", "PreviewFile", "progress_bar"]

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Evaluation:
    """One loss evaluation of a run, as ``on_evaluation`` receives it (notebook 07's playground).

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

    @property
    def loss(self):
        return self.losses["total"]


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
    """An ``on_evaluation`` listener that rewrites an image file at most every `seconds`.

    The first evaluation is written at once, so a picture is there as soon as
    the run starts. The file is replaced atomically
    (`nst_teach.images.save_image`): an image viewer that reloads it never
    sees half a picture.

    Used by the command line.
    """

    def __init__(self, path, seconds=2.0, clock=time.perf_counter):
        from .images import check_writable

        self.path, self.seconds, self.clock = Path(path), seconds, clock
        check_writable(self.path)
        self._last = None
        self.written = 0

    def __call__(self, event):
        now = self.clock()
        if self._last is not None and now - self._last < self.seconds:
            return
        from .images import save_image

        save_image(event.image(), self.path)
        self._last, self.written = now, self.written + 1


def progress_bar(total, unit="it"):
    """A tqdm bar over `total` rounds (or evaluations) of a style transfer.

    Used by `nst_teach.optimize` and `nst_teach.schedule`.
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc="style transfer")
