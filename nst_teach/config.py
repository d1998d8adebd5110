"""Settings of a style-transfer run, with the book's values as defaults.

Taught in notebook 01 (set-up) and used by every later notebook.
"""

from __future__ import annotations

__all__ = [
    "vgg_layer_names", "min_size_for", "Settings", "preset", "at_height", "BOOK", "QUICK", "PAINTERLY",
    "PAINTERLY_QUICK", "PRESETS", "FAST_STAGES",
]

import dataclasses
import math
import numbers
import os
import re
from dataclasses import dataclass

BOOK_STYLE_LAYERS = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
NORMALIZATIONS = ("book", "paper")
BACKBONES = ("auto", "vgg19", "hed-vgg16", "random")
RESAMPLE = ("nearest", "bilinear", "bicubic", "lanczos")
INITS = ("content", "noise", "style")
COLOUR_MODES = ("none", "luminance", "histogram", "post")
POOLINGS = ("max", "avg")
OPTIMIZERS = ("book", "lbfgs", "adam")
CONVOLUTIONS = ("winograd", "direct")


CONVS_PER_BLOCK = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}
"""Convolutions in each of VGG's five blocks; ``hed-vgg16`` is VGG16, ``random`` VGG19."""


def vgg_layer_names(network="vgg19"):
    """The convolution layers of `network` ("vgg19" or "vgg16"), shallow to deep, unbuilt.

    Used by `nst_teach.config` and `nst_teach.widgets`.
    """
    return tuple(f"block{block}_conv{conv}" for block, convs in enumerate(CONVS_PER_BLOCK[network], 1)
                 for conv in range(1, convs + 1))


VGG_LAYERS = vgg_layer_names("vgg19")
"""VGG19's convolution layers; VGG16 (hed-vgg16) lacks block3_conv4, block4_conv4 and block5_conv4."""


def min_size_for(layer):
    """Smallest image side that still leaves `layer` at least one pixel.

    A VGG layer in block N sits behind N-1 poolings that each halve the image.

    Used by `nst_teach.optimize` and `nst_teach.schedule`.
    """
    match = re.match(r"block(\d+)_", layer)
    return 2 ** (int(match.group(1)) - 1) if match else 1


def _in_loss_graph(default):
    """A field that `nst_teach.losses.weighted_losses` reads, so the traced graph depends on it."""
    return dataclasses.field(default=default, metadata={"in_loss_graph": True})


