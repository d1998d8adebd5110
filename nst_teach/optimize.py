"""The book's optimisation loop: an Evaluator feeding scipy's L-BFGS.

Taught in notebook 06 (the optimisation).
"""

from __future__ import annotations

__all__ = [
    "StopRun", "BudgetSpent", "LossNotFinite", "History", "Evaluator", "Result",
    "make_loss_and_grads", "gradient_step", "for_scipy", "traced_step", "prepare_images",
    "Problem", "setup", "transfer", "restarted_lbfgs", "continuous_lbfgs", "adam", "warm_up", "evaluation_event"]

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.optimize import fmin_l_bfgs_b

from .tensorflow_setup import tf
from . import color, images
from .backbones import load_backbone
from .caches import Cache, settings_key
from .config import BOOK, min_size_for
from .data import image_or_example
from .features import compute_targets, feature_extractor
from .losses import weighted_losses
from .memory import check_memory
from .progress import Evaluation
from .winograd import convolution_for

COMPONENTS = ("total", "content", "style", "tv")


class StopRun(Exception):
    """Raised inside an evaluation to end a run early (see `Evaluator.stop`).

    Used by `nst_teach.schedule`.
    """


class BudgetSpent(StopRun):
    """Raised when an evaluation is asked for beyond `Evaluator.budget`.

    Used by `nst_teach.optimizers`.
    """


