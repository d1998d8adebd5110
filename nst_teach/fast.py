"""Fast style transfer: train a small network once per style, then stylise in one pass.

Taught in notebook 08. The book ends section 8.3 with the way out of the slow
optimisation: since the optimisation always computes the same kind of
transformation for a given style, a small convnet can learn it, and then
stylising a photo is a single forward pass. This module follows Johnson,
Alahi & Fei-Fei (2016), *Perceptual losses for real-time style transfer*,
scaled down for a laptop CPU:

- `build_network`: an image-transformation network: a 9x9 convolution, two
  stride-2 convolutions down, residual blocks, two "resize, then convolve"
  steps up (no transposed convolutions, so no checkerboard artefacts,
  Odena et al. 2016) and a 9x9 convolution back to RGB. Every convolution
  is followed by instance normalisation (Ulyanov et al. 2016), which makes
  the result independent of each photo's contrast. Fully convolutional,
  reflection-padded: any input size, the output always has the input's size.
- `train`: fit it with the library's perceptual losses (content, Gram style,
  total variation from a backbone's features) on random crops of photos.
- `load_model`, `stylise`: apply a trained network.
- `book_recipe`: the book's literal suggestion (pairs made by the slow
  optimisation, then plain supervised fitting), for comparison.

Images going in and out of the network are RGB floats in [0, 255]; the VGG
pre-processing happens inside the loss, so the network never sees it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import images
from .backbones import load_backbone
from .features import feature_extractor
from .images import IMAGENET_MEAN_BGR, ImageError
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss

PACKAGE = "nst_teach"
INFO_MEMBER = "nst_teach_training.json"  # our extra member inside the .keras zip
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
EAGER_STEPS = 20  # runs of at most this many steps skip tracing (see `train`)
MIN_SIDE = 8  # the smallest image side the network's padding can handle

# Johnson et al.'s layers (relu2_2 for content; relu1_2 ... relu4_3 for style).
# Keras' VGG layers include their ReLU, so `block2_conv2` *is* relu2_2, and the
# names exist in VGG16 (hed-vgg16) and VGG19 alike.
FAST_CONTENT_LAYER = "block2_conv2"
FAST_STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")

# scikit-image colour photos beyond the ones `nst_teach.data` offers.
EXTRA_SKIMAGE_PHOTOS = ("motorcycle_left.png",)


# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=PACKAGE)
class InstanceNormalization(keras.layers.Layer):
    """Normalise each image's channels over its own pixels, then scale and shift.

        y = gamma * (x - mean_hw(x)) / sqrt(var_hw(x) + epsilon) + beta

    Unlike batch normalisation it uses no batch statistics, so a photo is
    stylised the same whether it comes alone or in a batch, in training or not.
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
    """Map the last convolution's output to RGB values in [0, 255] (a scaled tanh)."""

    def call(self, x):
        return 127.5 * (keras.ops.tanh(x) + 1.0)


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
    half an hour possible. Input and output: RGB in [0, 255], any size of at
    least 8 px a side (`MIN_SIDE`), output size = input size.
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
    outputs = ToPixels(name="pixels")(x)
    return keras.Model(inputs, outputs, name="style_network")


# --------------------------------------------------------------------------
# Applying a network
# --------------------------------------------------------------------------


def stylise(model, image, max_side=None):
    """Stylise one photo with a trained network: a single forward pass.

    `image` is a path, PIL image, array or example name; the result is an
    RGB uint8 array of the same size (or of the size after shrinking the
    photo so that its longer side is at most `max_side`).
    """
    from .data import image_or_example

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
    forward = getattr(model, "_nst_forward", None)
    if forward is None:
        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                              input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)])
        model._nst_forward = forward
    return forward(x)


