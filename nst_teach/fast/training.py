"""Training the style network with the perceptual losses: the training loop (notebook 08).

The losses are in `nst_teach.fast.perceptual_loss`, what a run records in
`nst_teach.fast.history`, saving and resuming in `nst_teach.fast.checkpoints`.
"""

from __future__ import annotations

__all__ = ["EAGER_STEPS", "FastResult", "train"]

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..tensorflow_setup import keras, tf
from .. import images
from ..progress import ProgressBar, TrainingStep, combine, emit
from .checkpoints import Checkpoint, style_name
from .history import FastHistory
from .network import build_network
from .perceptual_loss import make_loss
from .photos import PhotoSampler, default_photos, photos_from_folder
from .settings import FastSettings

EAGER_STEPS = 20  # runs of at most this many steps skip tracing (see `train`)


@dataclass
class FastResult:
    """What `train` produced: the network, its history, whether it was stopped.

    Used by `nst_teach.fast.training`.
    """

    model: keras.Model
    history: FastHistory
    settings: FastSettings
    backbone: str
    step: int  # steps trained in total (including earlier runs resumed from)
    seconds: float  # seconds of training in this call
    checkpoint: Path | None = None
    stopped: bool = False  # ended early by Ctrl-C or a stop request


def train(style, photos=None, settings=None, *, output=None, resume=False, progress=False,
          on_event=None, **changes):
    """Train a style network for `style` on random crops of `photos`.

    - `style`: the style image (path, array, PIL image or example name).
    - `photos`: a folder of photos, a list or dict of arrays, or None for the
      bundled photos (`default_photos`).
    - `settings`: a `FastSettings` (default values if None); keyword
      `changes` override single fields: ``train("swirls", steps=500)``.
    - `output`: a `.keras` path; the network is saved there every
      `settings.checkpoint_every` steps and at the end, with a loss curve
      beside it (``<output stem>_loss.png``; `nst_teach.fast.checkpoints`).
    - `resume`: continue from the network (and optimiser state and history)
      in `output` if it exists; `settings.steps` is then the *total* number
      of steps, so an interrupted run is finished by running it again.
    - `on_event(event)`: called with a `nst_teach.progress.TrainingStep`
      after every step; ``event.stop()`` or a truthy return stops (to stop
      from another thread, call ``event.stop()`` when a flag it sets is up).

    Ctrl-C or a stop end training early: the network trained so far is saved
    (atomically) and returned, with `stopped=True`. Returns a `FastResult`.

    Taught in notebook 08.
    """
    from ..data import image_or_example

    settings = settings or FastSettings()
    settings = settings.replace(**changes) if changes else settings
    checkpoint = Checkpoint(output, style_name(style), settings)  # checks output before any work
    style_image = image_or_example(style) if isinstance(style, (str, Path)) else images.load_image(style)
    if photos is None:
        photos = default_photos()
    elif isinstance(photos, (str, Path)):
        photos = photos_from_folder(photos)
    sampler = PhotoSampler(photos, settings.size, settings.jitter, settings.seed)
    loss, backbone = make_loss(style_image, settings)
    checkpoint.backbone = backbone

    history, step = FastHistory(), 0
    if resume and checkpoint.exists():
        model, history, step = checkpoint.load()
        sampler.rng = np.random.default_rng([settings.seed, step])
    else:
        model = build_network(settings.filters, settings.residual_blocks, settings.seed)
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
    train_step = _step(model, loss, traced=settings.steps - step > EAGER_STEPS)

    bar = None
    if progress:
        bar = ProgressBar(settings.steps, TrainingStep, unit="step", desc="training style network",
                          initial=min(step, settings.steps))
    listener = combine(bar, on_event)
    stop = []  # a stop was asked for

    start = time.perf_counter()
    try:
        while step < settings.steps and not stop:
            t = time.perf_counter()
            parts = train_step(tf.constant(sampler.batch(settings.batch_size)))
            parts = {k: float(v) for k, v in parts.items()}
            step += 1
            history.add(step, parts, time.perf_counter() - t)
            if not math.isfinite(parts["total"]):
                raise FloatingPointError(
                    f"the loss became {parts['total']} at step {step}: lower learning_rate "
                    f"(now {settings.learning_rate}) and resume from the last checkpoint")
            if step % settings.checkpoint_every == 0:
                checkpoint.save(model, step, history)
            emit(listener, TrainingStep(step, settings.steps, parts, model, lambda: stop.append(True)))
    except KeyboardInterrupt:
        stop.append(True)
    finally:
        if bar is not None:
            bar.close()
    path = checkpoint.save(model, step, history)  # unless saved at this step already
    return FastResult(model, history, settings, backbone, step, time.perf_counter() - start,
                      path, bool(stop))


def _step(model, loss, traced):
    """One training step on a batch: the losses; traced into a graph when `traced`."""
    optimizer, variables = model.optimizer, model.trainable_variables

    def train_step(batch):
        with tf.GradientTape() as tape:
            outputs = model(batch, training=True)
            parts = loss(batch, outputs)
        grads = tape.gradient(parts["total"], variables)
        optimizer.apply(grads, variables)
        return parts

    # Tracing the step into a graph takes seconds but makes each step
    # faster; for a handful of steps (tests, demos) eager is quicker.
    return tf.function(train_step, reduce_retracing=True) if traced else train_step
