"""Winograd convolutions compute the same convolution as TensorFlow's, forward and back."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst_teach import BOOK
from nst_teach.backbones import load_backbone
from nst_teach.features import compute_targets, feature_extractor
from nst_teach.evaluator import make_loss_and_grads
from nst_teach.winograd import conv3x3, uses_winograd


def numpy_conv_same(x, kernel):
    """Direct 'same' 3x3 cross-correlation, the textbook loop over the 9 taps."""
    n, h, w, _ = x.shape
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    out = np.zeros((n, h, w, kernel.shape[-1]))
    for i in range(3):
        for j in range(3):
            out += padded[:, i:i + h, j:j + w, :] @ kernel[i, j]
    return out


@pytest.mark.parametrize("shape", [(1, 1, 2, 3), (1, 4, 4, 5), (2, 7, 9, 3), (1, 13, 10, 16)])
def test_conv3x3_equals_the_direct_convolution(rng, shape):
    x = rng.normal(size=shape)
    kernel = rng.normal(size=(3, 3, shape[-1], 6))
    y = conv3x3(kernel.astype(np.float32))(tf.constant(x, tf.float32)).numpy()
    reference = numpy_conv_same(x, kernel)
    np.testing.assert_allclose(y, reference, atol=1e-5 * np.abs(reference).max())


def test_conv3x3_traces_with_an_unknown_batch_size(rng):
    kernel = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    conv = tf.function(conv3x3(kernel), input_signature=[tf.TensorSpec([None, 6, 5, 2])])
    x = rng.normal(size=(3, 6, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(conv(x).numpy(), numpy_conv_same(x, kernel), atol=1e-4)


def test_conv3x3_gradient_equals_tensorflows(rng):
    x = tf.constant(rng.normal(size=(1, 11, 6, 4)), tf.float32)
    kernel = rng.normal(size=(3, 3, 4, 7)).astype(np.float32)
    conv = conv3x3(kernel)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(tf.sin(conv(x)))  # a non-linear loss: a non-constant upstream gradient
        theirs = tf.reduce_sum(tf.sin(tf.nn.conv2d(x, kernel, 1, "SAME")))
    expected = tape.gradient(theirs, x).numpy()
    np.testing.assert_allclose(tape.gradient(ours, x).numpy(), expected,
                               atol=1e-5 * np.abs(expected).max())


def test_only_deep_vgg_convolutions_use_winograd():
    model, _ = load_backbone("random")
    chosen = [layer.name for layer in model.layers if uses_winograd(layer)]
    assert chosen[0] == "block3_conv1" and "block2_conv2" not in chosen
    assert not uses_winograd(keras.layers.Conv2D(512, 3, strides=2, padding="same"))
    assert not uses_winograd(keras.layers.Conv2D(512, 5, padding="same"))


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["random", "hed-vgg16"])
def test_winograd_run_has_the_books_loss_and_gradient(rng, backbone):
    settings = BOOK.replace(height=40, backbone=backbone)
    model, _ = load_backbone(backbone)
    content_x, style_x = rng.normal(scale=40, size=(2, 1, 40, 36, 3)).astype(np.float32)
    x = (content_x + rng.normal(scale=5, size=content_x.shape)).astype(np.float32)
    results = []
    for convolution in ("direct", "winograd"):
        extractor = feature_extractor(model, settings.layers, convolution)
        targets = compute_targets(extractor, content_x, style_x, settings)
        results.append(make_loss_and_grads(extractor, targets, settings, x.shape)(x.ravel()))
    (direct, direct_grad), (winograd, winograd_grad) = results
    for name in ("content", "style", "tv"):
        assert winograd[name] == pytest.approx(direct[name], rel=1e-4)
    np.testing.assert_allclose(winograd_grad, direct_grad, atol=1e-4 * np.abs(direct_grad).max())


def test_unknown_convolution_is_refused():
    model, _ = load_backbone("random")
    with pytest.raises(ValueError, match="winograd"):
        feature_extractor(model, ["block1_conv1"], "fft")
    with pytest.raises(ValueError, match="convolution"):
        BOOK.replace(convolution="fft")


REPEAT_SCRIPT = """
import hashlib
from nst_teach import QUICK
from nst_teach.optimizers import problem
f, x0, _ = problem("grace_hopper", "cubist", QUICK.replace(backbone="hed-vgg16"))
print(len({hashlib.md5(f(x0)[1].tobytes()).hexdigest() for _ in range(40)}))
"""


@pytest.mark.slow
def test_repeated_evaluations_are_bit_identical():
    # In a fresh interpreter, as a student's session starts: without one inter-op
    # thread (set by `import nst_teach`) about one gradient in eight differed.
    out = subprocess.run([sys.executable, "-c", REPEAT_SCRIPT], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "NST_TEACH_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "1"


def test_a_gpu_or_a_small_image_gets_tensorflows_kernels(monkeypatch):
    from nst_teach import winograd
    from nst_teach.winograd import MIN_HEIGHT, WinogradFeatures, convolution_for

    assert convolution_for("winograd", MIN_HEIGHT) == "winograd"
    assert convolution_for("winograd", MIN_HEIGHT - 1) == "direct"
    assert convolution_for("direct", 400) == "direct"
    model, _ = load_backbone("random")
    layers = ("block4_conv1",)
    assert isinstance(feature_extractor(model, layers, "winograd"), WinogradFeatures)
    monkeypatch.setattr(winograd, "gpu_visible", lambda: True)  # as on a machine with a GPU
    assert convolution_for("winograd", 400) == "direct"
    extractor = feature_extractor(model, layers, "winograd")
    assert not isinstance(extractor, WinogradFeatures)
    assert extractor is feature_extractor(model, layers, "direct")  # the one Keras model