def load_model(path):
    """A trained style network from a `.keras` file written by `train` or `save_model`.

    Its training record (style, steps, loss history, settings) is in
    ``model.nst_info`` (a dict). Raises `ValueError` naming the problem and
    the fix for a missing file, a file that is not a `.keras` archive, or a
    Keras model that is not a style network.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no model file at {str(path)!r}: check the path, or train one with "
                         "`nst-teach train-fast STYLE -o model.keras`")
    if path.suffix != ".keras":
        raise ValueError(f"{path.name} is not a .keras file: style networks are saved as "
                         "'<name>.keras' by nst_teach.fast.train / `nst-teach train-fast`")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path.name} is not a valid .keras archive (damaged or not a Keras "
                         "model): train the model again, or use another checkpoint")
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
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model files must end in .keras, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(INFO_MEMBER, json.dumps(info if info is not None else
                                                     getattr(model, "nst_info", {})))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------
# Training data
# --------------------------------------------------------------------------


def default_photos():
    """The photos that ship with our dependencies, as {name: RGB uint8 array}.

    matplotlib's Grace Hopper, scikit-image's astronaut, chelsea, coffee and
    rocket (`nst_teach.data.content_names()`), plus `EXTRA_SKIMAGE_PHOTOS`
    when scikit-image is installed. Six photos are few: random crops, flips
    and colour jitter (see `PhotoSampler`) stretch them.
    """
    from . import data

    photos = {name: data.example(name) for name in data.content_names()}
    try:
        import skimage.data

        for name in EXTRA_SKIMAGE_PHOTOS:
            path = Path(skimage.data.__file__).parent / name
            if path.is_file():
                photos[Path(name).stem] = images.load_image(path)
    except ImportError:
        pass
    return photos


def photos_from_folder(folder, min_side=MIN_SIDE):
    """Every readable image in `folder` (not recursive), as {file name: array}.

    Raises `ImageError` when the folder is missing, empty or holds no usable
    image; unreadable files are skipped with a warning.
    """
    import warnings

    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"no folder at {str(folder)!r}: give a folder of photos (.jpg, .png), "
                         "or leave --images out to train on the bundled photos")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageError(f"the folder {str(folder)!r} has no image files "
                         f"({', '.join(IMAGE_SUFFIXES)}): put some photos in it")
    photos = {}
    for path in files:
        try:
            photo = images.load_image(path)
        except ImageError as error:
            warnings.warn(f"skipping {path.name}: {error}", stacklevel=2)
            continue
        if min(photo.shape[:2]) < min_side:
            warnings.warn(f"skipping {path.name}: smaller than {min_side} px", stacklevel=2)
            continue
        photos[path.name] = photo
    if not photos:
        raise ImageError(f"none of the {len(files)} image files in {str(folder)!r} could be "
                         "read: check that they are valid photos")
    return photos


class PhotoSampler:
    """Random square training crops of a few photos, with flips and colour jitter.

    Each crop: a photo at random; scaled so that its shorter side is between
    1 and 2 crop sizes (so crops show both details and whole scenes); a
    random `size` x `size` window; a horizontal flip half of the time; and
    brightness, contrast and saturation each changed by up to +-`jitter`.
    """

    def __init__(self, photos, size, jitter=0.1, seed=0):
        self.size, self.jitter = int(size), float(jitter)
        self.rng = np.random.default_rng(seed)
        # Shrink big photos once, so that each crop's resizing is cheap.
        self.photos = []
        for photo in (photos.values() if isinstance(photos, dict) else photos):
            short = min(photo.shape[:2])
            if short > 2 * self.size:
                photo = images.resize(photo, images.size_for_height(
                    photo, round(photo.shape[0] * 2 * self.size / short)), "bicubic")
            self.photos.append(photo)
        if not self.photos:
            raise ImageError("no training photos: give a folder with at least one photo")

    def crop(self):
        photo = self.photos[self.rng.integers(len(self.photos))]
        short = self.rng.uniform(self.size, 2 * self.size)
        scale = short / min(photo.shape[:2])
        h = max(self.size, round(photo.shape[0] * scale))
        w = max(self.size, round(photo.shape[1] * scale))
        photo = images.resize(photo, (h, w), "bilinear")
        top = self.rng.integers(h - self.size + 1)
        left = self.rng.integers(w - self.size + 1)
        x = photo[top:top + self.size, left:left + self.size].astype(np.float32)
        if self.rng.random() < 0.5:
            x = x[:, ::-1]
        if self.jitter:
            j = self.rng.uniform(-self.jitter, self.jitter, 3)
            grey = x.mean(axis=2, keepdims=True)
            x = grey + (x - grey) * (1 + j[2])  # saturation
            x = x.mean() + (x - x.mean()) * (1 + j[1])  # contrast
            x = x * (1 + j[0])  # brightness
        return np.clip(x, 0, 255)

    def batch(self, batch_size):
        return np.stack([self.crop() for _ in range(batch_size)]).astype(np.float32)


# --------------------------------------------------------------------------
# The perceptual losses, for batches
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FastSettings:
    """What decides a training run of a style network.

    The loss weights differ from the book's because the terms are measured
    differently here (see `PerceptualLoss`): each term is a *relative* error,
    about 1 when far off and 0 when matched, and an average over the batch,
    so the weights do not change with the crop size, the batch size or the
    backbone. How to read them: the photo itself scores content 0 and style
    about 1 (relative Gram error against the painting), i.e. a total of
    `style_weight`; an output that forgets the photo scores content about 1.
    With `style_weight=2` neither extreme is a good deal, and the network
    has to find the compromise: a stylised photo. Raise it (3-5) for
    stronger stylisation, lower it (1) to keep more of the photo.
    `tv_weight` multiplies the mean total variation per pixel, which is
    about 2e4 for a photo: 1e-6 smooths speckles without blurring.
    """

    size: int = 128  # training crops are size x size pixels
    style_size: int | None = None  # shorter side of the style image (default: size * 2)
    batch_size: int = 4
    steps: int = 2000
    learning_rate: float = 2e-3
    content_weight: float = 1.0
    style_weight: float = 2.0
    tv_weight: float = 1e-6
    content_layer: str = FAST_CONTENT_LAYER
    style_layers: tuple = FAST_STYLE_LAYERS
    backbone: str = "auto"
    weights: str | None = None
    filters: tuple = (16, 32, 64)
    residual_blocks: int = 3
    jitter: float = 0.1
    seed: int = 0
    checkpoint_every: int = 100  # steps between checkpoints (and loss-curve updates)

    def __post_init__(self):
        object.__setattr__(self, "style_layers", tuple(self.style_layers))
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        for name, low in (("size", 16), ("batch_size", 1), ("steps", 1), ("residual_blocks", 0),
                          ("checkpoint_every", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.style_size is not None and (not isinstance(self.style_size, int)
                                            or self.style_size < 16):
            raise ValueError(f"style_size must be an integer >= 16 or None, got {self.style_size!r}")
        for name in ("learning_rate", "content_weight", "style_weight", "tv_weight", "jitter"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if len(self.filters) != 3 or min(self.filters) < 1:
            raise ValueError(f"filters must be three positive integers, got {self.filters!r}")
        if not self.style_layers:
            raise ValueError(f"style_layers must name at least one layer, e.g. {FAST_STYLE_LAYERS}")

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}


def vgg_input(rgb):
    """RGB in [0, 255] (a batch) to the VGG input, inside the graph (see `images.preprocess`)."""
    return rgb[..., ::-1] - tf.constant(IMAGENET_MEAN_BGR)


def style_targets(extractor, style_image, layers):
    """Each style layer's Gram matrix *per position* (G / M), from the style image.

    Dividing by the layer's number of positions M = h*w makes the target
    independent of the style image's size; `PerceptualLoss` multiplies it
    back by the training crop's M, so the style image need not be resized
    to the crops' size or shape (the book stretches it instead).
    """
    features = extractor(tf.constant(images.preprocess(style_image)))
    targets = {}
    for name in layers:
        f = features[name]
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
      the layers;
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
            layers = []
            for name in s.style_layers:
                f = out_f[name][i:i + 1]
                target = self.grams[name] * float(f.shape[1] * f.shape[2])
                zero = style_loss(target, tf.zeros_like(f), None, "paper") + 1e-12
                layers.append(style_loss(target, f, None, "paper") / zero)
            style.append(tf.add_n(layers) / len(layers))
            tv.append(total_variation_loss(outputs[i:i + 1]) / float(np.prod(outputs.shape[1:3])))
        parts = {
            "content": s.content_weight * tf.add_n(content) / n,
            "style": s.style_weight * tf.add_n(style) / n,
            "tv": s.tv_weight * tf.add_n(tv) / n,
        }
        parts["total"] = parts["content"] + parts["style"] + parts["tv"]
        return parts


def make_loss(style_image, settings):
    """A `PerceptualLoss` for `style_image` and `settings`, and the backbone's name."""
    model, backbone = load_backbone(settings.backbone, settings.weights, settings.seed)
    layers = tuple(dict.fromkeys((settings.content_layer, *settings.style_layers)))
    features = feature_extractor(model, layers)
    content_features = feature_extractor(model, [settings.content_layer])
    style_image = images.load_image(style_image)
    side = settings.style_size or 2 * settings.size
    style_image = images.resize(style_image, _shorter_side(style_image, side), "bicubic")
    grams = style_targets(features, style_image, settings.style_layers)
    return PerceptualLoss(features, content_features, grams, settings), backbone


