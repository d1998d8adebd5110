"""Pictures of a run: loss curves and rows of images.

Used by the command line (the loss-curve PNG beside a result) and by
notebooks 02 to 07.
"""

from __future__ import annotations

__all__ = [
    "plot_loss_history", "save_loss_plot", "plot_png", "show_images", "most_active_channels",
    "feature_map_grid", "gram_heatmaps", "filmstrip", "plot_optimizer_comparison",
]

import io
import math

from .evaluator import COMPONENTS

COLOURS = {"total": "black", "content": "tab:blue", "style": "tab:red", "tv": "tab:green"}
LABELS = {"total": "total", "content": "content", "style": "style", "tv": "total variation"}


def plot_loss_history(history, ax=None, title="Loss during the optimisation"):
    """The total loss and each weighted component per evaluation, on a log scale.

    Dotted vertical lines mark where each L-BFGS restart (the book's
    iterations) ended. `history` may also be a coarse-to-fine run's
    `Result.stage_histories`: the stages are then drawn one after another,
    each labelled with its height. (A smaller stage's losses are smaller:
    they are sums over fewer positions.)

    Taught in notebooks 05 and 06.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    stages = list(history) if isinstance(history, (list, tuple)) else [(None, history)]
    if not any(stage.n_evaluations for _, stage in stages):
        ax.set_title("no loss evaluated yet")
        return ax
    first = 1  # the number of a stage's first evaluation
    for index, (height, stage) in enumerate(stages):
        evaluations = range(first, first + stage.n_evaluations)
        for name in COMPONENTS:
            values = stage.evaluations[name]
            if any(0 < v < math.inf for v in values):
                ax.plot(evaluations, values, color=COLOURS[name],
                        label=LABELS[name] if index == 0 else None,
                        linewidth=2 if name == "total" else 1.2)
        if height is None:
            for end in stage.iteration_evaluations[:-1]:
                ax.axvline(first + end - 0.5, color="0.85", linestyle=":", linewidth=1)
        else:
            if index:
                ax.axvline(first - 0.5, color="0.6", linewidth=1)
            # At the foot of the axes: the legend sits at the top right.
            ax.annotate(f"{height} px", (first, 0), xycoords=("data", "axes fraction"),
                        xytext=(3, 3), textcoords="offset points", va="bottom", fontsize=8)
        first += stage.n_evaluations
    ax.set_yscale("log")
    # The content loss starts at exactly 0 (we start from the content image):
    # keep the log axis on the range where the total loss lives.
    totals = [v for _, stage in stages for v in stage.evaluations["total"] if 0 < v < math.inf]
    ax.set_ylim(bottom=1e-3 * min(totals, default=1.0))
    ax.set_xlabel("loss evaluation")
    ax.set_ylabel("weighted loss")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right")
    return ax


def save_loss_plot(history, path, title="Loss during the optimisation"):
    """Write `plot_loss_history` (of a History or of stages) to a PNG file, atomically, without a display.

    Used by the command line.
    """
    return plot_png(lambda ax: plot_loss_history(history, ax, title), path)


def plot_png(draw, path=None, figsize=(7, 4), dpi=100):
    """A PNG of what `draw(ax)` plots: written atomically to `path` (returned), or its bytes.

    The figure is made without pyplot, so this works without a display and
    from a background thread (the playground's runs). Used by
    `nst_teach.widgets`, `nst_teach.fast.history` and `nst_teach.plotting`.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    draw(figure.add_subplot())
    if path is None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()
    from .images import atomic_write

    with atomic_write(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return path


def show_images(images, titles=None, size=3.0, axes=None, columns=None):
    """Images side by side, without axes, each with its title: one row, or rows of `columns`.

    Taught in notebooks 01 and 02.
    """
    if axes is None:
        axes = _grid(len(images), columns or len(images), size).ravel()
    for i, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(image, cmap="gray" if getattr(image, "ndim", 3) == 2 else None)
        ax.set_axis_off()
        if titles:
            ax.set_title(titles[i])
    return axes


def _grid(n, columns, size):
    import matplotlib.pyplot as plt

    rows = -(-n // columns)
    _, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    return axes


def most_active_channels(feature_map, count):
    """The `count` channels of an (h, w, C) map with the largest mean activation, strongest first.

    After ReLU many channels of a deep layer are zero everywhere for a given
    picture; showing those would teach nothing (notebook 02).

    Used by `nst_teach.plotting`.
    """
    import numpy as np

    return np.argsort(-np.asarray(feature_map).mean(axis=(0, 1)), kind="stable")[:count]


def feature_map_grid(features, channels=6, size=1.6):
    """A row per layer showing its `channels` most active feature maps (notebook 02).

    `features` maps layer names to arrays of shape (1, h, w, C). Each row shows
    the channels with the largest mean activation for this picture, strongest
    first (see `most_active_channels`). Each map is scaled on its own, from 0
    to its 99th percentile, so a weak channel is as visible as a strong one and
    a few very bright positions do not leave the rest of the map dark.

    Taught in notebook 02.
    """
    import numpy as np

    axes = _grid(len(features) * channels, channels, size)
    for row, (name, value) in zip(axes, features.items()):
        value = np.asarray(value)[0]
        for k, ax in zip(most_active_channels(value, channels), row):
            ax.imshow(value[..., k], cmap="viridis", vmin=0, vmax=np.percentile(value[..., k], 99) or None)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"channel {k}", fontsize=8)
        row[0].set_ylabel(f"{name}\n{value.shape[0]}x{value.shape[1]}x{value.shape[2]}", fontsize=9)
    return axes


def gram_heatmaps(grams, titles, channels=24, size=4.0):
    """Heatmaps of Gram matrices on the same `channels` most active channels (notebook 04).

    Many VGG channels are silent for a given picture, so we pick the channels
    with the largest diagonal (summed over all matrices, each scaled to its
    own maximum) and show every matrix on those. A power-law colour scale lets
    the off-diagonal entries show next to the large diagonal ones.

    Taught in notebooks 02 and 04.
    """
    import numpy as np
    from matplotlib.colors import PowerNorm

    grams = [np.asarray(gram, dtype=np.float64) for gram in grams]
    activity = sum(np.diag(gram) / np.diag(gram).max() for gram in grams)
    keep = np.sort(np.argsort(activity)[-channels:])
    axes = _grid(len(grams), len(grams), size)[0]
    for ax, gram, title in zip(axes, grams, titles):
        image = ax.imshow(gram[np.ix_(keep, keep)], cmap="magma", norm=PowerNorm(0.4))
        ax.set_title(title, fontsize=10)
        ticks = range(0, len(keep), max(1, len(keep) // 6))
        ax.set_xticks(ticks, keep[list(ticks)]), ax.set_yticks(ticks, keep[list(ticks)])
        ax.set_xlabel("channel"), ax.set_ylabel("channel")
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.figure.tight_layout()
    return axes


def filmstrip(images, titles=None, columns=6, size=2.0):
    """Many images in rows of `columns` (fewer images: one row just as wide), e.g. one per iteration.

    Taught in notebook 06.
    """
    axes = _grid(len(images), min(columns, len(images)), size).ravel()
    show_images(images, titles, axes=axes[: len(images)])
    return axes


def plot_optimizer_comparison(runs, ax=None, budget=None):
    """Lowest total loss so far against loss evaluations, one line per run (notebook 06).

    `runs` maps a name to a `nst_teach.optimizers.Run`. The running minimum
    is what you would keep if you stopped there, so it is the fair measure.

    Taught in notebook 06.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for name, run in runs.items():
        losses = run.history.evaluations["total"][:budget]
        ax.plot(np.arange(1, len(losses) + 1), np.minimum.accumulate(losses), label=name)
    ax.set_yscale("log")
    ax.set_xlabel("loss evaluations")
    ax.set_ylabel("lowest total loss so far")
    ax.set_title("Same budget, three optimisers")
    ax.legend()
    return ax
