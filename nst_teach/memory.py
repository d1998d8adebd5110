"""How much memory a run will need, estimated before anything is built.

A run keeps every feature map of the backbone, up to the deepest layer it
uses, for the gradient; their size grows with the image's area. A height of
100000 px (or a very thin image, whose working width is huge) would grow
until the machine runs out of memory, so `check_memory` refuses such a run
first, naming a size that fits. The limit is `Settings.memory_limit_gb`.
Used by `nst_teach.problem.setup` (notebook 06).
"""

from __future__ import annotations

__all__ = ["RunTooLarge", "feature_values", "estimate_gb", "machine_gb", "limit_gb", "lbfgs_gb",
           "sliced_tables_gb", "check_memory", "check_training_memory"]

import math
import os

from .config import VGG_LAYERS, min_size_for, target_levels
from .schema import SettingError


class RunTooLarge(SettingError):
    """A run that would need more memory than `Settings.memory_limit_gb` allows.

    A `nst_teach.schema.SettingError`: `field` names the setting that fixes it.

    Used by `nst_teach.memory`.
    """


CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}  # per VGG block

BYTES_PER_ACTIVATION = 12
"""Bytes per feature value, all copies counted: the float32 maps kept for the gradient,
their gradients and the Winograd transforms. Measured from the peak resident memory
of the book's layers at heights 64 to 1024 (VGG19, random weights, 2 CPU cores):
8.4 to 9 bytes per value, rounded up for safety."""

FIXED_GB = 1.6
"""TensorFlow, Keras and the backbone's weights, whatever the image size (measured 0.9-1.6)."""


def _positions(height, width, layer):
    """Positions of `layer`'s map for an image of (height, width), rounded up."""
    scale = min_size_for(layer)  # each pooling before its block halves the image
    return math.ceil(height / scale) * math.ceil(width / scale)


def feature_values(height, width, deepest_layer):
    """How many float32 values the backbone's layers up to `deepest_layer` produce.

    Used by `nst_teach.memory`.
    """
    return sum(_positions(height, width, layer) * CHANNELS[int(layer[5])]
               for layer in VGG_LAYERS[: VGG_LAYERS.index(deepest_layer) + 1])


def estimate_gb(height, width, layers):
    """Estimated peak memory in GB of a run at (height, width) using `layers`.

    Used by `nst_teach.memory`.
    """
    deepest = max(layers, key=VGG_LAYERS.index)
    return FIXED_GB + feature_values(height, width, deepest) * BYTES_PER_ACTIVATION / 1e9


def machine_gb():
    """This machine's physical memory in GB (None where the system does not say).

    Used by `nst_teach.memory`.
    """
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return None


def limit_gb(settings):
    """`settings.memory_limit_gb`, or 3/4 of this machine's memory when it is None.

    Used by `nst_teach.memory`.
    """
    if settings.memory_limit_gb is not None:
        return settings.memory_limit_gb
    total = machine_gb()
    return 0.75 * total if total else math.inf


def lbfgs_gb(height, width, settings):
    """Memory of L-BFGS's past steps in GB: scipy's work array of 2mn + 5n + 11m² + 8m doubles.

    Returns (the part that grows with the image's area, the part that does
    not); `n` is the number of pixel values optimised, `m` is
    `settings.lbfgs_history`; Adam keeps none, in stages too. Used by `nst_teach.memory`.
    """
    if "lbfgs_history" in settings.unused:
        return 0.0, 0.0
    n, m = height * width * 3, settings.lbfgs_history
    return (2 * m + 5) * n * 8 / 1e9, (11 * m * m + 8 * m) * 8 / 1e9


def sliced_tables_gb(height, width, settings):
    """Memory of the sliced statistic's targets in GB (0 for the other statistics).

    Per style layer of C channels, C directions (C x C) and a table of
    `nst_teach.config.target_levels` quantiles per direction, float32; Adam
    keeps `settings.sliced_draws` sets of them (notebook 10). The tables stop
    growing at `TABLE_LEVELS` levels: eight sets at 512 px take a few tenths of a GB.
    Used by `nst_teach.memory`.
    """
    if settings.style_statistic != "sliced":
        return 0.0
    sets = 1 if "sliced_draws" in settings.unused else settings.sliced_draws

    def values(layer):
        channels = CHANNELS[int(layer[5])]
        return channels * (target_levels(_positions(height, width, layer)) + channels)

    return sets * sum(map(values, settings.style_layers)) * 4 / 1e9


