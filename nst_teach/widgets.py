"""The playground: every setting of a run as a control, with live feedback.

Taught in notebook 07. Display it with ``Playground()`` as the last line of a
cell. Press Run and the transfer goes on in a background thread, so the
notebook stays usable and the Stop button is heard: Stop ends the run at its
next loss evaluation and keeps the best image so far.

Why only trait updates from the thread: a widget's value (an image's bytes, a
progress bar's count) reaches the browser as a comm message, which ipykernel
sends safely from any thread. Printing or ``with output_widget:`` from a
thread is another matter: since ipykernel 7 such output goes to whichever
cell is current, not to the widget. So the run never prints; it sets
`Image.value`, `HTML.value` and `Box.children`.
"""

from __future__ import annotations

__all__ = ["layer_names", "png_bytes", "loss_plot_png", "decode_upload", "Playground", "Prewarm"]

import base64
import html
import io
import threading
import time
from functools import partial
from pathlib import Path

import ipywidgets as w
import numpy as np
from PIL import Image

from . import data, images
from .config import (BACKBONES, COLOUR_MODES, INITS, NORMALIZATIONS, OPTIMIZERS, POOLINGS,
                     BOOK, PRESETS, QUICK, preset, vgg_layer_names)
from .optimize import transfer, warm_up
from .plotting import plot_loss_history, plot_png
from .progress import Throttle
from .schedule import FIRST_LOOK, first_look

UPLOAD = "upload: "


def layer_names(backbone):
    """Convolution layer names of a backbone, without building it.

    ``auto`` may become VGG16 (hed-vgg16), so it offers the layers both share.

    Used by `nst_teach.widgets`.
    """
    return list(vgg_layer_names("vgg19" if backbone in ("vgg19", "random") else "vgg16"))


def png_bytes(image):
    """An RGB uint8 array as PNG file bytes, what `ipywidgets.Image` shows.

    Used by `nst_teach.widgets`.
    """
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def loss_plot_png(history):
    """The loss curve of `history` as PNG bytes, drawn without pyplot (thread-safe).

    Used by `nst_teach.widgets`.
    """
    def draw(ax):
        if history.n_evaluations:
            plot_loss_history(history, ax, title="Loss (weighted components)")
        else:
            ax.set_title("no loss evaluated yet")

    return plot_png(draw, figsize=(5.5, 3.2), dpi=80)


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


def _log_slider(description, value, low, high):
    return w.FloatLogSlider(value=value, base=10, min=low, max=high, step=0.1,
                            description=description, readout_format=".1e")


class Prewarm:
    """Runs the latest requested warm-up in one background thread, skipping stale ones.

    A slider dragged across ten heights asks ten times; only the one asked
    last (and the one already going) is done. Errors are ignored: the same
    settings fail again, visibly, when Run is pressed.

    Used by `nst_teach.widgets`.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._wanted = None  # (key, job)
        self._done = None  # the key of the last warm-up done
        self._thread = None

    def request(self, key, job):
        with self._lock:
            self._wanted = None if key == self._done else (key, job)  # back to what is built
            if self._wanted is None:
                return
            if self._thread is None:  # the loop sets it to None, under the lock, as it ends
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="nst-prewarm")
                self._thread.start()

    def _loop(self):
        while True:
            with self._lock:
                if self._wanted is None:
                    self._thread = None
                    return
                key, job = self._wanted
                self._wanted = None
            try:
                job()
            except Exception:  # noqa: BLE001 -- reported by the run itself
                key = None
            with self._lock:
                self._done = key

    def wait(self, timeout=None):
        """Block until what was requested is done (the latest request is the current settings)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    @property
    def done(self):
        return self._done