@dataclass(frozen=True)
class Settings:
    """Everything that decides a run; the defaults are the book's (section 8.3).

    Change a field with `settings.replace(height=256)`; invalid values raise
    `ValueError` naming the field and the allowed range.

    Taught in notebooks 01 and 09.
    """

    height: int = 400
    iterations: int = 20
    maxfun: int = 20
    # Fields marked _in_loss_graph are baked into the traced loss graph: a change
    # traces a new one (nst_teach.caches.settings_key); the others do not.
    content_weight: float = _in_loss_graph(0.025)
    style_weight: float = _in_loss_graph(1.0)
    tv_weight: float = _in_loss_graph(1e-4)
    content_layer: str = _in_loss_graph("block5_conv2")
    style_layers: tuple = _in_loss_graph(BOOK_STYLE_LAYERS)
    normalization: str = _in_loss_graph("book")
    backbone: str = "auto"
    weights: str | None = None
    seed: int = 0
    resample: str = "nearest"
    # Beyond the book (notebook 09); every default keeps the book's behaviour.
    init: str = "content"  # start from the content image, seeded noise or the style image
    preserve_colour: str = "none"  # see nst_teach.colour
    style_scale: float = 1.0  # style image size relative to the content's
    style_blend: tuple | None = None  # one weight per style image, when several are given
    style_layer_weights: tuple | None = _in_loss_graph(None)  # one factor per style layer (all 1)
    pooling: str = "max"  # "avg" replaces the backbone's max pooling by average pooling
    optimizer: str = "book"  # "book": restarted L-BFGS; "lbfgs": one continuous run; "adam"
    lbfgs_history: int = 10  # L-BFGS memory m (scipy's default) for "book" and "lbfgs"
    learning_rate: float = 4.0  # Adam's step, in pixel units
    # Speed only: the same convolutions to float32 round-off (nst_teach.winograd).
    convolution: str = "winograd"  # "direct": TensorFlow's own kernels throughout
    # Coarse to fine (nst_teach.schedule): ((fraction of height, L-BFGS evaluations), ...),
    # the last stage at full size; None is the book's schedule of restarts at full size.
    stages: tuple | None = None
    # Safety: a run whose estimated memory (nst_teach.memory) exceeds this is refused.
    memory_limit_gb: float | None = None  # None: 3/4 of this machine's memory

    def __post_init__(self):
        if isinstance(self.style_layers, str):  # "block1_conv1" or "block1_conv1,block2_conv1"
            object.__setattr__(self, "style_layers", tuple(filter(None, self.style_layers.split(","))))
        for name in ("style_layers", "style_blend", "style_layer_weights", "stages"):
            _check_sequence(self, name)
        if self.stages is not None:
            _check_stages(self.stages)
            object.__setattr__(self, "stages", tuple((float(f), int(n)) for f, n in self.stages))
        for name in ("height", "iterations", "maxfun", "lbfgs_history"):
            _check_int(self, name, 1)
        _check_int(self, "seed", 0)
        if self.memory_limit_gb is not None:
            _check_number(self.memory_limit_gb, "memory_limit_gb", positive=True)
        for name in ("content_weight", "style_weight", "tv_weight"):
            object.__setattr__(self, name, _check_number(getattr(self, name), name))
        for name in ("style_scale", "learning_rate"):
            object.__setattr__(self, name, _check_number(getattr(self, name), name, positive=True))
        for name in ("style_blend", "style_layer_weights"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(_check_number(item, f"every entry of {name}")
                                                     for item in getattr(self, name)))
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise ValueError(
                f"style_layer_weights must have one entry per style layer "
                f"({len(self.style_layers)}), got {len(self.style_layer_weights)}"
            )
        if self.style_blend is not None and not any(self.style_blend):
            raise ValueError("style_blend must have at least one weight > 0")
        for name, choices in (("init", INITS), ("preserve_colour", COLOUR_MODES),
                              ("pooling", POOLINGS), ("optimizer", OPTIMIZERS),
                              ("convolution", CONVOLUTIONS)):
            _check_choice(self, name, choices)
        if not self.style_layers:
            raise ValueError(
                "style_layers must name at least one layer, "
                f"for example {BOOK_STYLE_LAYERS!r}"
            )
        for layer in (self.content_layer, *self.style_layers):
            if layer not in VGG_LAYERS:
                raise ValueError(
                    f"unknown layer {layer!r}: VGG's convolution layers are blockB_convC with "
                    f"B = 1-5 and C = 1-2 (blocks 1, 2) or 1-4 (blocks 3-5), e.g. {BOOK_STYLE_LAYERS[0]!r}"
                )
        style_layer_weights = self.style_layer_weights or (1.0,)
        if not (self.content_weight or (self.style_weight and any(style_layer_weights))
                or self.tv_weight):
            raise ValueError(
                "content_weight, style_weight and tv_weight are all 0 (or every style layer "
                "weight is): the loss would be 0 for any image, so nothing would change; "
                "make at least one weight > 0"
            )
        _check_choice(self, "normalization", NORMALIZATIONS)
        _check_choice(self, "resample", RESAMPLE)
        if self.backbone not in BACKBONES:
            raise ValueError(
                f"backbone must be one of {BACKBONES}, got {self.backbone!r}"
            )
        if self.weights is not None and not isinstance(self.weights, (str, os.PathLike)):
            raise ValueError(f"weights must be the path of a .h5 file, got {self.weights!r}")
        if self.weights is not None and self.backbone not in ("auto", "vgg19"):
            raise ValueError(
                f"weights (a VGG19 weights file) only applies to backbone 'vgg19' or 'auto', "
                f"not {self.backbone!r}: leave one of them out"
            )
        need = max(min_size_for(l) for l in (self.content_layer, *self.style_layers))
        need = max(need, 2)  # the total-variation loss compares neighbouring pixels
        if self.height < need:
            raise ValueError(
                f"height must be >= {need} px for the layers chosen "
                f"(the deepest is pooled {need.bit_length() - 1} times), got {self.height}"
            )

    @property
    def layers(self):
        """The content layer followed by the style layers (no repeats)."""
        return tuple(dict.fromkeys((self.content_layer, *self.style_layers)))

    def replace(self, **changes):
        """A copy with some fields changed (and validated)."""
        return dataclasses.replace(self, **changes)


def _check_sequence(settings, name):
    """A list or tuple (a NumPy array too) becomes a tuple; a lone value is refused."""
    value = getattr(settings, name)
    if value is None:
        return
    if isinstance(value, (str, bytes, dict, set)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a list or tuple, got {value!r}")
    object.__setattr__(settings, name, tuple(value))


def _check_int(settings, name, low):
    """Any integer (NumPy's too) >= `low`, stored as a Python int."""
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    object.__setattr__(settings, name, int(value))


def _check_number(value, name, positive=False):
    """A finite real number (NumPy's too) >= 0, or > 0: returned as a Python float or int."""
    low = "> 0" if positive else ">= 0"
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not _finite(value)
            or value < 0 or (positive and value == 0)):
        raise ValueError(f"{name} must be a finite number {low}, got {value!r}")
    return value if isinstance(value, int) else float(value)


