"""Training the style network with the perceptual losses (notebook 08)."""

from __future__ import annotations

__all__ = [
    "vgg_input", "style_targets", "PerceptualLoss", "make_loss", "FastHistory",
    "FastResult", "train", "save_fast_loss_plot", "plot_fast_history",
]

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..tensorflow_setup import keras, tf
from .. import images
from ..backbones import load_backbone
from ..features import feature_extractor
from ..images import IMAGENET_MEAN_BGR
from ..losses import content_loss, gram_matrix, style_loss, total_variation_loss
from .network import build_network, load_model, save_model
from .photos import PhotoSampler, default_photos, photos_from_folder
from .settings import FastSettings

EAGER_STEPS = 20  # runs of at most this many steps skip tracing (see `train`)

# --------------------------------------------------------------------------
# The perceptual losses, for batches
# --------------------------------------------------------------------------


def vgg_input(rgb):
    """RGB in [0, 255] (a batch) to the VGG input, inside the graph (see `images.preprocess`).

    Used by `nst_teach.fast.training`.
    """
    return rgb[..., ::-1] - tf.constant(IMAGENET_MEAN_BGR)


def style_targets(extractor, style_image, layers):
    """Each style layer's Gram matrix *per position* (G / M), from the style image.

    Dividing by the layer's number of positions M = h*w makes the target
    independent of the style image's size; `PerceptualLoss` multiplies it
    back by the training crop's M, so the style image need not be resized
    to the crops' size or shape (the book stretches it instead).

    Used by `nst_teach.fast.training`.
    """
    features = extractor(tf.constant(images.preprocess(style_image)))
    targets = {}
    for name in layers:
        f = features[name]
        targets[name] = gram_matrix(f) / float(f.shape[1] * f.shape[2])
    return targets


class PerceptualLoss:
    """Content, style and total-variation losses of a batch, built on `nst_teach.losses`.

    For each image i of the batch (the library's losses take one image):

    - content: `content_loss(photo features, output features)` at
      `content_layer`, divided by `content_loss(photo features, 0)`: the
      *relative* squared error, 1 for an output whose features are all zero;
    - style: for each style layer, `style_loss(target Gram, output features,
      normalization="paper")` divided by the same loss of an all-zero feature
      map, i.e. ||G_style - G_output||^2 / ||G_style||^2, then averaged over
      the layers;
    - tv: `total_variation_loss(output)` divided by the number of pixels;

    each averaged over the batch and multiplied by its weight.

    Why relative errors: the raw sums grow with the image size, with the
    batch, with the layer (a block4 Gram is 512 x 512 and its entries are
    large) and with the backbone (hed-vgg16's features are scaled unlike
    VGG19's or a random network's). Divided by the size of their targets
    they are all "about 1 when far off, about 0 when matched", so one set of
    weights works across crop sizes, layers and backbones, and the weights
    say directly how much style we want per unit of content.
    `features` and `content_features` are feature extractors
    (`nst_teach.features.feature_extractor`), `grams` the per-position style
    Grams of `style_targets`.

    Taught in notebook 08.
    """

    def __init__(self, features, content_features, grams, settings):
        self.features, self.content_features = features, content_features
        self.grams, self.settings = grams, settings

    def __call__(self, photos, outputs):
        """Weighted losses ``{"total", "content", "style", "tv"}`` of RGB batches."""
        s = self.settings
        out_f = self.features(vgg_input(outputs))
        photo_c = tf.stop_gradient(self.content_features(vgg_input(photos))[s.content_layer])
        out_c = out_f[s.content_layer]
        n = photos.shape[0]
        content, style, tv = [], [], []
        for i in range(n):
            scale = content_loss(photo_c[i], tf.zeros_like(photo_c[i])) + 1e-6
            content.append(content_loss(photo_c[i], out_c[i]) / scale)
            layers = []
            for name in s.style_layers:
                f = out_f[name][i:i + 1]
                target = self.grams[name] * float(f.shape[1] * f.shape[2])
                zero = style_loss(target, tf.zeros_like(f), None, "paper") + 1e-12
                layers.append(style_loss(target, f, None, "paper") / zero)
            style.append(tf.add_n(layers) / len(layers))
            tv.append(total_variation_loss(outputs[i:i + 1]) / float(np.prod(outputs.shape[1:3])))
        parts = {
            "content": s.content_weight * tf.add_n(content) / n,
            "style": s.style_weight * tf.add_n(style) / n,
            "tv": s.tv_weight * tf.add_n(tv) / n,
        }
        parts["total"] = parts["content"] + parts["style"] + parts["tv"]
        return parts


