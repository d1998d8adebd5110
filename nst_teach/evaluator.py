"""What scipy's optimiser calls: the traced loss-and-gradient step, and the Evaluator.

Taught in notebook 06 (the optimisation). The loss and its gradient are one
traced TensorFlow graph in float32 (`gradient_step`, kept by `traced_step`);
`for_scipy` hands them over as float64, and `Evaluator` splits one pass into
scipy's two calls, records every evaluation in a `History` and keeps the best
image. Every optimiser (`nst_teach.optimizers`) and every stage of a
coarse-to-fine run (`nst_teach.schedule`) spends its evaluations through it.
"""

from __future__ import annotations

__all__ = [
    "COMPONENTS", "StopRun", "BudgetSpent", "LossNotFinite", "History", "Evaluator",
    "make_loss_and_grads", "in_turn", "gradient_step", "for_scipy", "traced_step", "evaluation_event",
]

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .tensorflow_setup import tf
from .caches import Cache, settings_key
from .losses import loss_weights, weighted_losses
from .progress import Evaluation

COMPONENTS = ("total", "content", "style", "tv")


class StopRun(Exception):
    """Raised inside an evaluation to end a run early (see `Evaluator.stop`).

    Used by `nst_teach.loop`.
    """


class BudgetSpent(StopRun):
    """Raised when an evaluation is asked for beyond `Evaluator.budget`.

    Used by `nst_teach.optimizers`.
    """


class LossNotFinite(ArithmeticError):
    """The loss became NaN or infinite: the run cannot go on, and its result is not one.

    `image` is the best image whose loss was finite (None if there was none),
    `history` the losses up to then.

    Used by `nst_teach.cli` and `nst_teach.loop`.
    """

    def __init__(self, message, image=None, history=None):
        super().__init__(message)
        self.image, self.history = image, history


@dataclass
class History:
    """Losses of a run: per evaluation (each component) and per iteration.

    Used by `nst_teach.optimizers`.
    """

    evaluations: dict = field(default_factory=lambda: {name: [] for name in COMPONENTS})
    iteration_loss: list = field(default_factory=list)
    iteration_seconds: list = field(default_factory=list)
    iteration_evaluations: list = field(default_factory=list)

    @property
    def n_evaluations(self):
        return len(self.evaluations["total"])

    def record_iteration(self, loss, seconds):
        """An iteration (a round, or a stage) ended with `loss` after `seconds`."""
        self.iteration_loss.append(loss)
        self.iteration_seconds.append(seconds)
        self.iteration_evaluations.append(self.n_evaluations)


class Evaluator:
    """Computes loss and gradient in one pass and hands them to scipy in two calls.

    scipy's `fmin_l_bfgs_b` wants two functions, one for the loss and one for
    the gradient, but computing them separately would run the network twice.
    As in the book, `loss(x)` computes both and caches the gradient, and
    `grads(x)` returns the cached gradient; calling them out of order is an
    error. Each evaluation is recorded in `history`, and the image with the
    lowest loss seen so far is kept in `best_x`: what a run shows (`shown_x`),
    unless its optimiser sets a `preview` of its own (Adam's average).

    Taught in notebook 06.
    """

    def __init__(self, loss_and_grads, history=None):
        self.loss_and_grads = loss_and_grads  # x (flat float64) -> (parts dict, grad)
        self.history = history if history is not None else History()
        self.loss_value = None
        self.grad_values = None
        self.best_x, self.best_loss = None, np.inf
        self.stop_requested = False
        # called with the number of evaluations so far: the optimisers' hook (a run's
        # listeners get `nst_teach.progress.Evaluation` events through ``on_event`` instead)
        self.on_evaluation = None
        self.budget = None  # at most this many evaluations, if set
        self.preview = None  # () -> the x an optimiser shows instead of best_x, if set

    def loss(self, x):
        if self.loss_value is not None:
            raise RuntimeError("Evaluator.loss called twice without grads in between")
        if self.stop_requested:
            raise StopRun
        if self.budget is not None and self.history.n_evaluations >= self.budget:
            raise BudgetSpent
        parts, grad = self.loss_and_grads(x)
        if not all(math.isfinite(parts[name]) for name in COMPONENTS) or not np.isfinite(grad).all():
            raise LossNotFinite(_not_finite_message(parts, self.history.n_evaluations + 1))
        for name in COMPONENTS:
            self.history.evaluations[name].append(parts[name])
        self.loss_value = parts["total"]
        self.grad_values = grad
        if self.loss_value < self.best_loss:
            self.best_x, self.best_loss = np.array(x, copy=True), self.loss_value
        if self.on_evaluation is not None:
            self.on_evaluation(self.history.n_evaluations)
        return self.loss_value

    def shown_x(self):
        """The image a run shows now: the optimiser's `preview` if it set one, else `best_x`."""
        return self.preview() if self.preview is not None else self.best_x

    def grads(self, x):
        if self.loss_value is None:
            raise RuntimeError("Evaluator.grads called before loss")
        grad_values = np.copy(self.grad_values)
        self.loss_value = None
        self.grad_values = None
        return grad_values

    def stop(self):
        """Ask the run to end at its next evaluation (safe from another thread)."""
        self.stop_requested = True


