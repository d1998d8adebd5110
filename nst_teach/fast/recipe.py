"""The book's literal recipe: fit the network to pairs made by the slow optimisation (notebook 08)."""

from __future__ import annotations

__all__ = ["RecipeResult", "book_recipe"]

import time
from dataclasses import dataclass

import numpy as np

from ..tensorflow_setup import keras, tf
from .network import build_network

# --------------------------------------------------------------------------
# The book's literal recipe
# --------------------------------------------------------------------------


@dataclass
class RecipeResult:
    """What `book_recipe` produced: the pairs, the fitted network and the timings.

    Used by `nst_teach.fast.recipe`.
    """

    model: keras.Model
    inputs: list  # the photos (uint8)
    targets: list  # their slow stylisations (uint8)
    pair_seconds: float  # time spent making the pairs by optimisation
    fit_seconds: float  # time spent fitting the network to them
    losses: list  # mean squared pixel error per epoch


def book_recipe(style, photos, settings=None, epochs=200, learning_rate=2e-3,
                filters=(16, 32, 64), residual_blocks=3, seed=0, **changes):
    """The book's suggestion, literally: learn input -> output pairs made by `transfer`.

    "First, spend a lot of compute cycles to generate input-output training
    examples for a fixed style reference image, using the method outlined
    here; then train a simple convnet to learn this style-specific
    transformation." Each photo in `photos` is stylised by the slow
    optimisation (`nst_teach.transfer` with `settings` and `changes`), then
    a fresh network is fitted to the pairs by mean squared pixel error for
    `epochs` passes. It is a demonstration: a handful of pairs costs minutes
    each and teaches the network those photos rather than the style, which is
    why `train` optimises the perceptual loss directly on many random crops.

    Taught in notebook 08.
    """
    from ..config import QUICK
    from ..optimize import transfer

    settings = settings or QUICK
    settings = settings.replace(**changes) if changes else settings
    start = time.perf_counter()
    inputs, targets = [], []
    for photo in photos:
        result = transfer(photo, style, settings)
        inputs.append(result.content)
        targets.append(result.image)
    pair_seconds = time.perf_counter() - start
    model = build_network(filters, residual_blocks, seed)
    optimizer = keras.optimizers.Adam(learning_rate)
    pairs = [(tf.constant(x[None], tf.float32), tf.constant(y[None], tf.float32))
             for x, y in zip(inputs, targets)]

    @tf.function(reduce_retracing=True)
    def fit_step(x, y):
        with tf.GradientTape() as tape:
            error = tf.reduce_mean(tf.square((model(x, training=True) - y) / 255.0))
        grads = tape.gradient(error, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return error

    losses = []
    start = time.perf_counter()
    for _ in range(epochs):
        losses.append(float(np.mean([float(fit_step(x, y)) for x, y in pairs])))
    return RecipeResult(model, inputs, targets, pair_seconds, time.perf_counter() - start, losses)
