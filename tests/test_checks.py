"""The exercise self-checks accept right answers and name the usual mistakes."""

import numpy as np
import pytest
import tensorflow as tf

from nst_teach import checks, losses


def test_the_library_and_plain_numpy_solutions_pass(capsys):
    checks.check_content_loss(losses.content_loss)
    checks.check_gram_matrix(losses.gram_matrix)
    checks.check_total_variation(losses.total_variation_loss)

    def numpy_gram(features):
        flat = np.reshape(features, (-1, np.shape(features)[-1]))
        return flat.T @ flat

    checks.check_gram_matrix(numpy_gram)
    out = capsys.readouterr().out
    assert out.count("is correct") == 4 and "✓ gram_matrix is correct" in out


def flat(features):
    return tf.reshape(features, (-1, features.shape[-1]))


@pytest.mark.parametrize("wrong, says", [
    (lambda f: tf.matmul(flat(f), flat(f), transpose_b=True), "computed F F\\^T"),
    (lambda f: tf.matmul(flat(f), flat(f), transpose_a=True) / 35, "divided by the number of positions"),
    (lambda f: tf.reduce_sum(flat(f) * flat(f), axis=0), "elementwise"),
    (lambda f: tf.matmul(flat(f), flat(f), transpose_a=True) + 1, "wrong values"),
    (lambda f: f.no_such_method(), "raised AttributeError"),
])
def test_gram_mistakes_are_named(wrong, says):
    with pytest.raises(checks.ExerciseError, match=says):
        checks.check_gram_matrix(wrong)


def corner_differences(x):
    corner = x[:, :-1, :-1, :]
    return tf.square(corner - x[:, 1:, :-1, :]), tf.square(corner - x[:, :-1, 1:, :])


@pytest.mark.parametrize("wrong, says", [
    (lambda x: tf.reduce_sum(sum(corner_differences(x))), "left out the power 1.25"),
    (lambda x: tf.reduce_sum(sum(tf.pow(d, 1.25) for d in corner_differences(x))), "separately"),
    (lambda x: tf.pow(tf.reduce_sum(sum(corner_differences(x))), 1.25), "raised the total"),
    (lambda x: tf.reduce_sum(tf.pow(tf.square(x[:, 1:] - x[:, :-1]), 1.25))
     + tf.reduce_sum(tf.pow(tf.square(x[:, :, 1:] - x[:, :, :-1]), 1.25)), "same \\(H-1\\) x \\(W-1\\)"),
    (lambda x: sum(corner_differences(x)), "returned shape"),
])
def test_total_variation_mistakes_are_named(wrong, says):
    with pytest.raises(checks.ExerciseError, match=says):
        checks.check_total_variation(wrong)


@pytest.mark.parametrize("wrong, says", [
    (lambda b, c: tf.reduce_mean(tf.square(c - b)), "averaged"),
    (lambda b, c: tf.norm(c - b), "square root"),
    (lambda b, c: tf.reduce_sum(c - b), "without squaring"),
])
def test_content_loss_mistakes_are_named(wrong, says):
    with pytest.raises(checks.ExerciseError, match=says):
        checks.check_content_loss(wrong)


@pytest.mark.parametrize("case", [checks.content_loss_case, checks.gram_matrix_case,
                                  checks.style_loss_case, checks.total_variation_case,
                                  checks.sliced_distance_case])
def test_every_mistake_gives_its_own_answer(case):
    """Otherwise a check could name the wrong mistake: all answers pairwise distinct."""
    args, reference, mistakes = case()
    answers = [np.asarray(reference(*args), np.float64)]
    answers += [np.asarray(variant(*args), np.float64) for _, variant in mistakes]
    for i, a in enumerate(answers):
        for b in answers[i + 1:]:
            assert a.shape != b.shape or not np.allclose(a, b, rtol=1e-3)


def np_style_loss(gram, features, image_size):
    """The book's style loss for one layer, in NumPy."""
    flat = np.reshape(features, (-1, np.shape(features)[-1])).astype(np.float64)
    height, width = image_size
    return np.sum((gram - flat.T @ flat) ** 2) / (4 * 3**2 * (height * width) ** 2)


def test_the_library_and_a_numpy_style_loss_pass(capsys):
    checks.check_style_loss(np_style_loss)
    checks.check_style_loss(lambda g, f, size: losses.style_loss(g, f, size, "book"))
    assert capsys.readouterr().out.count("✓ style_loss is correct") == 2


def tf_gram(f):
    return tf.matmul(flat(f), flat(f), transpose_a=True)


def squared_gram_difference(g, f):
    return tf.reduce_sum(tf.square(g - tf_gram(f)))


def area(size):
    """H*W of a (H, W) pair or of the (1, h, w, C) features."""
    return size[-3] * size[-2] if len(size) == 4 else size[0] * size[1]


@pytest.mark.parametrize("wrong, says", [
    (lambda g, f, s: squared_gram_difference(g, f), "did not divide"),
    (lambda g, f, s: squared_gram_difference(g, f) / (36.0 * area(f.shape) ** 2),
     "layer's own positions"),
    (lambda g, f, s: losses.style_loss(g, f, s, "paper"), "paper's divisor"),
    (lambda g, f, s: squared_gram_difference(g, f) / (4.0 * f.shape[-1] ** 2 * area(s) ** 2),
     "layer's channels"),
    (lambda g, f, s: squared_gram_difference(g, f) / (36.0 * area(s)),
     "square the number of positions"),
    (lambda g, f, s: squared_gram_difference(g, f) / (12.0 * area(s) ** 2),
     "square the 3 channels"),
    (lambda g, f, s: squared_gram_difference(g, f) / (9.0 * area(s) ** 2), "left out the 4"),
    (lambda g, f, s: tf.reduce_mean(tf.square(g - tf_gram(f))) / (36.0 * area(s) ** 2),
     "averaged"),
    (lambda g, f, s: tf.reduce_sum(g - tf_gram(f)) / (36.0 * area(s) ** 2),
     "square the differences"),
    (lambda g, f, s: tf.reduce_sum(tf.square(tf_gram(g) - tf_gram(f))) / (36.0 * area(s) ** 2),
     "Gram matrix of style_gram"),
    (lambda g, f, s: np_style_loss(g, f, s) * 1.5, "wrong values"),
])
def test_style_loss_mistakes_are_named(wrong, says):
    with pytest.raises(checks.ExerciseError, match=says):
        checks.check_style_loss(wrong)


