"""The optimisers, and three ways to spend the same number of loss evaluations.

Taught in notebook 06 (the optimisation): the book's L-BFGS restarted every
`maxfun` evaluations (`restarted_lbfgs`), one continuous L-BFGS run
(`continuous_lbfgs`) and Adam (`adam`, `Adam`, whose picture may be the
average of its steps), each spending its evaluations through an
`nst_teach.evaluator.Evaluator`. `nst_teach.transfer` picks one by
`settings.optimizer` (`OPTIMIZERS`); `race` and `compare` run them on an
exact budget from the same start.
"""

from __future__ import annotations

__all__ = ["restarted_lbfgs", "continuous_lbfgs", "lbfgs", "adam", "Adam", "OPTIMIZERS", "Run",
           "problem", "race", "compare"]

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import fmin_l_bfgs_b

from .config import BOOK
from .evaluator import BudgetSpent, Evaluator, History
from .problem import setup


def restarted_lbfgs(evaluator, x, settings, end_of_iteration):
    """The book: `iterations` runs of L-BFGS, each restarted from the last image.

    Used by `nst_teach.optimizers` (`OPTIMIZERS`).
    """
    for i in range(settings.iterations):
        x, loss, _ = fmin_l_bfgs_b(evaluator.loss, x, fprime=evaluator.grads,
                                   maxfun=settings.maxfun, m=settings.lbfgs_history)
        end_of_iteration(i, x, loss)


def continuous_lbfgs(evaluator, x, settings, end_of_iteration):
    """One L-BFGS run over all `iterations x maxfun` evaluations, no early stop.

    It keeps its curvature memory throughout; every `maxfun` evaluations
    count as an iteration (for `Round` events and saved images), showing the best
    image so far.

    Used by `nst_teach.optimizers` (`OPTIMIZERS`).
    """
    budget = settings.iterations * settings.maxfun
    if evaluator.budget is None:
        evaluator.budget = budget
    _every(evaluator, settings, end_of_iteration)
    lbfgs(evaluator, x, budget, settings.lbfgs_history, maxiter=budget)


def lbfgs(evaluator, x, evaluations, history_size, *, factr=0.0, maxiter=15000):
    """One uninterrupted L-BFGS run from `x`: at most `evaluations` evaluations.

    `factr` 0 never stops early for a small improvement (scipy's ``factr``;
    10 stops within a few float64 steps of a minimum); `maxiter` is scipy's
    default. Ends quietly when the evaluator's `budget` is spent; a stop
    (`nst_teach.evaluator.StopRun`) goes on to the caller.

    Used by `nst_teach.optimizers` and `nst_teach.schedule`.
    """
    try:
        fmin_l_bfgs_b(evaluator.loss, x, fprime=evaluator.grads, maxfun=evaluations,
                      maxiter=maxiter, m=history_size, factr=factr, pgtol=0.0)
    except BudgetSpent:
        pass


def adam(evaluator, x, settings, end_of_iteration):
    """Adam on the pixels for `iterations x maxfun` evaluations (`Adam`).

    Every `maxfun` evaluations count as an iteration, showing `Adam.shown`.

    Used by `nst_teach.optimizers` (`OPTIMIZERS`).
    """
    optimiser = Adam(x, settings.learning_rate, settings.adam_average)
    for i in range(settings.iterations):
        optimiser.run(evaluator, settings.maxfun)
        end_of_iteration(i, *optimiser.shown(evaluator))


class Adam:
    """Adam on the pixels, one evaluation a step, in pixel units; and the picture it shows.

    Adam never settles: its last steps jitter around the minimum, and the
    picture carries that jitter. With `average` d > 0 the picture is the
    exponential moving average of the steps (each older step weighted d times
    less, bias-corrected as Adam's own moments are), smoother than any one of
    them: crowsonkb/style-transfer-pytorch shows its pictures this way, and
    docs/quality.md measures what it buys here. With d = 0 the picture is
    the step with the lowest loss, as for L-BFGS.

    Used by `nst_teach.optimizers` and `nst_teach.schedule`.
    """

    def __init__(self, x, learning_rate, average=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
        self.x = np.array(x, dtype=np.float64)
        self.learning_rate, self.average = learning_rate, average
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m, self.v, self.mean = (np.zeros_like(self.x) for _ in range(3))
        self.steps = 0

    def run(self, evaluator, steps):
        """`steps` steps, each after one evaluation of `evaluator` at the current `x`.

        With averaging, the run's live picture (`Evaluator.shown_x`) is the average.
        """
        if self.average:
            evaluator.preview = self.picture
        for _ in range(steps):
            evaluator.loss(self.x)
            self.step(evaluator.grads(self.x))

    def step(self, grad):
        """One Adam step along `grad`, and the average taken on."""
        self.steps += 1
        b1, b2, t = self.beta1, self.beta2, self.steps
        self.m = b1 * self.m + (1 - b1) * grad
        self.v = b2 * self.v + (1 - b2) * grad * grad
        m_hat, v_hat = self.m / (1 - b1**t), self.v / (1 - b2**t)  # bias-corrected
        self.x -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)
        self.mean = self.average * self.mean + (1 - self.average) * self.x

    def shown(self, evaluator):
        """(picture, its loss): the steps' average, or without averaging the best step.

        The average was never evaluated on the way: its loss is computed once
        more here, outside the evaluator's count.
        """
        if not self.average:
            best = evaluator.best_x
            return (self.x.copy(), np.inf) if best is None else (best, evaluator.best_loss)
        image = self.picture()
        return image, float(evaluator.loss_and_grads(image)[0]["total"])

    def picture(self):
        """The bias-corrected average of the steps so far (the start before any step)."""
        return self.mean / (1 - self.average**self.steps) if self.steps else self.x.copy()


def _every(evaluator, settings, end_of_iteration):
    """Call `end_of_iteration` with the best image after every `maxfun` evaluations."""

    listener = evaluator.on_evaluation

    def hook(n):
        if listener is not None:
            listener(n)
        if n % settings.maxfun == 0:
            end_of_iteration(n // settings.maxfun - 1, evaluator.best_x, evaluator.best_loss)

    evaluator.on_evaluation = hook


OPTIMIZERS = {"book": restarted_lbfgs, "lbfgs": continuous_lbfgs, "adam": adam}


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