def make_loss(style_image, settings):
    """A `PerceptualLoss` for `style_image` and `settings`, and the backbone's name.

    Used by `nst_teach.fast.training`.
    """
    model, backbone = load_backbone(settings.backbone, settings.weights, settings.seed)
    layers = tuple(dict.fromkeys((settings.content_layer, *settings.style_layers)))
    features = feature_extractor(model, layers, settings.convolution)
    content_features = feature_extractor(model, [settings.content_layer], settings.convolution)
    style_image = images.load_image(style_image)
    side = settings.style_size or 2 * settings.size
    style_image = images.resize(style_image, _shorter_side(style_image, side), "bicubic")
    grams = style_targets(features, style_image, settings.style_layers)
    return PerceptualLoss(features, content_features, grams, settings), backbone


def _shorter_side(image, side):
    h, w = image.shape[:2]
    scale = side / min(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


@dataclass
class FastHistory:
    """Weighted losses per training step, and seconds per step.

    Used by `nst_teach.fast.training`.
    """

    steps: list = field(default_factory=list)
    losses: dict = field(default_factory=lambda: {k: [] for k in ("total", "content", "style", "tv")})
    seconds: list = field(default_factory=list)

    def add(self, step, parts, seconds):
        self.steps.append(step)
        for k in self.losses:
            self.losses[k].append(float(parts[k]))
        self.seconds.append(float(seconds))

    def to_dict(self):
        return {"steps": self.steps, "losses": self.losses, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d):
        history = cls()
        if d:
            history.steps = list(d.get("steps", []))
            history.losses.update({k: list(v) for k, v in d.get("losses", {}).items()})
            history.seconds = list(d.get("seconds", []))
        return history


@dataclass
class FastResult:
    """What `train` produced. Used by `nst_teach.fast.training`."""

    model: keras.Model
    history: FastHistory
    settings: FastSettings
    backbone: str
    step: int  # steps trained in total (including earlier runs resumed from)
    seconds: float  # seconds of training in this call
    checkpoint: Path | None = None
    stopped: bool = False  # ended early by Ctrl-C or a stop request


def train(style, photos=None, settings=None, *, output=None, resume=False, progress=False,
          callback=None, stop=None, **changes):
    """Train a style network for `style` on random crops of `photos`.

    - `style`: the style image (path, array, PIL image or example name).
    - `photos`: a folder of photos, a list or dict of arrays, or None for the
      bundled photos (`default_photos`).
    - `settings`: a `FastSettings` (default values if None); keyword
      `changes` override single fields: ``train("swirls", steps=500)``.
    - `output`: a `.keras` path; the network is saved there every
      `settings.checkpoint_every` steps and at the end, with a loss curve
      beside it (``<output stem>_loss.png``).
    - `resume`: continue from the network (and optimiser state and history)
      in `output` if it exists; `settings.steps` is then the *total* number
      of steps, so an interrupted run is finished by running it again.
    - `callback(step, parts, model)` after every step; a truthy return stops.
    - `stop`: an object with ``is_set()`` (a `threading.Event`) to stop from
      another thread.

    Ctrl-C, a stopping callback or `stop.set()` end training early: the
    network trained so far is saved (atomically) and returned, with
    `stopped=True`. Returns a `FastResult`.

    Taught in notebook 08.
    """
    from ..data import image_or_example

    settings = settings or FastSettings()
    settings = settings.replace(**changes) if changes else settings
    output = Path(output) if output is not None else None
    if output is not None and output.suffix != ".keras":
        raise ValueError(f"output must end in .keras, got {output.name!r}")
    style_image = image_or_example(style) if isinstance(style, (str, Path)) else images.load_image(style)
    if photos is None:
        photos = default_photos()
    elif isinstance(photos, (str, Path)):
        photos = photos_from_folder(photos)
    sampler = PhotoSampler(photos, settings.size, settings.jitter, settings.seed)
    loss, backbone = make_loss(style_image, settings)

    history, step = FastHistory(), 0
    if resume and output is not None and output.exists():
        model = load_model(output)
        info = model.nst_info
        name = str(style) if isinstance(style, (str, Path)) else "array"
        if info.get("style_name") not in (None, "array", name) and name != "array":
            raise ValueError(
                f"{output.name} was trained for the style {info['style_name']!r}, not {name!r}: "
                "give another output path, or train without resume to start afresh")
        history = FastHistory.from_dict(info.get("history"))
        step = int(info.get("step", 0))
        sampler.rng = np.random.default_rng([settings.seed, step])
    else:
        model = build_network(settings.filters, settings.residual_blocks, settings.seed)
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
    optimizer = model.optimizer
    variables = model.trainable_variables

    def train_step(batch):
        with tf.GradientTape() as tape:
            outputs = model(batch, training=True)
            parts = loss(batch, outputs)
        grads = tape.gradient(parts["total"], variables)
        optimizer.apply(grads, variables)
        return parts

    if settings.steps - step > EAGER_STEPS:
        # Tracing the step into a graph takes seconds but makes each step
        # faster; for a handful of steps (tests, demos) eager is quicker.
        train_step = tf.function(train_step, reduce_retracing=True)

    def info():
        return {"style_name": str(style) if isinstance(style, (str, Path)) else "array",
                "step": step, "backbone": backbone, "settings": settings.to_dict(),
                "history": history.to_dict()}

    def checkpoint():
        if output is None:
            return None
        model.nst_info = info()
        save_model(model, output, model.nst_info)
        if history.steps:
            save_fast_loss_plot(history, output.with_name(output.stem + "_loss.png"))
        return output

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=settings.steps, initial=min(step, settings.steps), unit="step",
                   desc="training style network")
    start, stopped, saved_at = time.perf_counter(), False, step
    try:
        while step < settings.steps:
            t = time.perf_counter()
            parts = train_step(tf.constant(sampler.batch(settings.batch_size)))
            parts = {k: float(v) for k, v in parts.items()}
            step += 1
            history.add(step, parts, time.perf_counter() - t)
            if not math.isfinite(parts["total"]):
                raise FloatingPointError(
                    f"the loss became {parts['total']} at step {step}: lower learning_rate "
                    f"(now {settings.learning_rate}) and resume from the last checkpoint")
            if bar is not None:
                bar.set_postfix(loss=f"{parts['total']:.4g}", style=f"{parts['style']:.3g}",
                                content=f"{parts['content']:.3g}")
                bar.update()
            if step % settings.checkpoint_every == 0:
                checkpoint()
                saved_at = step
            if (callback is not None and callback(step, parts, model)) or (
                    stop is not None and stop.is_set()):
                stopped = True
                break
    except KeyboardInterrupt:
        stopped = True
    finally:
        if bar is not None:
            bar.close()
    path = checkpoint() if (output is not None and (saved_at != step or not output.exists())) else output
    model.nst_info = info()
    return FastResult(model, history, settings, backbone, step, time.perf_counter() - start,
                      path, stopped)


def save_fast_loss_plot(history, path, title="Training the style network"):
    """The weighted losses per training step (and a running mean), as a PNG.

    Used by `nst_teach.fast.training`.
    """
    from ..plotting import plot_png

    return plot_png(lambda ax: plot_fast_history(history, ax, title), path)


def plot_fast_history(history, ax=None, title="Training the style network"):
    """Each weighted loss per step (faint) and its running mean over 20 steps, log scale.

    Taught in notebook 08.
    """
    from ..plotting import COLOURS, LABELS

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    for name in ("total", "content", "style", "tv"):
        values = np.asarray(history.losses[name])
        if not len(values) or not np.any(values > 0):
            continue
        ax.plot(history.steps, values, color=COLOURS[name], alpha=0.25, linewidth=0.8)
        k = min(20, len(values))
        smooth = np.convolve(values, np.ones(k) / k, mode="valid")
        ax.plot(history.steps[k - 1:], smooth, color=COLOURS[name], label=LABELS[name],
                linewidth=2 if name == "total" else 1.2)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("weighted loss")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return ax