class LossNotFinite(ArithmeticError):
    """The loss became NaN or infinite: the run cannot go on, and its result is not one.

    `image` is the best image whose loss was finite (None if there was none),
    `history` the losses up to then.

    Used by `nst_teach.cli` and `nst_teach.schedule`.
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


class Evaluator:
    """Computes loss and gradient in one pass and hands them to scipy in two calls.

    scipy's `fmin_l_bfgs_b` wants two functions, one for the loss and one for
    the gradient, but computing them separately would run the network twice.
    As in the book, `loss(x)` computes both and caches the gradient, and
    `grads(x)` returns the cached gradient; calling them out of order is an
    error. Each evaluation is recorded in `history`, and the image with the
    lowest loss seen so far is kept in `best_x`.

    Taught in notebook 06.
    """

    def __init__(self, loss_and_grads, history=None):
        self.loss_and_grads = loss_and_grads  # x (flat float64) -> (parts dict, grad)
        self.history = history if history is not None else History()
        self.loss_value = None
        self.grad_values = None
        self.best_x, self.best_loss = None, np.inf
        self.stop_requested = False
        self.on_evaluation = None  # called with the number of evaluations so far
        self.budget = None  # at most this many evaluations, if set

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
    stopped: bool = False  # ended early by Ctrl-C, a callback or Evaluator.stop

    @property
    def loss(self):
        return self.history.iteration_loss[-1] if self.history.iteration_loss else None


def make_loss_and_grads(extractor, targets, settings, shape, *, jit_compile=False):
    """A function x (flat float64) -> (loss parts as floats, gradient as flat float64).

    The heavy part runs as one traced TensorFlow graph in float32; only the
    hand-over to scipy is float64, because scipy's L-BFGS needs it. The traced
    graph is kept (see `traced_step`), so a second run with the same backbone,
    loss settings and image size starts without tracing again.
    `jit_compile=True` compiles it with XLA: the same loss within float32
    noise, but on a 2-core CPU it measured slower than TensorFlow's oneDNN
    kernels (docs/benchmarks.md), so it is off by default.

    Used by `bench/run.py`.
    """
    return for_scipy(traced_step(extractor, settings, shape, jit_compile=jit_compile), shape, targets)


def gradient_step(loss, *, jit_compile=False):
    """`loss(x, *args)` (a dict of scalars with a "total") and its gradient in x, traced.

    Returns the `tf.function` (x, *args) -> (loss parts, gradient of the
    total). Used by `nst_teach.optimize`, `nst_teach.reconstruct` and `bench/run.py`.
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
    Used by `nst_teach.optimize`, `nst_teach.reconstruct` and `bench/run.py`.
    """
    shape = tuple(shape)

    def loss_and_grads(x_flat):
        parts, grad = step(tf.constant(np.reshape(x_flat, shape), tf.float32), *args)
        return ({name: float(value) for name, value in parts.items()},
                grad.numpy().ravel().astype(np.float64))

    return loss_and_grads


_STEPS = Cache("traced loss steps", 8)


def traced_step(extractor, settings, shape, *, jit_compile=False):
    """The `tf.function` (x, targets) -> (loss parts, gradient), traced once and reused.

    Tracing and optimising the graph costs about a second; keeping the step
    per (extractor, loss settings, image shape) means that a second run of the
    same size (a new style image, a widget's Run button) skips it. The loss
    settings are the fields that `Settings` marks as in the loss graph
    (`nst_teach.caches.settings_key`). The targets are an argument, not a
    constant baked into the graph, so any content and style images of that
    size share one graph. At most a few steps are kept.

    Used by `bench/run.py`.
    """
    key = (extractor, settings_key(settings), tuple(shape), bool(jit_compile))
    return _STEPS.get(key, lambda: _trace_step(extractor, settings, jit_compile))


def _trace_step(extractor, settings, jit_compile):
    return gradient_step(lambda x, targets: weighted_losses(extractor(x), targets, x, settings),
                         jit_compile=jit_compile)


def prepare_images(content, style, settings):
    """Load the images and resize them to the book's shared size.

    The content image sets the size: `settings.height` tall, its own aspect;
    the style image is stretched to exactly that size, as in the book, times
    `settings.style_scale`. `style` may be a list of images: then a list of
    resized styles is returned.

    Taught in notebook 09.
    """
    if isinstance(style, (list, tuple)) and not style:
        raise ValueError("style is an empty list: give one style image, or a list of them")
    content = image_or_example(content)
    size = images.size_for_height(content, settings.height)
    need = max(min_size_for(name) for name in settings.layers)
    if size[1] < need:
        raise ValueError(_too_narrow(content, size, need))
    style_size = tuple(max(1, round(side * settings.style_scale)) for side in size)
    if min(style_size) < need:
        raise ValueError(
            f"style_scale={settings.style_scale} makes the style image {style_size[1]}x"
            f"{style_size[0]} px, but the layers chosen need at least {need} px: use a larger style_scale"
        )
    check_memory(max(size, style_size), settings)  # before anything big is built
    styles = [images.resize(image_or_example(s), style_size, settings.resample)
              for s in (style if isinstance(style, (list, tuple)) else [style])]
    content = images.resize(content, size, settings.resample)
    return content, styles if isinstance(style, (list, tuple)) else styles[0]


def _too_narrow(content, size, need):
    """Why the content is too narrow, and a fix that is sensible for its shape."""
    original_height, original_width = content.shape[:2]
    height_needed = -(-need * original_height // original_width)
    message = (f"the content image is {original_width}x{original_height} px, so {size[1]} px wide "
               f"at height {size[0]}, but the layers chosen need at least {need} px: ")
    if height_needed <= 4 * max(size[0], 400):
        return message + f"use a height of at least {height_needed}"
    return message + ("it is too narrow for any sensible height; crop it to a less "
                      "elongated shape, or choose shallower layers")


@dataclass
class Problem:
    """The fixed parts of a run, ready for any optimiser (see `setup`).

    Used by `nst_teach.optimize`.
    """

    loss_and_grads: object  # flat float64 x -> (loss parts, gradient)
    x0: np.ndarray  # the starting image, preprocessed and flat (float64)
    shape: tuple  # (1, H, W, 3)
    content: np.ndarray  # the content image at its working size (RGB uint8)
    style: np.ndarray  # the (first) style image at its working size
    backbone: str  # the backbone actually used
    finish: object = None  # image -> image, e.g. colour preservation

    def image(self, x):
        """The RGB uint8 image that a flat preprocessed `x` shows."""
        image = images.deprocess(np.reshape(x, self.shape))
        return self.finish(image) if self.finish else image


def setup(content, style, settings=BOOK, *, mask=None, init_image=None):
    """Everything `transfer` needs before it optimises: images, targets, loss, start.

    `style` is one image or a list (blended by `settings.style_blend`, or one
    per region of `mask`). `mask` limits the style to a region: an (H, W)
    array or grey image, 1 where the style goes, at any size; with several
    styles, a list of masks, one per style. `init_image` starts the run from a
    given image instead of `settings.init`.

    Taught in notebook 09.
    """
    content_img, style_imgs = prepare_images(content, style, settings)
    several = isinstance(style_imgs, list)
    style_imgs = style_imgs if several else [style_imgs]
    work_content, finish = content_img, None
    if settings.preserve_color == "histogram":
        style_imgs = [color.match_colors(s, content_img) for s in style_imgs]
    elif settings.preserve_color == "luminance":
        pairs = [color.luminance_pair(content_img, s) for s in style_imgs]
        work_content, style_imgs = pairs[0][0], [pair[1] for pair in pairs]
    if settings.preserve_color in ("luminance", "post"):
        finish = lambda image: color.keep_content_colors(image, content_img)  # noqa: E731
    masks = _masks(mask, len(style_imgs), content_img.shape[:2]) if mask is not None else None
    model, backbone = load_backbone(settings.backbone, settings.weights, settings.seed, settings.pooling)
    content_x = images.preprocess(work_content)
    extractor = feature_extractor(model, settings.layers,
                                  convolution_for(settings.convolution, content_x.shape[1]))
    targets = compute_targets(extractor, content_x, [images.preprocess(s) for s in style_imgs]
                              if several else images.preprocess(style_imgs[0]), settings, masks)
    x0 = images.preprocess(_start_image(settings, work_content, style_imgs[0], init_image))
    return Problem(make_loss_and_grads(extractor, targets, settings, content_x.shape),
                   x0.ravel().astype(np.float64), content_x.shape, content_img,
                   style_imgs[0], backbone, finish)


def warm_up(content, style, settings=BOOK):
    """Do now what the first `transfer` of these images and settings would do first.

    Builds the backbone and the feature extractor, computes the targets and
    traces and runs the loss-and-gradient step, for every stage's size with
    `settings.stages`. All of it is kept (see `traced_step`), so that the run
    itself starts at its first real evaluation: the playground calls this in
    the background while the student is still choosing (notebook 07).

    Used by `nst_teach.widgets`.
    """
    if settings.stages is not None:
        from .schedule import settings_per_stage

        every = settings_per_stage(settings, settings.stages, image_or_example(content))
    else:
        every = [settings]
    for stage_settings in every:
        problem = setup(content, style, stage_settings)
        problem.loss_and_grads(problem.x0)


def _start_image(settings, content, style, init_image):
    size = content.shape[:2]
    if init_image is not None:
        return images.resize(image_or_example(init_image), size, "bicubic")
    if settings.init == "noise":
        return np.random.default_rng(settings.seed).integers(0, 256, content.shape, dtype=np.uint8)
    if settings.init == "style":
        return images.resize(style, size, "bicubic")
    return content


def _masks(mask, n_styles, size):
    """Masks as float arrays in [0, 1] at the content's size, one per style."""
    masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
    if len(masks) != n_styles:
        raise ValueError(f"{len(masks)} mask(s) for {n_styles} style image(s): give one mask per style")
    out = []
    for m in masks:
        m = np.asarray(m)
        if m.ndim == 3:  # an RGB image: its brightness
            m = m.mean(axis=-1)
        if m.ndim != 2:
            raise ValueError(f"a mask must be an (H, W) array or image, got shape {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("a mask contains NaN or infinite values: give values in 0-1 or 0-255")
        m = m / 255.0 if m.dtype == np.uint8 or m.max(initial=0) > 1 else m
        pil = Image.fromarray(np.float32(m), mode="F").resize(size[::-1], Image.Resampling.BILINEAR)
        out.append(np.clip(np.asarray(pil), 0, 1))
    return out


def transfer(content, style, settings=BOOK, *, callback=None, save_prefix=None,
             progress=False, evaluator_hook=None, mask=None, init_image=None,
             on_evaluation=None, **changes):
    """Stylise `content` with `style` by the book's restarted L-BFGS (or `settings.optimizer`).

    `content` and `style` are paths, example names (see
    `nst_teach.data.example_names`), PIL images or arrays. `settings` defaults
    to the book's; keyword `changes` override single fields
    (``transfer(c, s, height=256)``). After each of the `settings.iterations`
    rounds of ``fmin_l_bfgs_b(maxfun=settings.maxfun)``:

    - with `save_prefix`, the image is saved as
      ``<save_prefix>_at_iteration_<i>.png`` (atomically);
    - `callback(iteration, loss, image)` is called; a truthy return stops.

    `on_evaluation(event)` is called after every loss evaluation with a
    `nst_teach.progress.Evaluation` (count, losses, ``image()``): progress
    between rounds, for a live picture.

    Ctrl-C, a stopping callback or `evaluator.stop()` (the evaluator is passed
    to `evaluator_hook` when the run starts) end the run early: the result
    then holds the best image seen so far and `stopped=True`. Several styles,
    `mask` and `init_image`: see `setup`. With `settings.optimizer` "lbfgs" or
    "adam" the same `iterations x maxfun` evaluations are spent, and every
    `maxfun` of them count as an iteration. With `settings.stages` the run goes
    coarse to fine instead (`nst_teach.schedule.coarse_to_fine`): the callback,
    the saved images and `evaluator_hook` then come once per stage. A loss that
    becomes NaN or infinite raises `LossNotFinite`, which carries the last finite image.

    Taught in notebooks 01 and 02.
    """
    settings = settings.replace(**changes) if changes else settings
    if settings.stages is not None:
        from .schedule import coarse_to_fine

        return coarse_to_fine(content, style, settings, callback=callback, save_prefix=save_prefix,
                              progress=progress, evaluator_hook=evaluator_hook, mask=mask,
                              init_image=init_image, on_evaluation=on_evaluation)
    problem = setup(content, style, settings, mask=mask, init_image=init_image)
    evaluator = Evaluator(problem.loss_and_grads)
    if on_evaluation is not None:
        evaluator.on_evaluation = lambda n: on_evaluation(evaluation_event(evaluator, problem))
    if evaluator_hook:
        evaluator_hook(evaluator)
    result = Result(problem.image(problem.x0), evaluator.history, settings, problem.backbone,
                    problem.content, problem.style)
    bar = _progress_bar(settings.iterations) if progress else None
    clock = [time.perf_counter()]

    def end_of_iteration(i, x, loss):
        result.image = problem.image(x)
        _record_iteration(result.history, float(loss), time.perf_counter() - clock[0])
        clock[0] = time.perf_counter()
        if save_prefix is not None:
            path = Path(f"{save_prefix}_at_iteration_{i}.png")
            result.saved.append(images.save_image(result.image, path))
        if bar is not None:
            bar.set_postfix(loss=f"{float(loss):.4g}")
            bar.update()
        if callback is not None and callback(i, float(loss), result.image):
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


def restarted_lbfgs(evaluator, x, settings, end_of_iteration):
    """The book: `iterations` runs of L-BFGS, each restarted from the last image.

    Used by `nst_teach.optimize`.
    """
    for i in range(settings.iterations):
        x, loss, _ = fmin_l_bfgs_b(evaluator.loss, x, fprime=evaluator.grads,
                                   maxfun=settings.maxfun, m=settings.lbfgs_history)
        end_of_iteration(i, x, loss)


def continuous_lbfgs(evaluator, x, settings, end_of_iteration):
    """One L-BFGS run over all `iterations x maxfun` evaluations, no early stop.

    It keeps its curvature memory throughout; every `maxfun` evaluations
    count as an iteration (for callbacks and saved images), showing the best
    image so far.

    Used by `nst_teach.optimize`.
    """
    budget = settings.iterations * settings.maxfun
    if evaluator.budget is None:
        evaluator.budget = budget
    _every(evaluator, settings, end_of_iteration)
    try:
        fmin_l_bfgs_b(evaluator.loss, x, fprime=evaluator.grads, maxfun=budget, maxiter=budget,
                      m=settings.lbfgs_history, factr=0.0, pgtol=0.0)
    except BudgetSpent:
        pass


def adam(evaluator, x, settings, end_of_iteration, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam on the pixels, one evaluation a step, `settings.learning_rate` in pixel units.

    Used by `nst_teach.optimize`.
    """
    _every(evaluator, settings, end_of_iteration)
    x, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
    for t in range(1, settings.iterations * settings.maxfun + 1):
        evaluator.loss(x)
        g = evaluator.grads(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x -= settings.learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)


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


def evaluation_event(evaluator, problem, stage=0):
    """The `Evaluation` that `on_evaluation` listeners get after the evaluator's latest.

    Used by `nst_teach.optimize` and `nst_teach.schedule`.
    """
    history = evaluator.history
    return Evaluation(history.n_evaluations, {name: history.evaluations[name][-1] for name in COMPONENTS},
                      problem.shape[1], stage, history, lambda: problem.image(evaluator.best_x))


def _record_iteration(history, loss, seconds):
    history.iteration_loss.append(loss)
    history.iteration_seconds.append(seconds)
    history.iteration_evaluations.append(history.n_evaluations)


def _progress_bar(total):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="it", desc="style transfer")
