"""How much memory a run will need, estimated before anything is built.

A run keeps every feature map of the backbone, up to the deepest layer it
uses, for the gradient; their size grows with the image's area. A height of
100000 px (or a very thin image, whose working width is huge) would grow
until the machine runs out of memory, so `check_memory` refuses such a run
first, naming a size that fits. The limit is `Settings.memory_limit_gb`.
Used by `nst_teach.problem.setup` (notebook 06).
"""

from __future__ import annotations

__all__ = ["RunTooLarge", "feature_values", "estimate_gb", "machine_gb", "limit_gb", "check_memory"]

import math
import os

from .config import VGG_LAYERS

class RunTooLarge(ValueError):
    """A run that would need more memory than `Settings.memory_limit_gb` allows.

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


def feature_values(height, width, deepest_layer):
    """How many float32 values the backbone's layers up to `deepest_layer` produce.

    Used by `nst_teach.memory`.
    """
    total = 0
    for layer in VGG_LAYERS[: VGG_LAYERS.index(deepest_layer) + 1]:
        block = int(layer[5])
        scale = 2 ** (block - 1)
        total += math.ceil(height / scale) * math.ceil(width / scale) * CHANNELS[block]
    return total


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


def check_memory(size, settings):
    """Raise `RunTooLarge` if a run at `size` = (height, width) would need more than the limit.

    Used by `nst_teach.problem`.
    """
    height, width = size
    needed, limit = estimate_gb(height, width, settings.layers), limit_gb(settings)
    if needed <= limit:
        return
    shrink = math.sqrt(max(limit - FIXED_GB, 0) / (needed - FIXED_GB))
    fits = max(1, int(height * shrink * 0.98))
    raise RunTooLarge(
        f"a {width}x{height} px working image needs about {needed:.1f} GB, more than the limit "
        f"of {limit:.1f} GB (memory_limit_gb, --memory-limit): use a height of at most {fits} px"
        + (", or a less elongated image" if max(height, width) > 20 * min(height, width) else "")
        + ", or raise memory_limit_gb if this machine has the memory"
    )
