"""What a training run of a style network records, and its loss curve (notebook 08)."""

from __future__ import annotations

__all__ = ["FastHistory", "save_fast_loss_plot", "plot_fast_history"]

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FastHistory:
    """Weighted losses per training step, and seconds per step; saved inside each checkpoint.

    Used by `nst_teach.fast.training` and `nst_teach.fast.checkpoints`.
    """

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


def save_fast_loss_plot(history, path, title="Training the style network"):
    """The weighted losses per training step (and a running mean), as a PNG.

    Used by `nst_teach.fast.checkpoints`.
    """
    from ..plotting import plot_png

    return plot_png(lambda ax: plot_fast_history(history, ax, title), path)


def plot_fast_history(history, ax=None, title="Training the style network"):
    """Each weighted loss per step (faint) and its running mean over 20 steps, log scale.

    Taught in notebook 08.
    """
    from ..plotting import COLOURS, LABELS

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
