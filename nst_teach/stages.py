"""The arithmetic of a coarse-to-fine run: each stage's height and settings.

Plain Python on `Settings`, apart from the run itself
(`nst_teach.schedule.coarse_to_fine`), so that setting a run up
(`nst_teach.problem.warm_up`) and running it can both use it.
Taught in notebook 09.
"""

from __future__ import annotations

__all__ = ["stage_heights", "settings_per_stage"]

import math

from .config import at_height, min_size_for


def stage_heights(height, stages, layers, aspect=1.0):
    """The height of each stage, never below what the layers need in either side.

    `aspect` is the content's width / height: a portrait image needs a taller
    stage for its width to reach the deepest layer.

    Used by `nst_teach.stages` and `nst_teach.schedule`.
    """
    need = max(max(min_size_for(name) for name in layers), 2)
    need = max(need, math.ceil(need / aspect))
    return [max(need, int(round(height * fraction))) for fraction, _ in stages]


def settings_per_stage(settings, stages, content):
    """The `Settings` of each stage: `settings` at the stage's height (see `stage_heights`),
    its content weight grown by the area ratio (`nst_teach.config.at_height`).

    `content` is the content image (an array): its aspect decides the heights.
    Used by `nst_teach.problem` and `nst_teach.schedule`.
    """
    aspect = content.shape[1] / content.shape[0]
    heights = stage_heights(settings.height, stages, settings.layers, aspect)
    return [at_height(settings, height) for height in heights[:-1]] + [settings]