class BookEvaluator:
    """The book's Evaluator (Deep Learning with Python, 8.3), written out."""

    def __init__(self, loss_and_grads, shape):
        self.loss_and_grads, self.shape = loss_and_grads, shape
        self.loss_value = self.grad_values = None

    def loss(self, x):
        assert self.loss_value is None
        loss_value, grad = self.loss_and_grads(x.reshape(self.shape))
        self.loss_value, self.grad_values = loss_value, grad.flatten().astype("float64")
        return self.loss_value

    def grads(self, x):
        assert self.loss_value is not None
        grad_values = np.copy(self.grad_values)
        self.loss_value = self.grad_values = None
        return grad_values


def test_the_book_evaluator_passes(capsys):
    checks.check_evaluator(BookEvaluator)
    assert "✓ BookEvaluator is correct: L-BFGS-B found the minimum" in capsys.readouterr().out


def test_the_bowl_is_the_quadratic_it_claims_to_be(rng):
    """The check's stand-in network: its gradient against finite differences."""
    bowl = checks.Bowl((1, 2, 3, 3))
    x = rng.normal(size=18)
    step = np.eye(18) * 1e-6
    numeric = [(bowl.loss_at(x + e) - bowl.loss_at(x - e)) / 2e-6 for e in step]
    np.testing.assert_allclose(bowl.gradient_at(x), numeric, rtol=1e-5)
    loss, grad = bowl(x.reshape(1, 2, 3, 3))
    assert bowl.calls == 1 and grad.shape == (1, 2, 3, 3) and loss == pytest.approx(bowl.loss_at(x))


class RecomputesInGrads(BookEvaluator):
    def grads(self, x):
        self.loss_value = None
        return self.loss_and_grads(x.reshape(self.shape))[1].flatten().astype("float64")


class CachesForever(BookEvaluator):
    def loss(self, x):
        if self.loss_value is None:
            loss_value, grad = self.loss_and_grads(x.reshape(self.shape))
            self.loss_value, self.grad_values = loss_value, grad.flatten().astype("float64")
        return self.loss_value

    def grads(self, x):
        return np.copy(self.grad_values)


class KeepsTheFirstGradient(CachesForever):
    def loss(self, x):
        loss_value, grad = self.loss_and_grads(x.reshape(self.shape))
        if self.grad_values is None:
            self.grad_values = grad.flatten().astype("float64")
        return loss_value


class ForgetsToFlatten(BookEvaluator):
    def grads(self, x):
        return super().grads(x).reshape(self.shape)


class KeepsFloat32(BookEvaluator):
    def grads(self, x):
        return super().grads(x).astype(np.float32)


class ClearsBeforeCopying(BookEvaluator):
    def grads(self, x):
        self.loss_value = self.grad_values = None
        return self.grad_values


class ReturnsBoth(BookEvaluator):
    def loss(self, x):
        super().loss(x)
        return self.loss_value, self.grad_values


class ForgetsToReshape(BookEvaluator):
    def loss(self, x):
        self.loss_value, grad = self.loss_and_grads(x)
        self.grad_values = grad.flatten().astype("float64")
        return self.loss_value


@pytest.mark.parametrize("wrong, says", [
    (RecomputesInGrads, "ran the network again"),
    (CachesForever, "value cached for the previous x"),
    (KeepsTheFirstGradient, "gradient of the previous x"),
    (ForgetsToFlatten, r"flatten\(\)"),
    (KeepsFloat32, "float64"),
    (ClearsBeforeCopying, "returned None"),
    (ReturnsBoth, "the loss alone"),
    (ForgetsToReshape, "reshape x in loss first"),
])
def test_evaluator_mistakes_are_named(wrong, says):
    with pytest.raises(checks.ExerciseError, match=says):
        checks.check_evaluator(wrong)


def test_the_library_sliced_distance_passes_its_check(capsys):
    """nst_teach.statistics (quantile targets, TensorFlow) against the check's NumPy sorting."""
    from nst_teach import statistics

    def library(style, combination, directions):
        positions = combination.shape[1] * combination.shape[2]
        target = statistics.sliced_target([style], positions, tf.constant(directions))
        return statistics.sliced_distance(target, combination)

    checks.check_sliced_distance(library)
    assert "✓ sliced_distance is correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, says", [
    (lambda s, c, d: tf.reduce_mean(tf.square(tf.reshape(s, (-1, 3)) @ d - tf.reshape(c, (-1, 3)) @ d)),
     "without sorting"),
    (lambda s, c, d: tf.reduce_sum(tf.square(tf.sort(tf.reshape(s, (-1, 3)) @ d, axis=0)
                                             - tf.sort(tf.reshape(c, (-1, 3)) @ d, axis=0))),
     "summed"),
])
def test_sliced_distance_mistakes_are_named(wrong, says):
    with pytest.raises(checks.ExerciseError, match=says):
        checks.check_sliced_distance(wrong)
