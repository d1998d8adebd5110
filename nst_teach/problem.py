"""Setting a run up: the images at their working size, the targets, the loss, the start.

Taught in notebook 09 (`setup`, `prepare_images`). `setup` does everything
`nst_teach.transfer` needs before it optimises and returns a `Problem` that
any optimiser (`nst_teach.optimizers`) can start from; `warm_up` does it
ahead of time, so that the playground's Run starts at its first evaluation.
"""

from __future__ import annotations

__all__ = ["prepare_images", "Problem", "setup", "warm_up"]

from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import color, images
from .backbones import load_backbone
from .config import BOOK, check_style_counts, min_size_for
from .data import image_or_example
from .evaluator import in_turn, make_loss_and_grads
from .features import feature_extractor, target_draws
from .memory import check_memory
from .schema import SettingError
from .stages import settings_per_stage
from .winograd import convolution_for

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
        raise SettingError(_too_narrow(content, size, need), "height")
    style_size = tuple(max(1, round(side * settings.style_scale)) for side in size)
    if min(style_size) < need:
        raise SettingError(
            f"style_scale={settings.style_scale} makes the style image {style_size[1]}x"
            f"{style_size[0]} px, but the layers chosen need at least {need} px: use a larger style_scale",
            "style_scale")
    check_memory(size, settings)  # before anything big is built
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

    Used by `nst_teach.problem`.
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
    draws = 1 if "sliced_draws" in settings.unused else settings.sliced_draws
    targets = target_draws(extractor, content_x, [images.preprocess(s) for s in style_imgs]
                           if several else images.preprocess(style_imgs[0]), settings, masks, draws)
    steps = [make_loss_and_grads(extractor, t, settings, content_x.shape) for t in targets]
    x0 = images.preprocess(_start_image(settings, work_content, style_imgs[0], init_image))
    return Problem(steps[0] if draws == 1 else in_turn(steps),
                   x0.ravel().astype(np.float64), content_x.shape, content_img,
                   style_imgs[0], backbone, finish)


def warm_up(content, style, settings=BOOK):
    """Do now what the first `transfer` of these images and settings would do first.

    Builds the backbone and the feature extractor, computes the targets and
    traces and runs the loss-and-gradient step, for every stage's size with
    `settings.stages`. All of it is kept (see `traced_step`), so that the run
    itself starts at its first real evaluation: the playground calls this in
    the background while the student is still choosing (notebook 07).

    Used by `nst_teach.runner`.
    """
    if settings.stages is not None:
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
    check_style_counts(n_styles, masks=len(masks))
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


