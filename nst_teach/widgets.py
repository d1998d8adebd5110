"""The playground: every setting of a run as a control, with live feedback.

Taught in notebook 07. Display it with ``Playground()`` as the last line of a
cell. Press Run and the transfer goes on in a background thread, so the
notebook stays usable and the Stop button is heard: Stop ends the run at its
next loss evaluation and keeps the best image so far.

Three parts: the form (`nst_teach.form`, one control per `Settings` field
that declares one), the run controller (`nst_teach.runner`, no widgets: it
runs, stops, warms up and tells a view what to show) and the view here
(`PlaygroundView`: pictures, loss curve, status, the runs so far). The run's
thread only sets widget values (`Image.value`, `HTML.value`,
`Box.children`), which ipykernel sends safely from any thread.
"""

from __future__ import annotations

__all__ = ["png_bytes", "thumbnail_png", "loss_plot_png", "decode_upload", "PlaygroundView",
           "Playground"]

import base64
import dataclasses
import html
import io
import time
from functools import partial
from pathlib import Path

import ipywidgets as w
import numpy as np
from PIL import Image

from . import data, images
from .backbones import resolve
from .config import BOOK, PRESETS, QUICK, preset
from .form import INVALID, LABEL_WIDTH, SettingsForm, show_value
from .plotting import plot_loss_history, plot_png
from .runner import RunController, stages_text
from .schedule import FIRST_LOOK

UPLOAD = "upload: "
THUMBNAIL = 96  # px, the longer side of a picker's thumbnail


def png_bytes(image):
    """An RGB uint8 array as PNG file bytes, what `ipywidgets.Image` shows.

    Used by `nst_teach.widgets`.
    """
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_png(image, side=THUMBNAIL):
    """`image` shrunk to at most `side` px on its longer side, as PNG bytes (for a picker).

    Used by `nst_teach.widgets`.
    """
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    picture.thumbnail((side, side), Image.Resampling.LANCZOS)
    return png_bytes(np.asarray(picture))


def loss_plot_png(history):
    """The loss curve of `history` as PNG bytes, drawn without pyplot (thread-safe).

    Used by `nst_teach.widgets`.
    """
    return plot_png(lambda ax: plot_loss_history(history, ax, title="Loss (weighted components)"),
                    figsize=(5.5, 3.2), dpi=80)


def decode_upload(item):
    """The file of a FileUpload value entry as an RGB uint8 array.

    Raises `ImageError` naming the file when it is not an image Pillow can
    read, or when it is larger than `images.MAX_PIXELS`.

    Used by `nst_teach.widgets`.
    """
    name, content = item["name"], bytes(item["content"])
    try:
        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
            if width * height > images.MAX_PIXELS:
                raise images.ImageError(
                    f"{name} is {width}x{height} pixels, too large: resize it first"
                )
            return images.load_image(image)
    except images.ImageError:
        raise
    except Exception as error:  # Pillow raises many kinds for broken files
        raise images.ImageError(
            f"cannot read {name} as an image ({type(error).__name__}: {error}); "
            "upload a PNG or JPEG file"
        ) from None


class PlaygroundView:
    """What the playground shows: the picture, the loss curve, status, runs so far.

    The view that `nst_teach.runner.RunController` talks to (its methods are
    listed there); the Run, Stop and Save buttons follow `set_running`.

    Used by `nst_teach.widgets`.
    """

    def __init__(self):
        self.progress = w.IntProgress(value=0, min=0, max=1, description="progress")
        self.status = w.HTML("Press Run to start.")
        self.message = w.HTML("")
        # A fixed width scales small images up; height follows the aspect ratio.
        self.image = w.Image(format="png", layout=w.Layout(width="360px", height="auto"))
        self.plot = w.Image(format="png", layout=w.Layout(width="440px", height="auto"))
        self.image.add_class("nst-result")
        self.plot.add_class("nst-loss-plot")
        self.run_button = w.Button(description="Run", button_style="success", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop",
                                    disabled=True)
        self.save_button = w.Button(description="Save", icon="save", disabled=True)
        self.download = w.HTML("")
        self.gallery = w.HBox(layout=w.Layout(overflow="auto"))
        self._has_result = False

    def show_image(self, image):
        self.image.value = png_bytes(image)

    def show_plot(self, history):
        self.plot.value = loss_plot_png(history)

    def show_status(self, text):
        self.status.value = html.escape(text)

    def show_error(self, error):
        self.message.value = (  # the style outlines the control a SettingError names (form.mark)
            f"<style>.{INVALID} {{outline: 2px solid #b00020}}</style>"
            f'<div style="color:#b00020"><b>Problem:</b> {html.escape(str(error))}</div>'
        )

    def clear_error(self):
        self.message.value = ""

    def show_progress(self, done, total):
        self.progress.max, self.progress.value = total, done

    def set_running(self, running):
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.save_button.disabled = running or not self._has_result

    def add_result(self, result, names, number):
        self._has_result = True
        self.download.value = _download_link(result.image, f"nst-run-{number}.png")
        self.gallery.children = (*self.gallery.children, _card(result, names, number))


