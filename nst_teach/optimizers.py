"""Three ways to spend the same number of loss evaluations.

Taught in notebook 06 (the optimisation): the book's L-BFGS restarted every
`maxfun` evaluations, one continuous L-BFGS run, and Adam. The optimisers
themselves live in `nst_teach.optimize` (`OPTIMIZERS`), where `transfer`
uses them too; this module races them on an exact budget.
"""

from __future__ import annotations

__all__ = ["Run", "problem", "race", "compare"]

import time
from dataclasses import dataclass

import numpy as np

from .config import BOOK
from .optimize import OPTIMIZERS, BudgetSpent, Evaluator, History, setup


@dataclass
class Run:
    """One optimiser's run: every evaluation's losses, the final image, the time.

    Used by `nst_teach.optimizers`.
    """

    history: History
    image: np.ndarray
    seconds: float


def problem(content, style, settings=BOOK):
    """The book's loss for `content` and `style`: (loss_and_grads, starting x, shape).

    The same set-up as `nst_teach.transfer`, stopped before optimising, so that
    several optimisers can start from the same point.

    Taught in notebook 06.
    """
    prepared = setup(content, style, settings)
    return prepared.loss_and_grads, prepared.x0, prepared.shape


def race(loss_and_grads, x0, settings, budget):
    """Run `settings.optimizer` from `x0` for exactly `budget` evaluations.

    Returns the `Evaluator`, whose `history` holds every evaluation and whose
    `best_x` is the best image seen.

    Used by `nst_teach.optimizers`.
    """
    evaluator = Evaluator(loss_and_grads)
    evaluator.budget = budget
    rounds = settings.replace(iterations=-(-budget // settings.maxfun))  # enough to spend it
    try:
        OPTIMIZERS[settings.optimizer](evaluator, x0, rounds, lambda *args: None)
    except BudgetSpent:
        pass
    return evaluator


def compare(content, style, settings=BOOK, budget=400, learning_rate=4.0):
    """Run the three optimisers on the same problem with `budget` evaluations each.

    Returns ``{name: Run}``; each Run's image is the best one the optimiser saw.

    Taught in notebook 06.
    """
    prepared = setup(content, style, settings)
    names = {
        "book": f"book: L-BFGS restarted every {settings.maxfun}",
        "lbfgs": "one continuous L-BFGS run",
        "adam": f"Adam (learning rate {learning_rate:g})",
    }
    runs = {}
    for optimizer, name in names.items():
        start = time.perf_counter()
        evaluator = race(prepared.loss_and_grads, prepared.x0,
                         settings.replace(optimizer=optimizer, learning_rate=learning_rate), budget)
        runs[name] = Run(evaluator.history, prepared.image(evaluator.best_x),
                         time.perf_counter() - start)
    return runs
