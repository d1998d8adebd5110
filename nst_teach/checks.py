"""Self-checks for the exercises: they say *what* is wrong, not only *that* it is.

Used by notebooks 03 (write the content loss), 04 (write the Gram matrix and
the book's style loss), 05 (write the total-variation loss), 06 (write the
book's Evaluator) and 10 (write the sliced distance). Each check calls your code on small random inputs,
compares with an answer known to be right and, when they differ, tries the
usual mistakes to name yours. A wrong answer raises `ExerciseError`, so a
notebook run in CI fails if a solution breaks, and nbgrader's autograder
(classroom/) scores the check cell zero and shows the message as feedback.
"""

from __future__ import annotations

__all__ = [
    "ExerciseError", "content_loss_case", "gram_matrix_case", "style_loss_case",
    "total_variation_case", "sliced_distance_case", "check_content_loss", "check_gram_matrix",
    "check_style_loss", "check_total_variation", "check_sliced_distance", "Bowl", "check_evaluator",
]

import numpy as np
from scipy.optimize import fmin_l_bfgs_b

from . import losses


class ExerciseError(AssertionError):
    """Your code gives a wrong answer; the message says how to fix it.

    Used by `nst_teach.checks`.
    """


def _as_array(value):
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)


def _random(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


def _check(name, student, args, reference, mistakes):
    """Compare `student(*args)` with `reference(*args)`; name the mistake if they differ."""
    try:
        got = _as_array(student(*args))
    except Exception as error:  # the student's code may fail in any way
        shapes = ", ".join(str(np.shape(arg)) for arg in args)
        raise ExerciseError(f"{name} raised {type(error).__name__}: {error}. "
                            f"It was called with arguments of shapes {shapes}.") from error
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


# Each case gives (arguments, reference, [(message, mistake), ...]); the mistakes
# are computed in NumPy, independently of the library. tests/test_checks.py
# makes sure no two of them give the same answer, so every message is unambiguous.

def content_loss_case():
    """Inputs, the right answer and typical mistakes for `check_content_loss`.

    Used by `nst_teach.checks`.
    """
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
    return (base, combination), losses.content_loss, mistakes


def gram_matrix_case():
    """Inputs, the right answer and typical mistakes for `check_gram_matrix`.

    Used by `nst_teach.checks`.
    """
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
    return (features,), losses.gram_matrix, mistakes


def style_loss_case():
    """One layer of (1, 4, 5, 6) features in an image of 16 x 20 pixels.

    Used by `nst_teach.checks`.
    """
    image_size, (_, h, w, channels) = (16, 20), (1, 4, 5, 6)
    style_gram = losses.gram_matrix(_random((1, h, w, channels), 5)).numpy()
    combination = _random((1, h, w, channels), 6)
    flat = combination.reshape(-1, channels).astype(np.float64)
    difference = style_gram.astype(np.float64) - flat.T @ flat
    squared = np.sum(difference**2)
    image_positions, layer_positions = image_size[0] * image_size[1], h * w
    book = 4 * 3**2 * image_positions**2
    style_of_style = style_gram.astype(np.float64).T @ style_gram - flat.T @ flat
    mistakes = [
        ("you did not divide: the book divides the sum by 4 * 3^2 * (H*W)^2.",
         lambda *_: squared),
        ("you used the layer's own positions h*w (here 4*5); the book's H*W is the "
         "*image's* size, image_size, so the divisor is the same for every layer.",
         lambda *_: squared / (4 * 3**2 * layer_positions**2)),
        ("that is the paper's divisor, 4 N^2 M^2 with the layer's channels and "
         "positions; the book's is 4 * 3^2 * (H*W)^2 with the image's 3 channels and size.",
         lambda *_: squared / (4 * channels**2 * layer_positions**2)),
        ("you used the layer's channels (here 6) where the book has 3, the image's "
         "colour channels: 4 * 3^2 * (H*W)^2.",
         lambda *_: squared / (4 * channels**2 * image_positions**2)),
        ("square the number of positions: 4 * 3^2 * (H*W)^2, not 4 * 3^2 * H*W.",
         lambda *_: squared / (4 * 3**2 * image_positions)),
        ("square the 3 channels: 4 * 3^2 = 36, not 4 * 3 = 12.",
         lambda *_: squared / (4 * 3 * image_positions**2)),
        ("you left out the 4: the divisor is 4 * 3^2 * (H*W)^2.",
         lambda *_: squared / (3**2 * image_positions**2)),
        ("you averaged the squared Gram differences (reduce_mean); sum them, "
         "then divide by the book's divisor.", lambda *_: squared / channels**2 / book),
        ("square the differences of the Gram matrices before summing them.",
         lambda *_: np.sum(difference) / book),
        ("you took the Gram matrix of style_gram: it already is one. Take the Gram "
         "matrix of the combination's features only.",
         lambda *_: np.sum(style_of_style**2) / book),
    ]

    def reference(gram, features, size):
        return losses.style_loss(gram, features, size, "book")

    return (style_gram, combination, image_size), reference, mistakes


def total_variation_case():
    """Inputs, the right answer and typical mistakes for `check_total_variation`.

    Used by `nst_teach.checks`.
    """
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
    return (x.astype(np.float32),), losses.total_variation_loss, mistakes


def sliced_distance_case():
    """Two feature maps of (1, 4, 5, 3) and four unit directions, for `check_sliced_distance`.

    Used by `nst_teach.checks`.
    """
    style, combination = _random((1, 4, 5, 3), 7), _random((1, 4, 5, 3), 8, scale=2.0)
    directions = _random((3, 4), 9)
    directions /= np.linalg.norm(directions, axis=0)
    flat = lambda f: f.reshape(-1, 3).astype(np.float64)  # noqa: E731
    projected_s, projected_c = flat(style) @ directions, flat(combination) @ directions
    sort = lambda p: np.sort(p, axis=0)  # noqa: E731
    squared = (sort(projected_s) - sort(projected_c)) ** 2
    reference = lambda *_: np.mean(squared)  # noqa: E731
    mistakes = [
        ("you compared the projections without sorting them: that compares position "
         "by position, like a content loss. Sort each direction's values first (axis 0).",
         lambda *_: np.mean((projected_s - projected_c) ** 2)),
        ("you sorted along the directions (axis 1 or -1); sort along the positions (axis 0), "
         "so that each direction's values line up from smallest to largest.",
         lambda *_: np.mean((np.sort(projected_s, axis=1) - np.sort(projected_c, axis=1)) ** 2)),
        ("you summed the squared differences; average them (tf.reduce_mean), so the "
         "distance does not grow with the number of positions.", lambda *_: np.sum(squared)),
        ("you sorted the raw channels without projecting them on the directions first "
         "(features @ directions).",
         lambda *_: np.mean((sort(flat(style)) - sort(flat(combination))) ** 2)),
        ("you took a square root: the loss is the squared distance, the mean of the squares.",
         lambda *_: np.sqrt(np.mean(squared))),
    ]
    return (style, combination, directions), reference, mistakes


def check_content_loss(content_loss):
    """Check `content_loss(base, combination)` against sum((combination - base)^2).

    Taught in notebook 03.
    """
    _check("content_loss", content_loss, *content_loss_case())


def check_gram_matrix(gram_matrix):
    """Check `gram_matrix(features)` for features of shape (1, H, W, C). Taught in notebook 04."""
    _check("gram_matrix", gram_matrix, *gram_matrix_case())


def check_style_loss(style_loss):
    """Check `style_loss(style_gram, combination, image_size)` with the book's divisor.

    Taught in notebook 04.
    """
    _check("style_loss", style_loss, *style_loss_case())


def check_total_variation(total_variation_loss):
    """Check `total_variation_loss(image)` for an image of shape (1, H, W, 3).

    Taught in notebook 05.
    """
    _check("total_variation_loss", total_variation_loss, *total_variation_case())


def check_sliced_distance(sliced_distance):
    """Check `sliced_distance(style, combination, directions)`: project, sort, mean of squares.

    Taught in notebook 10.
    """
    _check("sliced_distance", sliced_distance, *sliced_distance_case())


class Bowl:
    """A stand-in for the network in `check_evaluator`: sum of w * (image - t)^2.

    Like the book's `fetch_loss_and_grads`, it takes the image of shape
    (1, H, W, 3) and returns the loss and the gradient as float32, the gradient
    shaped like the image; it counts its calls, each one a network pass.

    Used by `nst_teach.checks`.
    """

    def __init__(self, shape, seed=7):
        rng = np.random.default_rng(seed)
        self.shape, self.calls = shape, 0
        self.target = rng.normal(size=shape)
        self.weights = rng.uniform(0.5, 2.0, size=shape)

    def loss_at(self, x):
        return float(np.sum(self.weights * (np.reshape(x, self.shape) - self.target) ** 2))

    def gradient_at(self, x):
        return (2 * self.weights * (np.reshape(x, self.shape) - self.target)).ravel()

    def __call__(self, image):
        if np.shape(image) != self.shape:
            raise ValueError(f"loss_and_grads wants the image, shape {self.shape}, as the network "
                             f"does; it got shape {np.shape(image)}: reshape x in loss first.")
        self.calls += 1
        return (np.float32(self.loss_at(image)),
                self.gradient_at(image).reshape(self.shape).astype(np.float32))


def _run(what, function, *args):
    try:
        return function(*args)
    except Exception as error:
        raise ExerciseError(f"{what} raised {type(error).__name__}: {error}") from error


def _check_loss(name, evaluator, bowl, x, calls_before):
    value = _run(f"{name}.loss(x)", evaluator.loss, x)
    if value is None:
        raise ExerciseError(f"{name}.loss(x) returned None: return the loss value.")
    if isinstance(value, (tuple, list)) or np.size(value) != 1:
        raise ExerciseError(f"{name}.loss(x) must return the loss alone, one number; it returned "
                            f"a {type(value).__name__}. Keep the gradient for grads.")
    if bowl.calls == calls_before == 0:
        raise ExerciseError(f"{name}.loss(x) did not call loss_and_grads: it must run the network.")
    if bowl.calls == calls_before:
        raise ExerciseError(f"{name}.loss(x) did not run the network for a new x: it returned the "
                            "value cached for the previous x. The cache only carries the gradient "
                            "from loss to grads; empty it in grads, as the book does.")
    if bowl.calls > calls_before + 1:
        raise ExerciseError(f"{name}.loss(x) ran the network {bowl.calls - calls_before} times; "
                            "once is enough, it gives both the loss and the gradient.")
    if not np.isclose(float(np.asarray(value)), bowl.loss_at(x), rtol=1e-5):
        raise ExerciseError(f"{name}.loss(x) returned {float(np.asarray(value)):.6g}, but the "
                            f"loss at x is {bowl.loss_at(x):.6g}.")


def _check_grads(name, evaluator, bowl, x, previous_x):
    calls = bowl.calls
    grad = _run(f"{name}.grads(x)", evaluator.grads, x)
    if bowl.calls > calls:
        raise ExerciseError(f"{name}.grads(x) ran the network again: that is a second forward and "
                            "backward pass at every step, the very cost the Evaluator exists to "
                            "avoid. Return the gradient that loss(x) computed and kept.")
    if grad is None:
        raise ExerciseError(f"{name}.grads(x) returned None: copy the kept gradient before "
                            "emptying the cache, and return the copy.")
    grad = np.asarray(grad)
    if grad.shape != x.shape:
        raise ExerciseError(f"{name}.grads(x) returned shape {grad.shape}; scipy wants a flat "
                            f"vector like x, shape {x.shape}: .flatten() the network's gradient.")
    if grad.dtype != np.float64:
        raise ExerciseError(f"{name}.grads(x) returned {grad.dtype} values; scipy's L-BFGS-B works "
                            "in float64: .astype('float64'), as in the book.")
    if previous_x is not None and np.allclose(grad, bowl.gradient_at(previous_x), rtol=1e-5):
        raise ExerciseError(f"{name}.grads(x) returned the gradient of the previous x: keep the "
                            "new gradient in loss(x) every time.")
    if not np.allclose(grad, bowl.gradient_at(x), rtol=1e-5, atol=1e-6):
        raise ExerciseError(f"{name}.grads(x) returned wrong values: it should return the "
                            "gradient that loss(x) got from loss_and_grads.")


def check_evaluator(evaluator_class):
    """Check a book-style `Evaluator(loss_and_grads, shape)` with `loss(x)` and `grads(x)`.

    A quadratic bowl stands in for the network and counts its passes. The
    check calls loss and grads in turn at two points, as scipy does, then
    lets scipy's L-BFGS-B minimise the bowl through your evaluator.

    Taught in notebook 06.
    """
    name = getattr(evaluator_class, "__name__", "Evaluator")
    shape = (1, 4, 5, 3)
    bowl = Bowl(shape)
    evaluator = _run(f"{name}(loss_and_grads, shape)", evaluator_class, bowl, shape)
    x1, x2 = (_random(shape, seed).ravel().astype(np.float64) for seed in (8, 9))
    _check_loss(name, evaluator, bowl, x1, 0)
    _check_grads(name, evaluator, bowl, x1, None)
    _check_loss(name, evaluator, bowl, x2, 1)
    _check_grads(name, evaluator, bowl, x2, x1)

    bowl = Bowl(shape)
    evaluator = _run(f"{name}(loss_and_grads, shape)", evaluator_class, bowl, shape)
    x, _, info = _run("scipy's fmin_l_bfgs_b with your evaluator", lambda: fmin_l_bfgs_b(
        evaluator.loss, np.zeros(bowl.target.size), fprime=evaluator.grads, maxfun=100))
    if bowl.calls != info["funcalls"]:
        raise ExerciseError(f"scipy asked for {info['funcalls']} evaluations and the network ran "
                            f"{bowl.calls} times: one pass per evaluation, please.")
    if not np.allclose(x, bowl.target.ravel(), atol=1e-3):
        raise ExerciseError("L-BFGS-B did not find the bottom of the bowl through your evaluator: "
                            "loss and grads must describe the same x.")
    print(f"✓ {name} is correct: L-BFGS-B found the minimum in {info['funcalls']} "
          "evaluations, one network pass each.")
