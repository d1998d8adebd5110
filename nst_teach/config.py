"""Settings of a style-transfer run, with the book's values as defaults.

Taught in notebook 01 (set-up) and used by every later notebook.
"""

from __future__ import annotations

import dataclasses
import math
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


def min_size_for(layer):
    """Smallest image side that still leaves `layer` at least one pixel.

    A VGG layer in block N sits behind N-1 poolings that each halve the image.
    """
    match = re.match(r"block(\d+)_", layer)
    return 2 ** (int(match.group(1)) - 1) if match else 1


@dataclass(frozen=True)
class Settings:
    """Everything that decides a run; the defaults are the book's (section 8.3).

    Change a field with `settings.replace(height=256)`; invalid values raise
    `ValueError` naming the field and the allowed range.
    """

    height: int = 400
    iterations: int = 20
    maxfun: int = 20
    content_weight: float = 0.025
    style_weight: float = 1.0
    tv_weight: float = 1e-4
    content_layer: str = "block5_conv2"
    style_layers: tuple = BOOK_STYLE_LAYERS
    normalization: str = "book"
    backbone: str = "auto"
    weights: str | None = None
    seed: int = 0
    resample: str = "nearest"

    def __post_init__(self):
        object.__setattr__(self, "style_layers", tuple(self.style_layers))
        _check_int(self, "height", 1)
        _check_int(self, "iterations", 1)
        _check_int(self, "maxfun", 1)
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"{name} must be a finite number >= 0, got {value!r}"
                )
        if not self.style_layers:
            raise ValueError(
                "style_layers must name at least one layer, "
                f"for example {BOOK_STYLE_LAYERS!r}"
            )
        _check_choice(self, "normalization", NORMALIZATIONS)
        _check_choice(self, "resample", RESAMPLE)
        if self.backbone not in BACKBONES:
            raise ValueError(
                f"backbone must be one of {BACKBONES}, got {self.backbone!r}"
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


def _check_int(settings, name, low):
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_choice(settings, name, choices):
    value = getattr(settings, name)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


BOOK = Settings()
"""Deep Learning with Python, 1st ed., section 8.3, exactly."""

QUICK = Settings(height=192, iterations=10, resample="bicubic")
"""A fast look at a result on a laptop CPU: about a minute."""

PRESETS = {"book": BOOK, "quick": QUICK}


def preset(name, **changes):
    """The named preset (`"book"` or `"quick"`), with optional changes."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {name!r}")
    return PRESETS[name].replace(**changes)
