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
