"""Pictures of a run: loss curves and rows of images.

Used by the command line (the loss-curve PNG beside a result) and by
notebooks 02 to 07.
"""

from __future__ import annotations

from .optimize import COMPONENTS

COLOURS = {"total": "black", "content": "tab:blue", "style": "tab:red", "tv": "tab:green"}
LABELS = {"total": "total", "content": "content", "style": "style", "tv": "total variation"}


def plot_loss_history(history, ax=None, title="Loss during the optimisation"):
    """The total loss and each weighted component per evaluation, on a log scale.

    Dotted vertical lines mark where each L-BFGS restart (the book's
    iterations) ended.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    evaluations = range(1, history.n_evaluations + 1)
    for name in COMPONENTS:
        values = history.evaluations[name]
        if any(v > 0 for v in values):
            ax.plot(evaluations, values, color=COLOURS[name], label=LABELS[name],
                    linewidth=2 if name == "total" else 1.2)
    for end in history.iteration_evaluations[:-1]:
        ax.axvline(end + 0.5, color="0.85", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("loss evaluation")
    ax.set_ylabel("weighted loss")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return ax


def save_loss_plot(history, path, title="Loss during the optimisation"):
    """Write `plot_loss_history` to a PNG file without needing a display."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), layout="constrained")
    plot_loss_history(history, figure.add_subplot(), title)
    figure.savefig(path, dpi=100)
    return path


def show_images(images, titles=None, size=3.0, axes=None):
    """Images side by side in one row, without axes, each with its title."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(images), figsize=(size * len(images), size), squeeze=False)
        axes = axes[0]
    for i, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(image, cmap="gray" if getattr(image, "ndim", 3) == 2 else None)
        ax.set_axis_off()
        if titles:
            ax.set_title(titles[i])
    return axes
