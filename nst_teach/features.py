"""Feature maps of chosen layers, and the targets the losses compare against.

Taught in notebook 02 (feature maps), 06 (the optimisation) and 10 (style statistics).
"""

from __future__ import annotations

__all__ = ["feature_extractor", "Targets", "compute_targets", "target_draws"]

from typing import NamedTuple

import numpy as np

from .tensorflow_setup import keras, tf
from .backbones import conv_layer_names
from .caches import Cache
from .config import CONVOLUTIONS, check_style_counts
from . import statistics
from .losses import gram_matrix
from .schema import SettingError
from .winograd import WinogradFeatures, convolution_for


def feature_extractor(model, layers, convolution="direct"):
    """A model mapping a preprocessed image to ``{layer name: feature map}``.

    `model` is a backbone (see `nst_teach.backbones.load_backbone`). The
    extractor runs from its input to the named layers only, so it stops at
    the deepest layer needed: `block5_conv2` never pays for `block5_conv4`.
    Unknown names raise `ValueError` listing the valid ones. The same
    (model, layers) gives back the same extractor, built once.
    ``convolution="winograd"`` computes the deep 3x3 convolutions with fewer
    multiplications, the same features to float32 round-off: a callable, not
    a Keras model (see `nst_teach.winograd`); when TensorFlow sees a GPU,
    TensorFlow's own kernels are used instead (`nst_teach.winograd.convolution_for`).

    Taught in notebooks 02 and 04.
    """
    valid = conv_layer_names(model)
    unknown = [name for name in layers if name not in valid]
    if unknown:
        raise SettingError(
            f"unknown layer(s) {', '.join(unknown)} for this backbone; "
            f"valid layers: {', '.join(valid)}")
    if convolution not in CONVOLUTIONS:
        raise ValueError(f"convolution must be one of {CONVOLUTIONS}, got {convolution!r}")
    convolution = convolution_for(convolution)
    return _EXTRACTORS.get((model, tuple(layers), convolution),
                           lambda: _build_extractor(model, layers, convolution))


def _build_extractor(model, layers, convolution):
    if convolution == "winograd":
        return WinogradFeatures(model, layers)
    outputs = {name: model.get_layer(name).output for name in layers}
    return keras.Model(model.input, outputs, name="features")


_EXTRACTORS = Cache("feature extractors", 8)
"""Reusing an extractor lets `nst_teach.optimize` reuse its traced loss-and-gradient graph
across runs (a speed feature)."""


class Targets(NamedTuple):
    """What the combination image is pulled towards, computed once per run.

    Used by `bench/speed/evaluation.py`.
    """

    content: tf.Tensor  # the content image's features at the content layer
    style: dict  # layer name -> the style's statistic: a Gram matrix (the book), or see nst_teach.statistics
    regions: tuple | None = None  # with masks: (weight, {layer: statistic}, {layer: mask}) per style


def compute_targets(extractor, content_x, style_x, settings, masks=None):
    """Content features and style statistics from preprocessed content and style images.

    `style_x` is one preprocessed style image or a list of them, blended with
    `settings.style_blend`: for Gram matrices the weighted sum (the book's
    way), for the other statistics the mixture of the styles' distributions.
    A style image of another size than the content (`settings.style_scale`)
    has its Grams rescaled by the ratio of positions, so that they compare
    with the combination's (the other statistics are averages, already free
    of the size). With `masks` (one (H, W) array in [0, 1] per style image,
    at the content's size) each style only applies inside its mask: see
    `nst_teach.losses.guided_style_loss`.

    Taught in notebook 09.
    """
    return target_draws(extractor, content_x, style_x, settings, masks, draws=1)[0]


def target_draws(extractor, content_x, style_x, settings, masks=None, draws=1):
    """`compute_targets` for `draws` sets of sliced directions: a tuple of `Targets`.

    The images' features are computed once; each draw projects them on its
    own random directions (the first draw's are `compute_targets`'s). Adam
    takes one draw per step (`Settings.sliced_draws`, notebook 10).

    Used by `nst_teach.problem`.
    """
    styles = list(style_x) if isinstance(style_x, (list, tuple)) else [style_x]
    check_style_counts(len(styles), settings.style_blend, None if masks is None else len(masks))
    content_features = extractor(tf.constant(content_x))
    blend = settings.style_blend or (1.0,) * len(styles)
    style_features = [extractor(tf.constant(s)) for s in styles]
    if settings.swag_temperature:  # smoothed once, whatever the number of draws
        style_features = [{name: statistics.swag(f[name], settings.swag_temperature)
                           for name in settings.style_layers} for f in style_features]
    content = content_features[settings.content_layer]
    describe = lambda features, weights, draw: {  # noqa: E731
        name: _statistic(settings, name, [f[name] for f in features], weights, content_features[name], draw)
        for name in settings.style_layers}
    if masks is None:
        return tuple(Targets(content, describe(style_features, blend, draw)) for draw in range(draws))
    layer_masks = [{name: _mask_at(mask, content_features[name].shape[1:3]) for name in settings.style_layers}
                   for mask in masks]
    return tuple(Targets(content, {}, tuple(
        (weight, _masked(settings, describe([features], [1.0], draw), masks_here), masks_here)
        for weight, features, masks_here in zip(blend, style_features, layer_masks))) for draw in range(draws))


def _masked(settings, statistic, layer_masks):
    """A region's statistic: the guided Gram counts only the masked share of positions, so scale it alike."""
    if settings.style_statistic != "gram":
        return statistic
    return {n: g * tf.reduce_mean(tf.square(layer_masks[n])) for n, g in statistic.items()}


def _statistic(settings, name, style_features, blend, combination, draw=0):
    """One style layer's target, for `settings.style_statistic`, sized like `combination`.

    `style_features` are already smoothed where `settings.swag_temperature` asks (`target_draws`).
    """
    positions = combination.shape[1] * combination.shape[2]
    if settings.style_statistic == "gaussian":
        return statistics.gaussian_target(style_features, blend)
    if settings.style_statistic == "sliced":
        layer = settings.style_layers.index(name)
        seed = settings.seed + layer if draw == 0 else (settings.seed, layer, draw)
        directions = statistics.random_directions(combination.shape[-1], seed=seed)
        return statistics.sliced_target(style_features, statistics.target_levels(positions), directions, blend)
    return tf.add_n([w * (gram_matrix(f) * (positions / (f.shape[1] * f.shape[2])))
                     for w, f in zip(blend, style_features)])


def _mask_at(mask, size):
    """An (H, W) mask averaged down to a layer's (h, w), shaped (1, h, w, 1)."""
    mask = tf.constant(np.asarray(mask, np.float32)[None, :, :, None])
    return tf.image.resize(mask, size, method="area")
