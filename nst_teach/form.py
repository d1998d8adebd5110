"""The playground's form: one control per `Settings` field that declares one.

Made from the schema (`nst_teach.schema.Control` in each field's
declaration, `nst_teach.config`): a field that gains a control there appears
here, in its group, with its label and help text as tooltip. Fields without
a control keep the value of the settings the form started from.
"""

from __future__ import annotations

__all__ = ["layer_names", "make_control", "show_value", "SettingsForm"]

import dataclasses
import math

import ipywidgets as w

from .config import Settings, vgg_layer_names
from .schema import Optional

LABEL_WIDTH = "100px"  # long enough for every label
INVALID = "nst-invalid"
"""The CSS class of the control whose value a `nst_teach.schema.SettingError` names."""


def layer_names(backbone):
    """Convolution layer names of a backbone, without building it.

    ``auto`` may become VGG16 (hed-vgg16), so it offers the layers both share.

    Used by `nst_teach.form`.
    """
    return list(vgg_layer_names("vgg19" if backbone in ("vgg19", "random") else "vgg16"))


def make_control(field, value, backbone):
    """The widget that `field`'s `Control` describes, showing `value`.

    `backbone` decides which layer names a layer menu offers.
    Used by `nst_teach.form`.
    """
    control, check = field.metadata["control"], field.metadata["check"]
    check = check.check if isinstance(check, Optional) else check
    common = dict(description=control.label or field.name, tooltip=field.metadata["help"])
    if control.kind == "slider":
        kind = w.IntSlider if isinstance(field.default, int) else w.FloatSlider
        return show_value(kind(min=control.low, max=control.high, step=control.step, **common), value)
    if control.kind == "log":
        return show_value(w.FloatLogSlider(base=10, min=control.low, max=control.high, step=0.1,
                                           readout_format=".1e", **common), value)
    if control.kind == "menu":
        return w.Dropdown(options=check.options, value=value, **common)
    if control.kind == "number":
        return w.IntText(value=value, **common)
    if control.kind == "layer":
        return w.Dropdown(options=layer_names(backbone), value=value, **common)
    if control.kind == "layers":
        return w.SelectMultiple(options=layer_names(backbone), value=value, rows=8, **common)
    raise ValueError(f"{field.name}: unknown control kind {control.kind!r}")


def show_value(widget, value):
    """Set `widget` to `value`, widening a slider's range to hold it.

    A slider clamps a value outside its range without a word, so a preset's
    style weight of 2e4 would silently become the slider's maximum.
    Returns `widget`. Used by `nst_teach.form` and `nst_teach.widgets`.
    """
    if isinstance(widget, w.FloatLogSlider):
        if value > 0:
            exponent = math.log10(value)
            widget.min, widget.max = min(widget.min, math.floor(exponent)), max(widget.max, math.ceil(exponent))
    elif isinstance(widget, (w.IntSlider, w.FloatSlider)):
        widget.min, widget.max = min(widget.min, value), max(widget.max, value)
    widget.value = value
    return widget


class SettingsForm:
    """The controls of every `Settings` field that declares one, grouped as declared.

    `controls` maps a field's name to its widget; `groups` maps a group
    ("size", "weights", "layers", "beyond") to its widgets in field order.
    `settings(base)` is `base` with each control's value: a field without a
    control keeps its value. A change of backbone offers that backbone's layers.

    Used by `nst_teach.widgets`.
    """

    def __init__(self, settings):
        self.controls, self.groups = {}, {}
        for field in dataclasses.fields(Settings):
            control = field.metadata.get("control")
            if control is None:
                continue
            widget = make_control(field, getattr(settings, field.name), settings.backbone)
            widget.style.description_width = LABEL_WIDTH
            self.controls[field.name] = widget
            self.groups.setdefault(control.group, []).append(widget)
        self.controls["backbone"].observe(self._on_backbone, "value")

    def settings(self, base):
        """`base` with every control's value (raises `ValueError` if invalid)."""
        changes = {name: widget.value for name, widget in self.controls.items()}
        if changes["style_layers"] != base.style_layers:
            changes["style_layer_weights"] = None  # one weight per layer no longer fits
        return base.replace(**changes)

    def mark(self, error):
        """Mark the control of the field that `error` names (its `SettingError.field`).

        The control gets the CSS class `INVALID` (outlined in red by the
        playground's error message); every other control loses it (``mark(None)``
        clears all). Returns the marked
        control's label, or None when the error names no control.
        """
        field = getattr(error, "field", None)
        for name, widget in self.controls.items():
            marked = name == field
            (widget.add_class if marked else widget.remove_class)(INVALID)
        return self.controls[field].description if field in self.controls else None

    def show(self, settings):
        """Set every control but the backbone's to the value in `settings`."""
        for name, widget in self.controls.items():
            if name != "backbone":
                show_value(widget, getattr(settings, name))

    def _on_backbone(self, change):
        names = layer_names(change.new)
        content_layer, style_layers = self.controls["content_layer"], self.controls["style_layers"]
        content = content_layer.value if content_layer.value in names else "block5_conv2"
        style = tuple(name for name in style_layers.value if name in names)
        content_layer.options, content_layer.value = names, content
        style_layers.options, style_layers.value = names, style
