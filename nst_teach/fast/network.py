"""The style network: its layers, how to build, save, load and apply it (notebook 08)."""

from __future__ import annotations

__all__ = [
    "InstanceNormalization", "ReflectionPadding2D", "ResizeLike", "ToPixels", "build_network",
    "stylise", "load_model", "save_model",
]

import json
import zipfile
from pathlib import Path

import numpy as np

from ..tensorflow_setup import keras, tf
from .. import images
from ..caches import Cache
from ..images import ImageError, atomic_write
from .settings import MIN_SIDE, check_model_file

PACKAGE = "nst_teach"
INFO_MEMBER = "nst_teach_training.json"  # our extra member inside the .keras zip

# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=PACKAGE)
class InstanceNormalization(keras.layers.Layer):
    """Normalise each image's channels over its own pixels, then scale and shift.

        y = gamma * (x - mean_hw(x)) / sqrt(var_hw(x) + epsilon) + beta

    Unlike batch normalisation it uses no batch statistics, so a photo is
    stylised the same whether it comes alone or in a batch, in training or not.

    Used by `nst_teach.fast.network`.
    """

    def __init__(self, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        mean, variance = keras.ops.moments(x, axes=(1, 2), keepdims=True)
        return self.gamma * (x - mean) * keras.ops.rsqrt(variance + self.epsilon) + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPadding2D(keras.layers.Layer):
    """Pad height and width by mirroring the image at its border.

    Zero padding would show the network a black frame that it learns to paint
    over, visible as dark or bright borders; a mirrored border looks like more
    of the same picture. Needs each side longer than `padding`.

    Used by `nst_teach.fast.network`.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda n: None if n is None else n + 2 * self.padding  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResizeLike(keras.layers.Layer):
    """Resize the first input to the height and width of the second (nearest neighbour).

    Upsampling to the *exact* size of the matching layer on the way down,
    rather than by a factor of 2, is what makes the output as large as the
    input for odd sizes too (a 33 px side goes 33 -> 17 -> 9 -> 17 -> 33).

    Used by `nst_teach.fast.network`.
    """

    def call(self, inputs):
        x, like = inputs
        size = tf.shape(like)[1:3]
        return tf.cast(tf.image.resize(x, size, method="nearest"), x.dtype)

    def compute_output_shape(self, input_shapes):
        x, like = input_shapes
        return (x[0], like[1], like[2], x[3])


@keras.saving.register_keras_serializable(package=PACKAGE)
class ToPixels(keras.layers.Layer):
    """Map the last convolution's output x to RGB pixel values: 127.5 * (tanh(x) + 0.05 x + 1).

    A tanh with a small linear leak (`LEAK`). The plain scaled tanh,
    127.5 * (tanh(x) + 1), keeps every pixel in [0, 255] but its gradient is
    exactly 0 in float32 once |x| exceeds about 9, and the network learned to
    paint blotches there (pre-activations up to 111): pixels that no training
    step could correct, which ended as pale blotches (docs/fast_style.md).
    With the leak every pixel keeps a gradient, so a value beyond [0, 255]
    costs style and content (VGG reads it as a colour no photo has) and the
    network pulls it back; `stylise` clips what is left. A purely linear
    layer, 127.5 * (x + 1), also removed the blotches but learned a duller,
    darker picture at equal steps. ``activation="tanh"`` is the old layer,
    the default only so that networks saved before load unchanged;
    `build_network` uses "leaky_tanh".

    Used by `nst_teach.fast.network`.
    """

    LEAK = 0.05

    def __init__(self, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        if activation not in ("leaky_tanh", "tanh"):
            raise ValueError(f"activation must be 'leaky_tanh' or 'tanh', got {activation!r}")
        self.activation = activation

    def call(self, x):
        leak = self.LEAK * x if self.activation == "leaky_tanh" else 0.0
        return 127.5 * (keras.ops.tanh(x) + leak + 1.0)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


def _conv(x, filters, kernel, stride=1, name=None, norm=True, relu=True):
    x = ReflectionPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid", name=name)(x)
    if norm:
        x = InstanceNormalization(name=f"{name}_norm")(x)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def build_network(filters=(16, 32, 64), residual_blocks=3, seed=0):
    """The image-transformation network (Johnson et al. 2016, scaled for a CPU).

    Johnson et al. use filters (32, 64, 128) and 5 residual blocks (1.7 M
    weights); the defaults here (16, 32, 64) and 3 blocks have about 0.2 M
    and run about 4 times faster, which is what makes training on a CPU in
    half an hour possible. Input: RGB in [0, 255], any size of at least 8 px
    a side (`MIN_SIDE`); output: the same size, RGB values that training
    keeps within [0, 255] (a leaky tanh, `ToPixels`; `stylise` clips).

    Taught in notebook 08.
    """
    f1, f2, f3 = filters
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3), name="photo")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="to_unit")(inputs)
    d0 = _conv(x, f1, 9, name="in")
    d1 = _conv(d0, f2, 3, 2, name="down1")
    x = _conv(d1, f3, 3, 2, name="down2")
    for i in range(residual_blocks):
        y = _conv(x, f3, 3, name=f"res{i}_a")
        y = _conv(y, f3, 3, name=f"res{i}_b", relu=False)
        x = keras.layers.Add(name=f"res{i}_add")([x, y])
    x = ResizeLike(name="up1_resize")([x, d1])
    x = _conv(x, f2, 3, name="up1")
    x = ResizeLike(name="up2_resize")([x, d0])
    x = _conv(x, f1, 3, name="up2")
    x = _conv(x, 3, 9, name="out", norm=False, relu=False)
    outputs = ToPixels("leaky_tanh", name="pixels")(x)
    return keras.Model(inputs, outputs, name="style_network")


# --------------------------------------------------------------------------
# Applying a network
# --------------------------------------------------------------------------


def stylise(model, image, max_side=None):
    """Stylise one photo with a trained network: a single forward pass.

    `image` is a path, PIL image, array or example name; the result is an
    RGB uint8 array of the same size (or of the size after shrinking the
    photo so that its longer side is at most `max_side`).

    Taught in notebook 08.
    """
    from ..data import image_or_example

    photo = image_or_example(image) if isinstance(image, (str, Path)) else images.load_image(image)
    if max_side and max(photo.shape[:2]) > max_side:
        scale = max_side / max(photo.shape[:2])
        size = (max(1, round(photo.shape[0] * scale)), max(1, round(photo.shape[1] * scale)))
        photo = images.resize(photo, size, "bicubic")
    if min(photo.shape[:2]) < MIN_SIDE:
        raise ImageError(
            f"the photo is {photo.shape[1]}x{photo.shape[0]} px; the network needs at least "
            f"{MIN_SIDE} px a side: use a larger image"
        )
    out = _forward(model, tf.constant(photo[None], tf.float32))
    return np.clip(np.round(out.numpy()[0]), 0, 255).astype(np.uint8)


def _forward(model, x):
    """The model as one traced graph, for any image size (traced once per model)."""
    return _FORWARDS.get((model,), lambda: tf.function(
        lambda x: model(x, training=False), reduce_retracing=True,
        input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)]))(x)


_FORWARDS = Cache("fast networks' traced forward passes", 4)


def load_model(path):
    """A trained style network from a `.keras` file written by `train` or `save_model`.

    Its training record (style, steps, loss history, settings) is in
    ``model.nst_info`` (a dict). Raises `ValueError` naming the problem and
    the fix for a missing file, a file that is not a `.keras` archive, or a
    Keras model that is not a style network.

    Taught in notebook 08.
    """
    path = Path(path)
    check_model_file(path)
    try:
        model = keras.saving.load_model(path, compile=True)
    except Exception as error:  # Keras raises many kinds here
        raise ValueError(f"cannot load {path.name} as a Keras model ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''}); "
                         "train the model again, or use another checkpoint") from None
    shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    if shape is None or len(shape) != 4 or shape[-1] != 3 or tuple(model.output_shape)[-1] != 3:
        raise ValueError(f"{path.name} holds a Keras model that does not map RGB images to "
                         "RGB images, so it is not a style network: give a file written by "
                         "nst_teach.fast.train / `nst-teach train-fast`")
    with zipfile.ZipFile(path) as archive:
        info = json.loads(archive.read(INFO_MEMBER)) if INFO_MEMBER in archive.namelist() else {}
    model.nst_info = info
    return model


def save_model(model, path, info=None):
    """Write `model` (and its training record `info`) atomically to a `.keras` file.

    The record goes into the same zip archive as an extra member
    (`INFO_MEMBER`), which Keras ignores when loading. A crash while writing
    leaves the previous checkpoint intact.

    Used by `nst_teach.fast.checkpoints`.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model files must end in .keras, got {path.name!r}")
    with atomic_write(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(INFO_MEMBER, json.dumps(info if info is not None else
                                                     getattr(model, "nst_info", {})))
    return path