class Playground:
    """Controls for one style-transfer run, live feedback, and the runs so far.

    `settings` gives the starting values (default: `QUICK` on the offline
    backbone); the preset menu replaces them. Fields without a control keep
    their value from there. Finished runs are kept in `results` and saved into
    `results_dir` by the Save button. Once displayed, it builds the network
    and traces the step for the current settings in the background (again
    after each change), so that Run starts computing at once.

    Taught in notebook 07.
    """

    def __init__(self, settings=None, results_dir="playground-results"):
        self.base = settings or QUICK.replace(backbone="hed-vgg16")
        self.results_dir = Path(results_dir)
        self.uploads = {}
        self.results = []
        self.result = None
        self._thread = None
        self._evaluator = None
        self._stop_requested = False
        self._unit = "iteration"
        self._throttle = Throttle()
        self.prewarm, self._displayed = Prewarm(), False
        self.first_look_height = FIRST_LOOK[0]
        self._build_controls(self.base)
        self._build_outputs()
        self.widget = self._layout()
        for name in ("content", "style", "preset", *CONTROLLED):
            getattr(self, name).observe(lambda _: self.prepare(), "value")

    # --- building -----------------------------------------------------------

    def _build_controls(self, s):
        photos = list(data.content_names())
        self.content = w.Dropdown(options=photos, value=photos[0], description="content")
        self.style = w.Dropdown(options=[*data.STYLES, *photos], value=data.STYLES[0],
                                description="style")
        self.content_upload = w.FileUpload(accept="image/*", description="content file")
        self.style_upload = w.FileUpload(accept="image/*", description="style file")
        self.content_upload.observe(partial(self._on_upload, target=self.content), "value")
        self.style_upload.observe(partial(self._on_upload, target=self.style), "value")
        self.height = w.IntSlider(value=s.height, min=32, max=800, step=16, description="height")
        self.iterations = w.IntSlider(value=s.iterations, min=1, max=50, description="iterations")
        self.maxfun = w.IntSlider(value=s.maxfun, min=1, max=100, description="maxfun")
        self.content_weight = _log_slider("content w", s.content_weight, -7, 3)
        self.style_weight = _log_slider("style w", s.style_weight, -4, 4)
        self.tv_weight = _log_slider("TV w", s.tv_weight, -8, 0)
        self.backbone = w.Dropdown(options=BACKBONES, value=s.backbone, description="backbone")
        self.normalization = w.Dropdown(options=NORMALIZATIONS, value=s.normalization,
                                        description="style norm")
        names = layer_names(s.backbone)
        self.content_layer = w.Dropdown(options=names, value=s.content_layer,
                                        description="content layer")
        self.style_layers = w.SelectMultiple(options=names, value=s.style_layers,
                                             rows=8, description="style layers")
        self.backbone.observe(self._on_backbone, "value")
        self.seed = w.IntText(value=s.seed, description="seed")
        book = s.replace(backbone=BOOK.backbone, weights=None) == BOOK  # the book's start
        self.first_look = w.Checkbox(value=not book, indent=False,
                                     description=f"quick first look ({FIRST_LOOK[0]} px)")
        self.preset = w.Dropdown(options=("(as given)", *PRESETS), value="(as given)",
                                 description="preset")
        self.preset.observe(self._on_preset, "value")
        self._build_beyond(s)
        self.run_button = w.Button(description="Run", button_style="success", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop",
                                    disabled=True)
        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        for control in (self.content, self.style, self.height, self.iterations, self.maxfun,
                        self.content_weight, self.style_weight, self.tv_weight, self.backbone,
                        self.normalization, self.content_layer, self.style_layers, self.seed,
                        self.preset):
            control.style.description_width = "100px"  # long enough for every label

    def _build_beyond(self, s):
        """Controls from notebook 09, and applying a network trained by `nst_teach.fast`."""
        self.preserve_colour = w.Dropdown(options=COLOUR_MODES, value=s.preserve_colour,
                                          description="keep colour")
        self.init = w.Dropdown(options=INITS, value=s.init, description="start from")
        self.style_scale = w.FloatSlider(value=s.style_scale, min=0.25, max=4.0, step=0.25,
                                         description="style scale")
        self.pooling = w.Dropdown(options=POOLINGS, value=s.pooling, description="pooling")
        self.optimizer = w.Dropdown(options=OPTIMIZERS, value=s.optimizer, description="optimiser")
        self.fast_model = w.Text(placeholder="a .keras file from nst-teach train-fast",
                                 description="fast model")
        self.apply_button = w.Button(description="Apply to content", icon="bolt")
        self.apply_button.on_click(lambda _: self.apply_fast_model())
        for control in (self.preserve_colour, self.init, self.style_scale, self.pooling,
                        self.optimizer, self.fast_model):
            control.style.description_width = "100px"

    def _build_outputs(self):
        self.progress = w.IntProgress(value=0, min=0, max=1, description="progress")
        self.status = w.HTML("Press Run to start.")
        self.message = w.HTML("")
        # A fixed width scales small images up; height follows the aspect ratio.
        self.image = w.Image(format="png", layout=w.Layout(width="360px", height="auto"))
        self.plot = w.Image(format="png", layout=w.Layout(width="440px", height="auto"))
        self.save_button = w.Button(description="Save", icon="save", disabled=True)
        self.save_button.on_click(lambda _: self.save())
        self.download = w.HTML("")
        self.gallery = w.HBox(layout=w.Layout(overflow="auto"))

    def _layout(self):
        pictures = w.VBox([self.content, self.content_upload, self.style, self.style_upload])
        sizes = w.VBox([self.preset, self.height, self.iterations, self.maxfun, self.seed,
                        self.backbone])
        weights = w.VBox([self.content_weight, self.style_weight, self.tv_weight,
                          self.normalization])
        layers = w.VBox([self.content_layer, self.style_layers])
        buttons = w.HBox([self.run_button, self.stop_button, self.first_look, self.progress,
                          self.status])
        beyond = w.Accordion(children=[w.HBox([
            w.VBox([self.preserve_colour, self.init, self.style_scale]),
            w.VBox([self.pooling, self.optimizer, w.HBox([self.fast_model, self.apply_button])]),
        ])], titles=("Beyond the book (notebooks 08 and 09)",))
        return w.VBox([
            w.HBox([pictures, sizes]), w.HBox([weights, layers]), beyond, buttons, self.message,
            w.HBox([self.image, self.plot], layout=w.Layout(align_items="flex-start")),
            w.HBox([self.save_button, self.download]),
            w.HTML("<b>Runs so far</b>"), self.gallery,
        ])

    def _repr_mimebundle_(self, **kwargs):
        self._displayed = True
        self.prepare()
        return self.widget._repr_mimebundle_(**kwargs)

    def prepare(self):
        """Build the network and trace the step for the current settings, in the background.

        Called when the playground is displayed and after each change of a
        control; a run reuses what it built (`nst_teach.optimize.warm_up`).
        """
        if not self._displayed or self.running:
            return
        try:
            settings = self.settings()
        except ValueError:  # reported when Run is pressed
            return
        names = (self.content.value, self.style.value)
        graph = settings.replace(iterations=1, maxfun=1)  # these two change no graph
        key = (graph, *names, self.first_look.value, self.first_look_height)
        self.prewarm.request(key, partial(self._warm_up, names, settings))

    def _warm_up(self, names, settings):
        content, style = map(self._image, names)  # drawing an example style takes a second
        look = self._look(settings, content)
        for each in (look, settings) if look else (settings,):
            warm_up(content, style, each)

    def _look(self, settings, content):
        """The settings of the quick first look, or None (off, or the run is as small)."""
        wanted = self.first_look.value and settings.height > 1.5 * self.first_look_height
        return first_look(settings, content, self.first_look_height) if wanted else None

    # --- reacting to the controls ---------------------------------------------

    def _on_backbone(self, change):
        names = layer_names(change.new)
        content = self.content_layer.value if self.content_layer.value in names else "block5_conv2"
        style = tuple(name for name in self.style_layers.value if name in names)
        self.content_layer.options, self.content_layer.value = names, content
        self.style_layers.options, self.style_layers.value = names, style

    def _on_preset(self, change):
        if change.new not in PRESETS:
            return
        self.base = preset(change.new, backbone=self.backbone.value)
        self.first_look.value = change.new != "book"
        for name in CONTROLLED:
            if name != "backbone":
                getattr(self, name).value = getattr(self.base, name)
        self.message.value = (f"coarse to fine: {_stages_text(self.base.stages)} "
                              "(iterations and maxfun are not used)" if self.base.stages else "")

    def _on_upload(self, change, target):
        for item in change.new:
            try:
                image = decode_upload(item)
            except images.ImageError as error:
                self._error(error)
                continue
            key = UPLOAD + item["name"]
            self.uploads[key] = image
            if key not in target.options:
                target.options = [*target.options, key]
            target.value = key
            self.message.value = ""

    def _image(self, name):
        return self.uploads[name] if name.startswith(UPLOAD) else data.example(name)

    def settings(self):
        """The `Settings` the controls describe (raises `ValueError` if invalid).

        The preset (or the settings given) with each control's value in place:
        a field without a control keeps its value.
        """
        changes = {name: getattr(self, name).value for name in CONTROLLED}
        if changes["style_layers"] != self.base.style_layers:
            changes["style_layer_weights"] = None  # one weight per layer no longer fits
        return self.base.replace(**changes)

    def apply_fast_model(self):
        """Stylise the content image with a trained feed-forward network (notebook 08)."""
        from . import fast

        try:
            model = fast.load_model(self.fast_model.value.strip())
            start = time.perf_counter()
            image = fast.stylise(model, self._image(self.content.value), max_side=self.height.value)
        except ValueError as error:  # bad model file or image; ImageError is a ValueError too
            self._error(error)
            return
        self.message.value = ""
        self.image.value = png_bytes(image)
        self.status.value = (f"applied {html.escape(Path(self.fast_model.value).name)} "
                             f"in {time.perf_counter() - start:.2f} s")

    # --- running ----------------------------------------------------------------

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def run(self):
        """Start a run in a background thread with the current settings."""
        if self.running:
            self._error("a run is already going: press Stop first")
            return
        try:
            settings = self.settings()
            content, style = self._image(self.content.value), self._image(self.style.value)
        except ValueError as error:  # invalid settings; ImageError is a ValueError too
            self._error(error)
            return
        self.message.value = ""
        self._stop_requested, self._evaluator = False, None
        self.progress.max = len(settings.stages) if settings.stages else settings.iterations
        self.progress.value = 0
        self._unit = "stage" if settings.stages else "iteration"
        self.status.value = "loading the network and computing the targets…"
        self._set_running(True)
        names = (self.content.value, self.style.value)
        self._thread = threading.Thread(target=self._work, args=(content, style, settings, names),
                                        daemon=True, name="nst-playground")
        self._thread.start()

    def stop(self):
        """End the run at its next loss evaluation; the best image so far is kept."""
        self._stop_requested = True
        if self._evaluator is not None:
            self._evaluator.stop()
        if self.running:
            self.status.value = "stopping…"

    def wait(self, timeout=None):
        """Block until the current run has finished (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _work(self, content, style, settings, names):
        start = time.perf_counter()
        try:
            self.prewarm.wait()  # it builds what this run needs: not twice at once
            look = self._first_look(content, style, settings)
            if look is not None and self._stop_requested:
                result = look
            else:
                self._throttle.start()
                result = transfer(content, style, settings, callback=self._on_iteration,
                                  evaluator_hook=self._hook, on_evaluation=self._on_evaluation,
                                  init_image=None if look is None else look.image)
        except Exception as error:  # shown in the UI: the thread has no one else to tell
            self._error(error)
        else:
            self._finish(result, names, time.perf_counter() - start)
        finally:
            self._set_running(False)

    def _first_look(self, content, style, settings):
        """A small quick run whose picture shows at once; the full run starts from it."""
        look_settings = self._look(settings, content)
        if look_settings is None:
            return None
        self._throttle.start()
        look = transfer(content, style, look_settings, evaluator_hook=self._hook,
                        on_evaluation=self._on_evaluation)
        self.image.value = png_bytes(look.image)
        self.status.value = f"first look at {look.image.shape[0]} px; now at {settings.height} px…"
        return look

    def _hook(self, evaluator):
        self._evaluator = evaluator
        if self._stop_requested:
            evaluator.stop()

    def _on_evaluation(self, event):
        """Show the best image and the loss curve so far, every few evaluations."""
        if not self._throttle():
            return
        self.image.value = png_bytes(event.image())
        self.plot.value = loss_plot_png(event.history)
        stage = f"stage {event.stage + 1}, " if self._unit == "stage" else ""
        self.status.value = (f"{stage}height {event.height} · evaluation {event.count} · "
                             f"loss {event.loss:.4g}"
                             f"{' · stopping…' if self._stop_requested else ''}")

    def _on_iteration(self, iteration, loss, image):
        history = self._evaluator.history
        self.image.value = png_bytes(image)
        self.plot.value = loss_plot_png(history)
        self.progress.value = iteration + 1
        self.status.value = (
            f"{self._unit} {iteration + 1}/{self.progress.max} · "
            f"{history.iteration_seconds[-1]:.2f} s per iteration · loss {loss:.4g}"
        )
        return self._stop_requested

    def _finish(self, result, names, seconds):
        self.result = result
        self.results.append(result)
        self.image.value = png_bytes(result.image)
        self.plot.value = loss_plot_png(result.history)
        done = len(result.history.iteration_loss)
        how = "stopped" if result.stopped else "done"
        self.status.value = (f"{how} after {done} iterations ({result.history.n_evaluations} "
                             f"evaluations) in {seconds:.1f} s")
        self.download.value = _download_link(result.image, f"nst-run-{len(self.results)}.png")
        self.gallery.children = (*self.gallery.children, self._card(result, names, len(self.results)))

    def _card(self, result, names, number):
        s = result.settings
        text = (
            f"<b>run {number}</b> ({result.backbone}{', stopped' if result.stopped else ''})<br>"
            f"{html.escape(names[0])} × {html.escape(names[1])}<br>"
            f"height {s.height}, "
            f"{_stages_text(s.stages) if s.stages else f'{s.iterations}×{s.maxfun} evals'}<br>"
            f"content {s.content_weight:.1e} · style {s.style_weight:.1e} · TV {s.tv_weight:.1e}<br>"
            f"{s.content_layer} / {len(s.style_layers)} style layers, {s.normalization}, "
            f"seed {s.seed}<br>{_beyond_summary(s)}final loss {result.loss if result.loss is None else f'{result.loss:.4g}'}"
        )
        picture = w.Image(value=png_bytes(result.image), format="png",
                          layout=w.Layout(width="200px", height="auto"))
        return w.VBox([picture, w.HTML(f"<small>{text}</small>")],
                      layout=w.Layout(margin="0 12px 0 0", min_width="210px"))

    def save(self):
        """Write the latest result and its loss curve into `results_dir`."""
        if self.result is None:
            self._error("nothing to save yet: run first")
            return None
        stem = self.results_dir / f"run-{len(self.results)}"
        path = images.save_image(self.result.image, stem.with_suffix(".png"))
        (stem.parent / f"{stem.name}-loss.png").write_bytes(loss_plot_png(self.result.history))
        self.status.value = f"saved {html.escape(str(path))}"
        return path

    def _set_running(self, running):
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.save_button.disabled = running or self.result is None

    def _error(self, error):
        self.message.value = (
            f'<div style="color:#b00020"><b>Problem:</b> {html.escape(str(error))}</div>'
        )


CONTROLLED = ("height", "iterations", "maxfun", "content_weight", "style_weight", "tv_weight",
              "content_layer", "style_layers", "normalization", "backbone", "seed",
              "preserve_colour", "init", "style_scale", "pooling", "optimizer")
"""The `Settings` fields that have a control (named like the field)."""


def _stages_text(stages):
    return ", ".join(f"{evaluations} evaluations at {fraction:g}" for fraction, evaluations in stages)


def _beyond_summary(settings):
    """The beyond-the-book settings that differ from the book's, as an HTML line."""
    changed = [f"{name.replace('_', ' ')} {getattr(settings, name)}"
               for name in ("preserve_colour", "init", "style_scale", "pooling", "optimizer")
               if getattr(settings, name) != getattr(QUICK, name)]
    return ", ".join(changed) + "<br>" if changed else ""


def _download_link(image, filename):
    """An HTML link that downloads `image` from the page itself (no server file needed)."""
    encoded = base64.b64encode(png_bytes(image)).decode("ascii")
    return (f'<a download="{filename}" href="data:image/png;base64,{encoded}">'
            f"⬇ download {filename}</a>")
