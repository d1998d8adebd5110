"""The three losses of neural style transfer and their weighted sum.

Taught in notebooks 03 (content), 04 (style and the Gram matrix) and
05 (total variation). All functions take TensorFlow or NumPy arrays and
return TensorFlow scalars, so they can sit inside a `tf.GradientTape`.
"""

from __future__ import annotations

__all__ = [
    "content_loss", "gram_matrix", "style_normalizer", "style_loss", "guided_style_loss",
    "layer_style_loss", "total_variation_loss", "LossWeights", "loss_weights", "weighted_losses",
]

from typing import NamedTuple

from . import statistics
from .tensorflow_setup import tf


def content_loss(base, combination):
    """Sum of squared differences of two feature maps.

        L_content = sum (F_combination - F_base)^2

    The book applies it to `block5_conv2`, deep enough that only the layout
    of the content image is kept, not its exact pixels.

    Taught in notebooks 03 and 08.
    """
    base = tf.convert_to_tensor(base, tf.float32)
    return tf.reduce_sum(tf.square(tf.convert_to_tensor(combination, tf.float32) - base))


def gram_matrix(features):
    """Channel-by-channel inner products of a feature map.

        G[i, j] = sum over positions p of F[p, i] * F[p, j]

    `features` has shape (H, W, C) or (1, H, W, C); the result is (C, C).
    Summing over positions throws away *where* things are and keeps *which
    features occur together*: that is what we call style. Unnormalised, as in
    the book.

    Taught in notebooks 02 and 04.
    """
    features = tf.convert_to_tensor(features, tf.float32)
    flat = tf.reshape(features, (-1, features.shape[-1]))
    return tf.matmul(flat, flat, transpose_a=True)


def style_normalizer(features_shape, image_size, normalization="book"):
    """The divisor of the squared Gram difference for one layer.

    - ``"book"``: 4 * 3^2 * (H*W)^2 with H, W the *image's* size and 3 its
      channels, the same for every layer (the book's constants).
    - ``"paper"``: 4 * N^2 * M^2 with N the layer's channels and M = h*w its
      own spatial size (Gatys et al. 2015, eq. 4), so that every layer
      contributes on a similar scale.

    Taught in notebook 04.
    """
    if normalization == "book":
        height, width = image_size
        return 4.0 * 3**2 * float(height * width) ** 2
    if normalization == "paper":
        *_, h, w, channels = features_shape
        return 4.0 * float(channels) ** 2 * float(h * w) ** 2
    raise ValueError(f"normalization must be 'book' or 'paper', got {normalization!r}")


def style_loss(style_gram, combination, image_size, normalization="book"):
    """Squared distance of Gram matrices for one layer.

        L_style = sum (G_style - G_combination)^2 / normalizer

    `style_gram` is the Gram matrix of the style image's features (computed
    once, it never changes); `combination` is the combination image's feature
    map at the same layer; see `style_normalizer` for the divisor.

    Taught in notebooks 04 and 08.
    """
    combination = tf.convert_to_tensor(combination, tf.float32)
    difference = tf.convert_to_tensor(style_gram, tf.float32) - gram_matrix(combination)
    divisor = style_normalizer(combination.shape, image_size, normalization)
    return tf.reduce_sum(tf.square(difference)) / divisor


def guided_style_loss(style_gram, mask, combination, image_size, normalization="book"):
    """`style_loss` restricted to a region (Gatys et al. 2017, spatial control).

    The combination's features are multiplied by `mask` (the region, averaged
    down to the layer's size, shape (1, h, w, 1)) before their Gram matrix is
    taken, so only positions inside the region are pulled towards the style;
    `style_gram` should be scaled by the region's share of positions.

    Used by `nst_teach.losses`.
    """
    combination = tf.convert_to_tensor(combination, tf.float32)
    return style_loss(style_gram, combination * mask, image_size, normalization)


