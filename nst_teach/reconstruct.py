"""Reconstructing an image from noise with one loss only.

Taught in notebooks 03 (content: what a layer remembers of a photo) and 04
(style: what the Gram matrices of a set of layers keep of a painting).
"""

from __future__ import annotations

__all__ = ["noise_image", "reconstruct"]

import numpy as np
from scipy.optimize import fmin_l_bfgs_b

from .tensorflow_setup import tf
from . import images
from .backbones import load_backbone
from .features import feature_extractor
from .losses import content_loss, gram_matrix, style_loss
from .evaluator import for_scipy, gradient_step


def noise_image(shape, seed=0, amplitude=32):
    """Mid-grey plus uniform noise of +-`amplitude`, an RGB uint8 image of `shape`.

    Faint noise rather than full-range: whatever a layer cannot see is never
    changed by the optimisation, and faint noise keeps those blind spots quiet
    so that what the layer *does* remember stands out.

    Taught in notebook 03.
    """
    noise = np.random.default_rng(seed).uniform(-amplitude, amplitude, shape)
    return np.clip(np.round(128 + noise), 0, 255).astype(np.uint8)


def _loss_function(target, layers, kind, backbone, normalization):
    """x (1, H, W, 3) -> scalar: content or style distance of x to `target` at `layers`."""
    model, _ = load_backbone(backbone)
    extractor = feature_extractor(model, layers)
    wanted = extractor(tf.constant(images.preprocess(target)))
    size = target.shape[:2]
    if kind == "content":
        return lambda x: tf.add_n([content_loss(wanted[n], extractor(x)[n]) for n in layers])
    if kind == "style":
        grams = {name: gram_matrix(value) for name, value in wanted.items()}
        return lambda x: tf.add_n(
            [style_loss(grams[n], extractor(x)[n], size, normalization) for n in layers]
        ) / len(layers)
    raise ValueError(f"kind must be 'content' or 'style', got {kind!r}")


def reconstruct(target, layers, kind="content", evaluations=100, backbone="hed-vgg16",
                normalization="paper", seed=0):
    """Start from noise and let L-BFGS minimise only the content or only the style loss.

    `target` is an RGB uint8 image; `layers` the layer names whose features
    (content) or Gram matrices (style) the noise must match. Returns the
    reconstructed RGB image and the loss after each evaluation. Whatever the
    result shares with `target` is what those layers remember.

    Taught in notebooks 03 and 04.
    """
    target = np.asarray(target)
    layers = [layers] if isinstance(layers, str) else list(layers)
    loss_of = _loss_function(target, layers, kind, backbone, normalization)
    shape = (1, *target.shape)

    evaluate = for_scipy(gradient_step(lambda x: {"total": loss_of(x)}), shape)
    losses = []

    def loss_and_grad(x_flat):
        parts, grad = evaluate(x_flat)
        losses.append(parts["total"])
        return parts["total"], grad

    x0 = images.preprocess(noise_image(target.shape, seed)).ravel().astype(np.float64)
    x, _, _ = fmin_l_bfgs_b(loss_and_grad, x0, maxfun=evaluations)
    return images.deprocess(x.reshape(shape)), losses
