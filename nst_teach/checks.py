"""Self-checks for the exercises: they say *what* is wrong, not only *that* it is.

Used by notebooks 03 (write the content loss), 04 (write the Gram matrix) and
05 (write the total-variation loss). Each check calls your function on small
random inputs, compares with the library's version and, when they differ,
tries the usual mistakes to name yours. A wrong answer raises
`ExerciseError`, so a notebook run in CI fails if a solution breaks.
"""

from __future__ import annotations

import numpy as np

from . import losses


class ExerciseError(AssertionError):
    """Your function gives a wrong answer; the message says how to fix it."""


def _as_array(value):
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)


def _check(name, student, reference, mistakes, args):
    """Compare `student(*args)` with `reference(*args)`; name the mistake if they differ."""
    try:
        got = _as_array(student(*args))
    except Exception as error:  # the student's code may fail in any way
        raise ExerciseError(
            f"{name} raised {type(error).__name__}: {error}. "
            f"It was called with an array of shape {np.shape(args[-1])}."
        ) from error
    want = _as_array(reference(*args))
    if got.shape == want.shape and np.allclose(got, want, rtol=1e-4):
        print(f"✓ {name} is correct.")
        return
    for message, variant in mistakes:
        maybe = _as_array(variant(*args))
        if got.shape == maybe.shape and np.allclose(got, maybe, rtol=1e-4):
            raise ExerciseError(f"{name}: {message}")
    if got.shape != want.shape:
        raise ExerciseError(f"{name} returned shape {got.shape}, expected {want.shape}.")
    error = np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-12)
    raise ExerciseError(
        f"{name} returns the right shape but wrong values (largest error {error:.1%} "
        "of the largest expected value). Compare your code with the formula step by step."
    )


def _random(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


def check_content_loss(content_loss):
    """Check `content_loss(base, combination)` against sum((combination - base)^2)."""
    base, combination = _random((1, 3, 5, 4), 1), _random((1, 3, 5, 4), 2)
    difference = combination.astype(np.float64) - base
    mistakes = [
        ("you averaged the squared differences; the book sums them "
         "(tf.reduce_sum, not tf.reduce_mean).", lambda b, c: np.mean(difference**2)),
        ("you took the square root of the sum (a distance, the L2 norm); "
         "the loss is the plain sum of squares.", lambda b, c: np.sqrt(np.sum(difference**2))),
        ("you summed absolute differences; square them instead.",
         lambda b, c: np.sum(np.abs(difference))),
        ("you summed the differences without squaring them: positive and negative "
         "differences cancel out.", lambda b, c: np.sum(difference)),
    ]
    _check("content_loss", content_loss, losses.content_loss, mistakes, (base, combination))


def check_gram_matrix(gram_matrix):
    """Check `gram_matrix(features)` for features of shape (1, H, W, C)."""
    features = _random((1, 5, 7, 4), 3)
    flat = features.reshape(-1, 4).astype(np.float64)
    positions = flat.shape[0]
    centred = flat - flat.mean(axis=0)
    mistakes = [
        ("you computed F F^T, a (positions x positions) matrix; the Gram matrix is "
         "F^T F: (channels x channels).", lambda f: flat @ flat.T),
        ("you divided by the number of positions H*W; the book's Gram matrix is "
         "unnormalised (the style loss divides later).", lambda f: flat.T @ flat / positions),
        ("you subtracted the channel means first: that is a covariance matrix, "
         "not the Gram matrix.", lambda f: centred.T @ centred),
        ("you multiplied elementwise (F * F) instead of a matrix product.",
         lambda f: np.sum(flat * flat, axis=0)),
    ]
    _check("gram_matrix", gram_matrix, losses.gram_matrix, mistakes, (features,))


def check_total_variation(total_variation_loss):
    """Check `total_variation_loss(image)` for an image of shape (1, H, W, 3)."""
    x = _random((1, 6, 8, 3), 4, scale=50.0).astype(np.float64)
    corner = x[:, :-1, :-1]
    dy, dx = (corner - x[:, 1:, :-1]) ** 2, (corner - x[:, :-1, 1:]) ** 2
    full_dy, full_dx = (x[:, :-1] - x[:, 1:]) ** 2, (x[:, :, :-1] - x[:, :, 1:]) ** 2
    mistakes = [
        ("you left out the power 1.25: raise (dx^2 + dy^2) to 1.25 before summing.",
         lambda i: np.sum(dx + dy)),
        ("you raised dx^2 and dy^2 to 1.25 separately; add them first, then raise "
         "the sum to 1.25.", lambda i: np.sum(dx**1.25 + dy**1.25)),
        ("you raised the total to 1.25; the power applies to each pixel's "
         "dx^2 + dy^2, before summing.", lambda i: np.sum(dx + dy) ** 1.25),
        ("you took dx over all rows and dy over all columns; the book takes both on "
         "the same (H-1) x (W-1) top-left corner so they can be added pixel by pixel.",
         lambda i: np.sum(full_dx**1.25) + np.sum(full_dy**1.25)),
        ("you used absolute differences; square them.",
         lambda i: np.sum((np.sqrt(dx) + np.sqrt(dy)) ** 1.25)),
    ]
    _check("total_variation_loss", total_variation_loss, losses.total_variation_loss,
           mistakes, (x.astype(np.float32),))
