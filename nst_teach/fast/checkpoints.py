"""Saving a style network as it trains, and resuming from it (notebook 08).

A checkpoint is the `.keras` file of the network with its optimiser state,
plus what the run needs to go on: the style's name, the step reached, the
backbone, the settings and the `FastHistory` (inside the archive, see
`nst_teach.fast.network.save_model`), and a loss curve beside it
(``<output stem>_loss.png``).
"""

from __future__ import annotations

__all__ = ["Checkpoint", "style_name"]

from pathlib import Path

from .history import FastHistory, save_fast_loss_plot
from .network import load_model, save_model


def style_name(style):
    """The name a checkpoint records for `style`: its path or example name, else "array".

    Used by `nst_teach.fast.training`.
    """
    return str(style) if isinstance(style, (str, Path)) else "array"


class Checkpoint:
    """Where the training of a network for the style `style_name` is saved, and picked up again.

    `path` must end in ``.keras``; with `path` None nothing is written, but
    `save` still gives the model its `nst_info`. `backbone` is set once the
    loss is built. Used by `nst_teach.fast.training`.
    """

    def __init__(self, path, style_name, settings, backbone=None):
        self.path = None if path is None else Path(path)
        if self.path is not None and self.path.suffix != ".keras":
            raise ValueError(f"output must end in .keras, got {self.path.name!r}")
        self.style_name, self.settings, self.backbone = style_name, settings, backbone
        self.saved_step = None  # the step saved last

    def exists(self):
        return self.path is not None and self.path.exists()

    def info(self, step, history):
        """What is stored beside the network (`model.nst_info`)."""
        return {"style_name": self.style_name, "step": step, "backbone": self.backbone,
                "settings": self.settings.to_dict(), "history": history.to_dict()}

    def load(self):
        """The saved (model, history, step); an error if it was trained for another style."""
        model = load_model(self.path)
        info = model.nst_info
        trained_for = info.get("style_name")
        if trained_for not in (None, "array", self.style_name) and self.style_name != "array":
            raise ValueError(
                f"{self.path.name} was trained for the style {trained_for!r}, not {self.style_name!r}: "
                "give another output path, or train without resume to start afresh")
        self.saved_step = int(info.get("step", 0))
        return model, FastHistory.from_dict(info.get("history")), self.saved_step

    def save(self, model, step, history):
        """Save the network at `step` (atomically, once) and its loss curve; the path, or None."""
        model.nst_info = self.info(step, history)
        if self.path is None or (self.saved_step == step and self.path.exists()):
            return self.path
        save_model(model, self.path, model.nst_info)
        if history.steps:
            save_fast_loss_plot(history, self.path.with_name(self.path.stem + "_loss.png"))
        self.saved_step = step
        return self.path