def _controller_attribute(name):
    """The run controller's attribute `name`, as the playground's own."""
    return property(lambda self: getattr(self.controller, name),
                    lambda self, value: setattr(self.controller, name, value))


class Playground:
    """Controls for one style-transfer run, live feedback, and the runs so far.

    `settings` gives the starting values (default: `QUICK` on the offline
    backbone); the preset menu replaces them. Fields without a control keep
    their value from there. Finished runs are kept in `results` and saved into
    `results_dir` by the Save button. Once displayed, it builds the network
    and traces the step for the current settings in the background (again
    after each change), so that Run starts computing at once. A thumbnail
    beside each picker shows the chosen content and style picture.

    Each control is an attribute named like its field (``playground.height``);
    the view's widgets are attributes too (``playground.image``, ``.status``).

    Taught in notebook 07.
    """

    def __init__(self, settings=None, results_dir="playground-results"):
        self.base = settings or QUICK.replace(backbone="hed-vgg16")
        self.results_dir = Path(results_dir)
        self.uploads = {}
        self.view = PlaygroundView()
        self.controller = RunController(self.view, self._image)
        self.form = SettingsForm(self.base)
        self._displayed = False
        clash = set(self.form.controls) & set(dir(self))
        if clash:
            raise TypeError(f"a Settings field's control is named like a Playground attribute: {clash}")
        vars(self).update(self.form.controls)
        for name in ("progress", "status", "message", "image", "plot", "run_button",
                     "stop_button", "save_button", "download", "gallery"):
            setattr(self, name, getattr(self.view, name))
        self._build_pickers()
        self._build_extras(self.base)
        self.widget = self._layout()
        for control in (self.content, self.style, self.preset, self.first_look,
                        *self.form.controls.values()):
            control.observe(lambda _: self.prepare(), "value")

    # --- building -----------------------------------------------------------

    def _build_pickers(self):
        photos = list(data.content_names())
        self.content = w.Dropdown(options=photos, value=photos[0], description="content")
        self.style = w.Dropdown(options=[*data.STYLES, *photos], value=data.STYLES[0],
                                description="style")
        self.content_upload = w.FileUpload(accept="image/*", description="content file")
        self.style_upload = w.FileUpload(accept="image/*", description="style file")
        thumbnail = dict(format="png", layout=w.Layout(width=f"{THUMBNAIL}px", height="auto"))
        self.content_thumbnail, self.style_thumbnail = w.Image(**thumbnail), w.Image(**thumbnail)
        for picker, upload, shown in ((self.content, self.content_upload, self.content_thumbnail),
                                      (self.style, self.style_upload, self.style_thumbnail)):
            picker.style.description_width = LABEL_WIDTH
            upload.observe(partial(self._on_upload, target=picker), "value")
            picker.observe(partial(self._show_thumbnail, shown=shown), "value")
            self._show_thumbnail(None, shown, picker.value)

    def _build_extras(self, s):
        """The controls that are not settings: preset, first look, applying a fast network."""
        book = s.replace(backbone=BOOK.backbone, weights=None) == BOOK  # the book's start
        self.first_look = w.Checkbox(value=not book, indent=False,
                                     description=f"quick first look ({FIRST_LOOK[0]} px)")
        self.preset = w.Dropdown(options=("(as given)", *PRESETS), value="(as given)",
                                 description="preset")
        self.preset.style.description_width = LABEL_WIDTH
        self.preset.observe(self._on_preset, "value")
        self.style_statistic.observe(self._on_statistic, "value")
        self.fast_model = w.Text(placeholder="a .keras file from nst-teach train-fast",
                                 description="fast model")
        self.fast_model.style.description_width = LABEL_WIDTH
        self.apply_button = w.Button(description="Apply to content", icon="bolt")
        self.apply_button.on_click(lambda _: self.apply_fast_model())
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self.save())

    def _layout(self):
        groups = self.form.groups
        # a group other than these four (a new field's) goes with the beyond-the-book controls
        others = [widget for name, widgets in groups.items()
                  if name not in ("size", "weights", "layers", "beyond") for widget in widgets]
        pictures = w.VBox([w.HBox([w.VBox([self.content, self.content_upload]),
                                   self.content_thumbnail]),
                           w.HBox([w.VBox([self.style, self.style_upload]),
                                   self.style_thumbnail])])
        buttons = w.HBox([self.run_button, self.stop_button, self.first_look, self.progress,
                          self.status])
        beyond = w.Accordion(children=[w.HBox([
            w.VBox([*groups["beyond"], *others]), w.HBox([self.fast_model, self.apply_button]),
        ])], titles=("Beyond the book (notebooks 08 and 09)",))
        return w.VBox([
            w.HBox([pictures, w.VBox([self.preset, *groups["size"]])]),
            w.HBox([w.VBox(groups["weights"]), w.VBox(groups["layers"])]), beyond, buttons,
            self.message,
            w.HBox([self.image, self.plot], layout=w.Layout(align_items="flex-start")),
            w.HBox([self.save_button, self.download]),
            w.HTML("<b>Runs so far</b>"), self.gallery,
        ])

    def _repr_mimebundle_(self, **kwargs):
        self._displayed = True
        self.prepare()
        return self.widget._repr_mimebundle_(**kwargs)

    # --- reacting to the controls ---------------------------------------------

    def prepare(self):
        """Build the network and trace the step for the current settings, in the background.

        Called when the playground is displayed and after each change of a
        control; a run reuses what it built (`nst_teach.problem.warm_up`).
        """
        if not self._displayed:
            return
        try:
            settings = self.settings()
        except ValueError:  # reported when Run is pressed
            return
        self.controller.prepare(settings, self._names(), self.first_look.value)

    def _on_preset(self, change):
        if change.new not in PRESETS:
            return
        self.base = preset(change.new, backbone=resolve(self.backbone.value, self.base.weights))
        self.first_look.value = change.new != "book"
        self.form.show(self.base)
        self.message.value = (f"coarse to fine: {stages_text(self.base.stages)} "
                              "(iterations and maxfun are not used)" if self.base.stages else "")

    def _on_statistic(self, change):
        """A painterly preset's values for the new statistic, where they differ from the old one's.

        Each statistic has its own style weight (the distances' units differ),
        and the sliced one its own optimiser and content layer (notebook 10).
        """
        name = self.preset.value
        if not isinstance(PRESETS.get(name), dict):
            return
        backbone = resolve(self.backbone.value, self.base.weights)
        old, new = (preset(name, backbone=backbone, style_statistic=s) for s in (change.old, change.new))
        changes = {field: value for field, value in new.changed_from(old, unused=True).items()
                   if field != "style_statistic"}
        self.base = self.base.replace(**changes)
        for field, value in changes.items():
            if field in self.form.controls:
                show_value(self.form.controls[field], value)
        self.message.value = (f"the {name} preset's values for the {change.new} statistic (notebook 10): "
                              + ", ".join(f"{field} {value!r}" for field, value in changes.items()
                                          if field not in new.unused))

    def _on_upload(self, change, target):
        for item in change.new:
            try:
                image = decode_upload(item)
            except images.ImageError as error:
                self.view.show_error(error)
                continue
            key = UPLOAD + item["name"]
            self.uploads[key] = image
            if key not in target.options:
                target.options = [*target.options, key]
            if target.value == key:  # the same name again, another picture
                self._show_thumbnail(None, self._thumbnail_of(target), key)
            target.value = key
            self.view.clear_error()

    def _thumbnail_of(self, picker):
        return self.content_thumbnail if picker is self.content else self.style_thumbnail

    def _show_thumbnail(self, change, shown, name=None):
        shown.value = thumbnail_png(self._image(change.new if change is not None else name))

    def _image(self, name):
        return self.uploads[name] if name.startswith(UPLOAD) else data.example(name)

    def _names(self):
        return self.content.value, self.style.value

    def settings(self):
        """The `Settings` the controls describe (raises `ValueError` if invalid).

        The preset (or the settings given) with each control's value in place:
        a field without a control keeps its value.
        """
        return self.form.settings(self.base)

    def apply_fast_model(self):
        """Stylise the content image with a trained feed-forward network (notebook 08)."""
        from . import fast

        try:
            model = fast.load_model(self.fast_model.value.strip())
            start = time.perf_counter()
            image = fast.stylise(model, self._image(self.content.value), max_side=self.height.value)
        except ValueError as error:  # bad model file or image; ImageError is a ValueError too
            self.view.show_error(error)
            return
        self.view.clear_error()
        self.view.show_image(image)
        self.view.show_status(f"applied {Path(self.fast_model.value).name} "
                              f"in {time.perf_counter() - start:.2f} s")

    # --- running (the controller's) ------------------------------------------------

    running = _controller_attribute("running")
    result = _controller_attribute("result")  # the latest finished run
    results = _controller_attribute("results")
    prewarm = _controller_attribute("prewarm")
    first_look_height = _controller_attribute("first_look_height")  # px

    def run(self):
        """Start a run in a background thread with the current settings."""
        try:
            settings = self.settings()
        except ValueError as error:
            label = self.form.mark(error)  # a SettingError names its field: mark that control
            self.view.show_error(f"{label}: {error}" if label else error)
            return
        self.form.mark(None)
        self.view.clear_error()  # before the thread starts: its own error must stay
        self.controller.run(settings, self._names(), self.first_look.value)

    def stop(self):
        """End the run at its next loss evaluation; the best image so far is kept."""
        self.controller.stop()

    def wait(self, timeout=None):
        """Block until the current run has finished (for scripts and tests)."""
        return self.controller.wait(timeout)

    def save(self):
        """Write the latest result and its loss curve into `results_dir`."""
        if self.result is None:
            self.view.show_error("nothing to save yet: run first")
            return None
        stem = self.results_dir / f"run-{len(self.results)}"
        path = images.save_image(self.result.image, stem.with_suffix(".png"))
        (stem.parent / f"{stem.name}-loss.png").write_bytes(loss_plot_png(self.result.loss_curve))
        self.view.show_status(f"saved {path}")
        return path