def _shorter_side(image, side):
    h, w = image.shape[:2]
    scale = side / min(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


@dataclass
class FastHistory:
    """Weighted losses per training step, and seconds per step."""

    steps: list = field(default_factory=list)
    losses: dict = field(default_factory=lambda: {k: [] for k in ("total", "content", "style", "tv")})
    seconds: list = field(default_factory=list)

    def add(self, step, parts, seconds):
        self.steps.append(step)
        for k in self.losses:
            self.losses[k].append(float(parts[k]))
        self.seconds.append(float(seconds))

    def to_dict(self):
        return {"steps": self.steps, "losses": self.losses, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d):
        history = cls()
        if d:
            history.steps = list(d.get("steps", []))
            history.losses.update({k: list(v) for k, v in d.get("losses", {}).items()})
            history.seconds = list(d.get("seconds", []))
        return history


@dataclass
class FastResult:
    """What `train` produced."""

    model: keras.Model
    history: FastHistory
    settings: FastSettings
    backbone: str
    step: int  # steps trained in total (including earlier runs resumed from)
    seconds: float  # seconds of training in this call
    checkpoint: Path | None = None
    stopped: bool = False  # ended early by Ctrl-C or a stop request


def train(style, photos=None, settings=None, *, output=None, resume=False, progress=False,
          callback=None, stop=None, **changes):
    """Train a style network for `style` on random crops of `photos`.

    - `style`: the style image (path, array, PIL image or example name).
    - `photos`: a folder of photos, a list or dict of arrays, or None for the
      bundled photos (`default_photos`).
    - `settings`: a `FastSettings` (default values if None); keyword
      `changes` override single fields: ``train("swirls", steps=500)``.
    - `output`: a `.keras` path; the network is saved there every
      `settings.checkpoint_every` steps and at the end, with a loss curve
      beside it (``<output stem>_loss.png``).
    - `resume`: continue from the network (and optimiser state and history)
      in `output` if it exists; `settings.steps` is then the *total* number
      of steps, so an interrupted run is finished by running it again.
    - `callback(step, parts, model)` after every step; a truthy return stops.
    - `stop`: an object with ``is_set()`` (a `threading.Event`) to stop from
      another thread.

    Ctrl-C, a stopping callback or `stop.set()` end training early: the
    network trained so far is saved (atomically) and returned, with
    `stopped=True`. Returns a `FastResult`.
    """
    from .data import image_or_example

    settings = settings or FastSettings()
    settings = settings.replace(**changes) if changes else settings
    output = Path(output) if output is not None else None
    if output is not None and output.suffix != ".keras":
        raise ValueError(f"output must end in .keras, got {output.name!r}")
    style_image = image_or_example(style) if isinstance(style, (str, Path)) else images.load_image(style)
    if photos is None:
        photos = default_photos()
    elif isinstance(photos, (str, Path)):
        photos = photos_from_folder(photos)
    sampler = PhotoSampler(photos, settings.size, settings.jitter, settings.seed)
    loss, backbone = make_loss(style_image, settings)

    history, step = FastHistory(), 0
    if resume and output is not None and output.exists():
        model = load_model(output)
        info = model.nst_info
        name = str(style) if isinstance(style, (str, Path)) else "array"
        if info.get("style_name") not in (None, "array", name) and name != "array":
            raise ValueError(
                f"{output.name} was trained for the style {info['style_name']!r}, not {name!r}: "
                "give another output path, or train without resume to start afresh")
        history = FastHistory.from_dict(info.get("history"))
        step = int(info.get("step", 0))
        sampler.rng = np.random.default_rng([settings.seed, step])
    else:
        model = build_network(settings.filters, settings.residual_blocks, settings.seed)
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
    optimizer = model.optimizer
    variables = model.trainable_variables

    def train_step(batch):
        with tf.GradientTape() as tape:
            outputs = model(batch, training=True)
            parts = loss(batch, outputs)
        grads = tape.gradient(parts["total"], variables)
        optimizer.apply(grads, variables)
        return parts

    if settings.steps - step > EAGER_STEPS:
        # Tracing the step into a graph takes seconds but makes each step
        # faster; for a handful of steps (tests, demos) eager is quicker.
        train_step = tf.function(train_step, reduce_retracing=True)

    def info():
        return {"style_name": str(style) if isinstance(style, (str, Path)) else "array",
                "step": step, "backbone": backbone, "settings": settings.to_dict(),
                "history": history.to_dict()}

    def checkpoint():
        if output is None:
            return None
        model.nst_info = info()
        save_model(model, output, model.nst_info)
        if history.steps:
            save_fast_loss_plot(history, output.with_name(output.stem + "_loss.png"))
        return output

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=settings.steps, initial=min(step, settings.steps), unit="step",
                   desc="training style network")
    start, stopped, saved_at = time.perf_counter(), False, step
    try:
        while step < settings.steps:
            t = time.perf_counter()
            parts = train_step(tf.constant(sampler.batch(settings.batch_size)))
            parts = {k: float(v) for k, v in parts.items()}
            step += 1
            history.add(step, parts, time.perf_counter() - t)
            if not math.isfinite(parts["total"]):
                raise FloatingPointError(
                    f"the loss became {parts['total']} at step {step}: lower learning_rate "
                    f"(now {settings.learning_rate}) and resume from the last checkpoint")
            if bar is not None:
                bar.set_postfix(loss=f"{parts['total']:.4g}", style=f"{parts['style']:.3g}",
                                content=f"{parts['content']:.3g}")
                bar.update()
            if step % settings.checkpoint_every == 0:
                checkpoint()
                saved_at = step
            if (callback is not None and callback(step, parts, model)) or (
                    stop is not None and stop.is_set()):
                stopped = True
                break
    except KeyboardInterrupt:
        stopped = True
    finally:
        if bar is not None:
            bar.close()
    path = checkpoint() if (output is not None and (saved_at != step or not output.exists())) else output
    model.nst_info = info()
    return FastResult(model, history, settings, backbone, step, time.perf_counter() - start,
                      path, stopped)