def check_memory(size, settings):
    """Raise `RunTooLarge` if a run with the content at `size` = (height, width) would need too much.

    The estimate counts the larger of the content and the style image
    (`settings.style_scale`), L-BFGS's past steps (`lbfgs_gb`) and the sliced
    statistic's targets (`sliced_tables_gb`). The error
    names the setting that fixes it: the height, the style scale, the L-BFGS
    history, or the limit itself when nothing else can.

    Used by `nst_teach.problem` and the command line.
    """
    height, width = size
    style = tuple(max(1, round(side * settings.style_scale)) for side in size)
    features = estimate_gb(*max(size, style), settings.layers) - FIXED_GB
    with_area, fixed = lbfgs_gb(height, width, settings)
    fixed += sliced_tables_gb(height, width, settings)  # grows with the area only up to a cap
    needed, limit = FIXED_GB + features + with_area + fixed, limit_gb(settings)
    if needed <= limit:
        return
    room = limit - FIXED_GB
    what = (f"a {width}x{height} px run needs about {_gb(needed)}, more than the limit of "
            f"{_gb(limit)} (memory_limit_gb)")
    if room <= 0:
        raise RunTooLarge(f"{what}: TensorFlow and the backbone alone take about {_gb(FIXED_GB)} "
                          f"at any size, so raise memory_limit_gb", "memory_limit_gb")
    if with_area + fixed > features:
        fits = _history_that_fits(height * width * 3, room - features)
        if fits >= 1:
            raise RunTooLarge(f"{what}, {_gb(with_area + fixed)} of it L-BFGS's memory of "
                              f"{settings.lbfgs_history} past steps: use lbfgs_history at most "
                              f"{fits} (scipy's default is 10)", "lbfgs_history")
    if style > size:
        fits = settings.style_scale * math.sqrt(max(room - with_area - fixed, 0) / features) * 0.98
        digits = 10 ** (math.floor(math.log10(fits)) - 1) if fits > 0 else 1  # two, rounded down
        raise RunTooLarge(f"{what}, for its style image at {style[1]}x{style[0]} px: use "
                          f"style_scale at most {math.floor(fits / digits) * digits:.4g}, or a "
                          f"smaller height", "style_scale")
    fits = int(height * math.sqrt(max(room - fixed, 0) / (features + with_area)) * 0.98)
    need = max(2, *(min_size_for(layer) for layer in settings.layers))
    if fits < need:
        raise RunTooLarge(f"{what}, and no height that fits leaves the layers chosen their "
                          f"{need} px: raise memory_limit_gb", "memory_limit_gb")
    raise RunTooLarge(
        f"{what}: use height at most {fits} px"
        + (", or a less elongated image" if max(height, width) > 20 * min(height, width) else "")
        + ", or raise memory_limit_gb if this machine has the memory", "height")


def _history_that_fits(n, room_gb):
    """The largest L-BFGS history m whose work array fits in `room_gb` (0 if none does)."""
    doubles = room_gb * 1e9 / 8 - 5 * n
    if doubles <= 0:
        return 0
    return int((-(2 * n + 8) + math.sqrt((2 * n + 8) ** 2 + 44 * doubles)) / 22)


def _gb(value):
    if value < 100:
        return f"{value:.3g} GB"
    return f"{value:,.0f} GB" if value < 1e6 else f"{value / 1e6:,.0f} PB"


def check_training_memory(settings, limit=None):
    """Raise `RunTooLarge` if training a style network with `settings` would need too much.

    A training step keeps, for each of the batch's crops, the backbone's
    feature maps up to the deepest loss layer (for the output and the photo)
    and the transformation network's own activations: a rough estimate, with
    the same bytes per value as `estimate_gb`. `limit` is in GB (default 3/4
    of this machine's memory). Used by the command line (``train-fast``).
    """
    size, batch = settings.size, settings.batch_size
    deepest = max((settings.content_layer, *settings.style_layers), key=VGG_LAYERS.index)
    small, middle, large = settings.filters
    network = size * size * (6 * small + 6 * middle / 4 + (3 + 6 * settings.residual_blocks) * large / 16)
    values = batch * (2 * feature_values(size, size, deepest) + network)
    needed = FIXED_GB + values * BYTES_PER_ACTIVATION / 1e9
    total = machine_gb()
    limit = limit if limit is not None else (0.75 * total if total else math.inf)
    if needed <= limit:
        return
    fits = int(size * math.sqrt(max(limit - FIXED_GB, 0) / (needed - FIXED_GB)) * 0.98)
    fix = (f"use size at most {fits} px, or a smaller batch_size" if fits >= 16
           else "use a smaller batch_size, or a machine with more memory")
    raise RunTooLarge(f"training on {batch} crops of {size}x{size} px needs about {_gb(needed)}, "
                      f"more than the limit of {_gb(limit)}: {fix}", "size")