def _loss_text(result):
    """The card's last line; a run stopped before its first round has no loss to show."""
    if result.loss is None:
        return "stopped before its first round: no loss yet"
    return f"final loss {result.loss:.4g}"


def _card(result, names, number):
    """A finished run in the gallery: its picture and the settings that made it."""
    s = result.settings
    text = (
        f"<b>run {number}</b> ({result.backbone}{', stopped' if result.stopped else ''})<br>"
        f"{html.escape(names[0])} × {html.escape(names[1])}<br>"
        f"height {s.height}, "
        f"{stages_text(s.stages) if s.stages else f'{s.iterations}×{s.maxfun} evals'}<br>"
        f"content {s.content_weight:.1e} · style {s.style_weight:.1e} · TV {s.tv_weight:.1e}<br>"
        f"{s.content_layer} / {len(s.style_layers)} style layers, {s.normalization}, "
        f"seed {s.seed}<br>{_beyond_summary(s)}{_loss_text(result)}"
    )
    picture = w.Image(value=png_bytes(result.image), format="png",
                      layout=w.Layout(width="200px", height="auto"))
    return w.VBox([picture, w.HTML(f"<small>{text}</small>")],
                  layout=w.Layout(margin="0 12px 0 0", min_width="210px"))


def _beyond_summary(settings):
    """The beyond-the-book settings (the form's "beyond" group) that differ from the book's,
    as an HTML line."""
    beyond = {field.name for field in dataclasses.fields(settings)
              if getattr(field.metadata.get("control"), "group", None) == "beyond"}
    changed = [f"{name.replace('_', ' ')} {value}"
               for name, value in settings.changed_from(BOOK).items() if name in beyond]
    return ", ".join(changed) + "<br>" if changed else ""


def _download_link(image, filename):
    """An HTML link that downloads `image` from the page itself (no server file needed)."""
    encoded = base64.b64encode(png_bytes(image)).decode("ascii")
    return (f'<a download="{filename}" href="data:image/png;base64,{encoded}">'
            f"⬇ download {filename}</a>")