def save_fast_loss_plot(history, path, title="Training the style network"):
    """The weighted losses per training step (and a running mean), as a PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), layout="constrained")
    plot_fast_history(history, figure.add_subplot(), title)
    figure.savefig(path, dpi=100)
    return path


def plot_fast_history(history, ax=None, title="Training the style network"):
    """Each weighted loss per step (faint) and its running mean over 20 steps, log scale."""
    from .plotting import COLOURS, LABELS

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    for name in ("total", "content", "style", "tv"):
        values = np.asarray(history.losses[name])
        if not len(values) or not np.any(values > 0):
            continue
        ax.plot(history.steps, values, color=COLOURS[name], alpha=0.25, linewidth=0.8)
        k = min(20, len(values))
        smooth = np.convolve(values, np.ones(k) / k, mode="valid")
        ax.plot(history.steps[k - 1:], smooth, color=COLOURS[name], label=LABELS[name],
                linewidth=2 if name == "total" else 1.2)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("weighted loss")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return ax


# --------------------------------------------------------------------------
# The book's literal recipe
# --------------------------------------------------------------------------


@dataclass
class RecipeResult:
    """What `book_recipe` produced: the pairs, the fitted network and the timings."""

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
    """
    from .config import QUICK
    from .optimize import transfer

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
