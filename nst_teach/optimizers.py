"""Three ways to spend the same number of loss evaluations.

Taught in notebook 06 (the optimisation): the book's L-BFGS restarted every
`maxfun` evaluations, one continuous L-BFGS run, and Adam.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import fmin_l_bfgs_b

from . import images
from .backbones import load_backbone
from .config import BOOK
from .features import compute_targets, feature_extractor
from .optimize import Evaluator, History, StopRun, make_loss_and_grads, prepare_images


@dataclass
class Run:
    """One optimiser's run: every evaluation's losses, the final image, the time."""

    history: History
    image: np.ndarray
    seconds: float


def problem(content, style, settings=BOOK):
    """The book's loss for `content` and `style`: (loss_and_grads, starting x, shape).

    The same set-up as `nst_teach.transfer`, stopped before optimising, so that
    several optimisers can start from the same point.
    """
    content_img, style_img = prepare_images(content, style, settings)
    model, _ = load_backbone(settings.backbone, settings.weights, settings.seed)
    extractor = feature_extractor(model, settings.layers)
    content_x, style_x = images.preprocess(content_img), images.preprocess(style_img)
    targets = compute_targets(extractor, content_x, style_x, settings)
    loss_and_grads = make_loss_and_grads(extractor, targets, settings, content_x.shape)
    return loss_and_grads, content_x.ravel().astype(np.float64), content_x.shape


class _Budget(Evaluator):
    """An Evaluator that refuses to evaluate once `budget` evaluations are spent."""

    def __init__(self, loss_and_grads, budget):
        super().__init__(loss_and_grads)
        self.budget = budget

    def loss(self, x):
        if self.history.n_evaluations >= self.budget:
            raise StopRun
        return super().loss(x)


def restarted_lbfgs(loss_and_grads, x0, budget, maxfun=20):
    """The book's loop: L-BFGS restarted from the current image every `maxfun` evaluations.

    Each restart throws away the curvature L-BFGS has learned so far.
    """
    evaluator = _Budget(loss_and_grads, budget)
    x = x0
    try:
        while evaluator.history.n_evaluations < budget:
            x, _, _ = fmin_l_bfgs_b(evaluator.loss, x, fprime=evaluator.grads, maxfun=maxfun)
    except StopRun:
        pass
    return evaluator


def continuous_lbfgs(loss_and_grads, x0, budget):
    """One L-BFGS run that keeps its curvature memory for the whole budget."""
    evaluator = _Budget(loss_and_grads, budget)
    try:
        fmin_l_bfgs_b(evaluator.loss, x0, fprime=evaluator.grads, maxfun=budget, maxiter=budget)
    except StopRun:
        pass
    return evaluator


def adam(loss_and_grads, x0, budget, learning_rate=4.0, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam on the pixels, one evaluation per step (`learning_rate` in pixel units).

    Written out in NumPy so you can read every line of the update.
    """
    evaluator = _Budget(loss_and_grads, budget)
    x, m, v = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    for t in range(1, budget + 1):
        evaluator.loss(x)
        g = evaluator.grads(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x -= learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return evaluator


def compare(content, style, settings=BOOK, budget=400, learning_rate=4.0):
    """Run the three optimisers on the same problem with `budget` evaluations each.

    Returns ``{name: Run}``; each Run's image is the best one the optimiser saw.
    """
    loss_and_grads, x0, shape = problem(content, style, settings)
    optimisers = {
        f"book: L-BFGS restarted every {settings.maxfun}":
            lambda: restarted_lbfgs(loss_and_grads, x0, budget, settings.maxfun),
        "one continuous L-BFGS run": lambda: continuous_lbfgs(loss_and_grads, x0, budget),
        f"Adam (learning rate {learning_rate:g})":
            lambda: adam(loss_and_grads, x0, budget, learning_rate),
    }
    runs = {}
    for name, optimise in optimisers.items():
        start = time.perf_counter()
        evaluator = optimise()
        image = images.deprocess(evaluator.best_x.reshape(shape))
        runs[name] = Run(evaluator.history, image, time.perf_counter() - start)
    return runs