def layer_style_loss(target, combination, image_size, settings, mask=None):
    """One style layer's loss for `settings.style_statistic`, optionally inside `mask`.

    ``"gram"`` is the book's `style_loss` (`guided_style_loss` with a mask);
    ``"gaussian"`` and ``"sliced"`` are the distances of `nst_teach.statistics`,
    with a mask weighted by the region's share of positions, as a guided Gram
    loss is. With ``settings.swag_temperature`` the features are smoothed
    first (`nst_teach.statistics.swag`), as the target was.

    Used by `nst_teach.losses`.
    """
    if settings.swag_temperature:
        combination = statistics.swag(combination, settings.swag_temperature)
    statistic = settings.style_statistic
    if statistic == "gram":
        if mask is None:
            return style_loss(target, combination, image_size, settings.normalization)
        return guided_style_loss(target, mask, combination, image_size, settings.normalization)
    distance = statistics.gaussian_distance if statistic == "gaussian" else statistics.sliced_distance
    if mask is None:
        return distance(target, combination)
    return tf.reduce_mean(mask) * distance(target, combination, mask)


def total_variation_loss(image):
    """How much neighbouring pixels differ, with the book's slicing.

        L_tv = sum over (i, j) of (dx[i, j]^2 + dy[i, j]^2) ^ 1.25

    with dy = x[i, j] - x[i+1, j] and dx = x[i, j] - x[i, j+1], both taken on
    the (H-1) x (W-1) top-left pixels. `image` has shape (1, H, W, 3).
    Penalising it keeps the result from filling with high-frequency noise.

    Taught in notebooks 05 and 08.
    """
    x = tf.convert_to_tensor(image, tf.float32)
    corner = x[:, :-1, :-1, :]
    dy = tf.square(corner - x[:, 1:, :-1, :])
    dx = tf.square(corner - x[:, :-1, 1:, :])
    return tf.reduce_sum(tf.pow(dy + dx, 1.25))


class LossWeights(NamedTuple):
    """The loss's weights as float32 tensors: inputs of the traced step, not constants in it.

    `content` and `tv` are scalars; `style` holds one scalar per style layer,
    ``style_weight * style_layer_weights[i] / n_layers``. A traced step takes
    them as an argument beside the targets, so that a run with other weights
    (a slider moved in the playground) reuses the graph (see `loss_weights`).

    Used by `nst_teach.losses` (`loss_weights`, `weighted_losses`).
    """

    content: tf.Tensor
    style: tuple
    tv: tf.Tensor


def loss_weights(settings):
    """The `LossWeights` of `settings`: the book's 0.025, 1 / 5 per style layer, 1e-4.

    Each weight is the float32 value the book's Python float becomes when it
    multiplies a float32 loss, so the losses are the same as with the
    weights written into the graph.

    Used by `nst_teach.losses` and `nst_teach.evaluator`.
    """
    layers = settings.style_layers
    factors = settings.style_layer_weights or (1.0,) * len(layers)
    return LossWeights(tf.constant(settings.content_weight, tf.float32),
                       tuple(tf.constant(settings.style_weight * f / len(layers), tf.float32)
                             for f in factors),
                       tf.constant(settings.tv_weight, tf.float32))


def weighted_losses(features, targets, image, settings, weights=None):
    """The three weighted losses and their total, as a dict of scalars.

    `features` maps layer names to the combination image's feature maps,
    `targets` holds the content features and style statistics (see
    `nst_teach.features.Targets`), `image` is the combination image (1, H, W, 3).
    `settings` chooses the layers and the normalisation; `weights` (default:
    ``loss_weights(settings)``) are the `LossWeights`. Style layer i weighs
    ``style_weight * style_layer_weights[i] / n_layers`` (the book: all factors 1).
    Returns ``{"total", "content", "style", "tv"}`` with each component already
    multiplied by its weight, so that they add up to the total.

    Used by `bench/speed/evaluation.py` and `nst_teach.evaluator`.
    """
    weights = loss_weights(settings) if weights is None else weights
    image_size = tuple(image.shape[1:3])
    content = weights.content * content_loss(
        targets.content, features[settings.content_layer]
    )
    layers = settings.style_layers
    per_layer = dict(zip(layers, weights.style))
    if targets.regions is None:
        terms = [per_layer[name] * layer_style_loss(targets.style[name], features[name], image_size,
                                                    settings) for name in layers]
    else:
        terms = [weight * per_layer[name] * layer_style_loss(style[name], features[name], image_size,
                                                             settings, masks[name])
                 for weight, style, masks in targets.regions for name in layers]
    style = tf.add_n(terms)
    tv = weights.tv * total_variation_loss(image)
    return {"total": content + style + tv, "content": content, "style": style, "tv": tv}
