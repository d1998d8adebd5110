"""The perceptual losses of a batch, for training a style network (notebook 08).

Johnson et al.'s losses, built on the library's `content_loss`, `style_loss`
and `total_variation_loss` from a backbone's features, each divided by the
size of its target so that one set of weights works across crop sizes,
layers and backbones (see `PerceptualLoss`).
"""

from __future__ import annotations

__all__ = ["vgg_input", "style_targets", "PerceptualLoss", "make_loss"]

import numpy as np

from ..tensorflow_setup import tf
from .. import images, statistics
from ..backbones import load_backbone
from ..features import feature_extractor
from ..images import IMAGENET_MEAN_BGR
from ..losses import content_loss, gram_matrix, style_loss, total_variation_loss


def vgg_input(rgb):
    """RGB in [0, 255] (a batch) to the VGG input, inside the graph (see `images.preprocess`).

    Used by `nst_teach.fast.perceptual_loss`.
    """
    return rgb[..., ::-1] - tf.constant(IMAGENET_MEAN_BGR)


def style_targets(extractor, style_image, layers, statistic="gram", crop=None, seed=0,
                  swag_temperature=None):
    """Each style layer's target from the style image, for `statistic` (notebook 10).

    ``"gram"``: the Gram matrix *per position* (G / M). Dividing by the
    layer's number of positions M = h*w makes the target independent of the
    style image's size; `PerceptualLoss` multiplies it back by the training
    crop's M, so the style image need not be resized to the crops' size or
    shape (the book stretches it instead). ``"gaussian"`` and ``"sliced"``
    are averages, free of the size already; the sliced quantiles are taken at
    as many levels as a `crop` x `crop` output has positions at that layer.
    With `swag_temperature`, the features are smoothed first (`statistics.swag`).

    Used by `nst_teach.fast.perceptual_loss`.
    """
    features = extractor(tf.constant(images.preprocess(style_image)))
    if statistic == "sliced":
        at_crop = extractor(tf.zeros((1, crop, crop, 3)))
    targets = {}
    for index, name in enumerate(layers):
        f = features[name]
        if swag_temperature:
            f = statistics.swag(f, swag_temperature)
        if statistic == "gaussian":
            targets[name] = statistics.gaussian_target([f])
        elif statistic == "sliced":
            shape = at_crop[name].shape
            directions = statistics.random_directions(shape[-1], seed=seed + index)
            targets[name] = statistics.sliced_target([f], shape[1] * shape[2], directions)
        else:
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
      the layers (with ``settings.style_statistic`` "gaussian" or "sliced",
      that statistic's distance over its distance from all-zero features);
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
            layers = [self._relative_style(name, out_f[name][i:i + 1]) for name in s.style_layers]
            style.append(tf.add_n(layers) / len(layers))
            tv.append(total_variation_loss(outputs[i:i + 1]) / float(np.prod(outputs.shape[1:3])))
        parts = {
            "content": s.content_weight * tf.add_n(content) / n,
            "style": s.style_weight * tf.add_n(style) / n,
            "tv": s.tv_weight * tf.add_n(tv) / n,
        }
        parts["total"] = parts["content"] + parts["style"] + parts["tv"]
        return parts

    def _relative_style(self, name, features):
        """One layer's style loss over the same loss of an all-zero feature map."""
        target, statistic = self.grams[name], getattr(self.settings, "style_statistic", "gram")
        if getattr(self.settings, "swag_temperature", None):
            features = statistics.swag(features, self.settings.swag_temperature)
        if statistic == "gram":
            target = target * float(features.shape[1] * features.shape[2])
            loss = lambda f: style_loss(target, f, None, "paper")  # noqa: E731
        elif statistic == "gaussian":
            loss = lambda f: statistics.gaussian_distance(target, f)  # noqa: E731
        else:
            loss = lambda f: statistics.sliced_distance(target, f)  # noqa: E731
        return loss(features) / (loss(tf.zeros_like(features)) + 1e-12)


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
    grams = style_targets(features, style_image, settings.style_layers, settings.style_statistic,
                          settings.size, settings.seed, settings.swag_temperature)
    return PerceptualLoss(features, content_features, grams, settings), backbone


def _shorter_side(image, side):
    h, w = image.shape[:2]
    scale = side / min(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))