def _not_finite_message(parts, evaluation):
    broken = ", ".join(f"{name} = {parts[name]}" for name in COMPONENTS if not math.isfinite(parts[name]))
    return (
        f"the loss is not a finite number at evaluation {evaluation} ({broken or 'its gradient'}): "
        "a weight so large that float32 overflows (its largest value is about 3e38; "
        "try weights nearer the book's), or NaN in an input image or mask"
    )


def make_loss_and_grads(extractor, targets, settings, shape, *, jit_compile=False):
    """A function x (flat float64) -> (loss parts as floats, gradient as flat float64).

    The heavy part runs as one traced TensorFlow graph in float32; only the
    hand-over to scipy is float64, because scipy's L-BFGS needs it. The traced
    graph is kept (see `traced_step`), so a second run with the same backbone,
    loss settings and image size starts without tracing again.
    `jit_compile=True` compiles it with XLA: the same loss within float32
    noise, but on a 2-core CPU it measured slower than TensorFlow's oneDNN
    kernels (docs/benchmarks.md), so it is off by default.

    Used by `bench/speed/evaluation.py`.
    """
    step = traced_step(extractor, settings, shape, jit_compile=jit_compile)
    return for_scipy(step, shape, targets, loss_weights(settings))


def in_turn(functions):
    """One function that calls each of `functions` in turn, round and round.

    A loss-and-gradient per set of sliced directions, one set per Adam step
    (`nst_teach.config.Settings.sliced_draws`). Used by `nst_teach.problem`.
    """
    turns = itertools.cycle(functions)
    return lambda x: next(turns)(x)


def gradient_step(loss, *, jit_compile=False):
    """`loss(x, *args)` (a dict of scalars with a "total") and its gradient in x, traced.

    Returns the `tf.function` (x, *args) -> (loss parts, gradient of the
    total). Used by `nst_teach.evaluator`, `nst_teach.reconstruct` and
    `bench/speed/evaluation.py`.
    """

    @tf.function(jit_compile=bool(jit_compile), autograph=False)
    def step(x, *args):
        with tf.GradientTape() as tape:
            tape.watch(x)
            parts = loss(x, *args)
        return parts, tape.gradient(parts["total"], x)

    return step


def for_scipy(step, shape, *args):
    """`step` (see `gradient_step`) as scipy wants it: flat float64 x -> (floats, flat float64).

    The graph runs in float32 on an image of `shape`; `args` are passed on.
    Used by `nst_teach.evaluator`, `nst_teach.reconstruct` and `bench/speed/evaluation.py`.
    """
    shape = tuple(shape)

    def loss_and_grads(x_flat):
        parts, grad = step(tf.constant(np.reshape(x_flat, shape), tf.float32), *args)
        return ({name: float(value) for name, value in parts.items()},
                grad.numpy().ravel().astype(np.float64))

    return loss_and_grads


_STEPS = Cache("traced loss steps", 8)


def traced_step(extractor, settings, shape, *, jit_compile=False):
    """The `tf.function` (x, targets, weights) -> (loss parts, gradient), traced once and reused.

    Tracing and optimising the graph costs about a second; keeping the step
    per (extractor, loss settings, image shape) means that a second run of the
    same size (a new style image, a widget's Run button) skips it. The loss
    settings are the fields that `Settings` marks as in the loss graph
    (`nst_teach.caches.settings_key`): the layers and the normalisation. The
    targets and the weights (`nst_teach.losses.LossWeights`) are arguments,
    not constants baked into the graph, so any content and style images of
    that size, and any weights (a slider moved in the playground), share one
    graph. At most a few steps are kept.

    Used by `bench/speed/evaluation.py`.
    """
    key = (extractor, settings_key(settings), tuple(shape), bool(jit_compile))
    return _STEPS.get(key, lambda: _trace_step(extractor, settings, jit_compile))


def _trace_step(extractor, settings, jit_compile):
    return gradient_step(
        lambda x, targets, weights: weighted_losses(extractor(x), targets, x, settings, weights),
        jit_compile=jit_compile)


def evaluation_event(evaluator, problem, stage=0):
    """The `Evaluation` that ``on_event`` listeners get after the evaluator's latest.

    Its ``stop()`` is the evaluator's: the run ends at its next evaluation.

    Used by `nst_teach.loop`.
    """
    history = evaluator.history
    return Evaluation(history.n_evaluations, {name: history.evaluations[name][-1] for name in COMPONENTS},
                      problem.shape[1], stage, history, lambda: problem.image(evaluator.shown_x()),
                      evaluator.stop)

