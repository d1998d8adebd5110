"""Feature maps of chosen layers, and the targets the losses compare against.

Taught in notebook 02 (feature maps) and 06 (the optimisation).
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from .backbones import conv_layer_names
from .losses import gram_matrix


def feature_extractor(model, layers):
    """A model mapping a preprocessed image to ``{layer name: feature map}``.

    `model` is a backbone (see `nst_teach.backbones.load_backbone`). The
    extractor runs from its input to the named layers only, so it stops at
    the deepest layer needed: `block5_conv2` never pays for `block5_conv4`.
    Unknown names raise `ValueError` listing the valid ones. The same
    (model, layers) gives back the same extractor, built once.
    """
    valid = conv_layer_names(model)
    unknown = [name for name in layers if name not in valid]
    if unknown:
        raise ValueError(
            f"unknown layer(s) {', '.join(unknown)} for this backbone; "
            f"valid layers: {', '.join(valid)}"
        )
    key = (id(model), tuple(layers))
    cached = _EXTRACTORS.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    outputs = {name: model.get_layer(name).output for name in layers}
    extractor = keras.Model(model.input, outputs, name="features")
    while len(_EXTRACTORS) >= 8:
        _EXTRACTORS.pop(next(iter(_EXTRACTORS)))
    _EXTRACTORS[key] = (model, extractor)
    return extractor


_EXTRACTORS = {}
"""Built extractors per (backbone, layers): reusing one lets `nst_teach.optimize`
reuse its traced loss-and-gradient graph across runs (a speed feature)."""


class Targets(NamedTuple):
    """What the combination image is pulled towards, computed once per run."""

    content: tf.Tensor  # the content image's features at the content layer
    grams: dict  # layer name -> Gram matrix of the style image's features


def compute_targets(extractor, content_x, style_x, settings):
    """Content features and style Grams from preprocessed content and style images."""
    content = extractor(tf.constant(content_x))[settings.content_layer]
    style_features = extractor(tf.constant(style_x))
    grams = {name: gram_matrix(style_features[name]) for name in settings.style_layers}
    return Targets(content, grams)