def _finite(value):
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _check_stages(stages):
    example = "for example ((0.25, 60), (0.5, 80), (1.0, 200))"
    try:
        fractions, evaluations = zip(*stages)
    except (TypeError, ValueError):
        raise ValueError(f"stages must be (fraction of height, evaluations) pairs, {example}; "
                         f"got {stages!r}") from None
    for fraction in fractions:
        _check_number(fraction, "every stage's fraction of the height", positive=True)
    for n in evaluations:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"every stage's evaluations must be an integer >= 1, got {n!r}")
    if list(fractions) != sorted(set(fractions)) or fractions[-1] != 1:
        raise ValueError(f"stage fractions must grow and the last must be 1 (full size), {example}; "
                         f"got {fractions}")


def _check_choice(settings, name, choices):
    value = getattr(settings, name)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


FAST_STAGES = ((0.25, 60), (0.5, 80), (1.0, 200))
"""(fraction of the height, L-BFGS evaluations) per stage; the last stage is full size.

Measured at the book's 400 px (VGG19 with random weights, docs/benchmarks.md),
in evaluations, which the machine's load does not change. The book's 20 x 20
reaches its final loss after 420 full-size evaluations. Half height for 80
evaluations, then full size: 82 more for grace_hopper x swirls (102 full-size
equivalents in all) and 129 for Tübingen x The Starry Night (149). A quarter
height stage of 60 first: 48 (72 in all) and 70 (94). A longer L-BFGS memory
(m = 20 or 50) changed nothing. The full-size budget leaves room beyond what
those runs needed, so a run ends at or below the book's final loss.
"""


BOOK = Settings()
"""Deep Learning with Python, 1st ed., section 8.3, exactly."""

QUICK = Settings(height=192, iterations=10, resample="bicubic")
"""A fast look at a result on a laptop CPU: about a minute."""

PAINTERLY = {
    # Measured here with bench/quality.py (docs/quality.md).
    "hed-vgg16": Settings(
        backbone="hed-vgg16", height=512, resample="lanczos", normalization="paper",
        content_layer="block4_conv2", content_weight=0.025, style_weight=100.0,
        style_layer_weights=(1.0, 1.0, 2.0, 5.0, 10.0),
        stages=((0.5, 200), (1.0, 200)),
    ),
    # Not measured here (no ImageNet weights offline): jcjohnson/neural-style's published
    # defaults (content 5 at relu4_2, style 100, Grams divided by C*H*W) in this loss's units
    # for a 512 x 683 image; see docs/quality.md.
    "vgg19": Settings(
        backbone="vgg19", height=512, resample="lanczos", normalization="paper",
        content_layer="block4_conv2", content_weight=1.8e-6, style_weight=1.0,
        style_layer_weights=(0.488, 0.122, 0.0305, 0.00763, 0.00763),
        stages=((0.5, 200), (1.0, 200)),
    ),
}
"""The best pictures we can make in about the book's time, per backbone (docs/quality.md)."""

def at_height(settings, height):
    """`settings` at another `height`, with the content weight that keeps the same balance.

    The content loss is a sum over the content layer's positions, so it grows
    with the image's area, while both style normalisations divide the area
    out: at half the height the content weight must be four times larger.
    Used by `nst_teach.config` and `nst_teach.schedule`.
    """
    scale = (settings.height / height) ** 2
    return settings.replace(height=height, content_weight=settings.content_weight * scale)


PAINTERLY_QUICK = {name: at_height(settings, 256).replace(stages=((0.5, 150), (1.0, 150)))
                   for name, settings in PAINTERLY.items()}
"""`PAINTERLY` at 256 px: about a minute on two CPU cores (the README's main job)."""

PRESETS = {"book": BOOK, "quick": QUICK, "painterly": PAINTERLY, "painterly-quick": PAINTERLY_QUICK}


def preset(name, **changes):
    """The named preset (see `PRESETS`), with optional changes; taught in notebook 09.

    ``"painterly"`` and ``"painterly-quick"`` hold one set of values per backbone:
    the one for ``changes["backbone"]`` is used, and with ``"auto"`` (the
    default) the one for the backbone that ``"auto"`` will pick (VGG19 when its
    weights are at hand, otherwise hed-vgg16); the backbone stays as asked.

    Taught in notebooks 07 and 09.
    """
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {name!r}")
    chosen = PRESETS[name]
    if isinstance(chosen, dict):
        backbone = changes.get("backbone", "auto")
        if backbone == "auto":
            from .backbones import vgg19_available

            backbone = "vgg19" if vgg19_available(changes.get("weights")) else "hed-vgg16"
        chosen = chosen.get(backbone, chosen["vgg19"])  # "random" is VGG19 too
        changes.setdefault("backbone", "auto")
    return chosen.replace(**changes)
