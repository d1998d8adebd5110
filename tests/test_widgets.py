"""The playground driven headless: set values, click buttons, upload bytes."""

import datetime as dt
import io
import threading

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ipywidgets")

from nst_teach import evaluator, optimize  # noqa: E402
from nst_teach.config import BOOK  # noqa: E402
from nst_teach.form import layer_names  # noqa: E402
from nst_teach.widgets import Playground, decode_upload  # noqa: E402


def small_playground(tmp_path, **changes):
    """A playground on the fast random backbone with tiny images."""
    playground = Playground(results_dir=tmp_path)
    playground.backbone.value = "random"
    playground.height.value = 32
    playground.iterations.value = 2
    playground.maxfun.value = 3
    for name, value in changes.items():
        getattr(playground, name).value = value
    return playground


def png_of(colour, size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(widget, name, content):
    widget.value = ({"name": name, "type": "image/png", "size": len(content),
                     "content": memoryview(content),
                     "last_modified": dt.datetime.now(dt.timezone.utc)},)


def decoded(png):
    return np.asarray(Image.open(io.BytesIO(png)))


def test_run_shows_image_plot_progress_and_keeps_the_run(tmp_path):
    playground = small_playground(tmp_path)
    playground.run_button.click()
    result = playground.wait(timeout=120)

    assert result is not None and not result.stopped
    assert len(result.history.iteration_loss) == 2
    assert playground.progress.value == playground.progress.max == 2
    assert "done after 2 iterations" in playground.status.value
    shown = decoded(playground.image.value)
    assert np.array_equal(shown, result.image)
    assert decoded(playground.plot.value).shape[:2] == (256, 440)  # 5.5 x 3.2 in at 80 dpi
    assert len(playground.gallery.children) == 1
    card_text = playground.gallery.children[0].children[1].value
    assert "run 1" in card_text and "height 32" in card_text and "random" in card_text
    assert playground.message.value == ""
    assert not playground.run_button.disabled and playground.stop_button.disabled
    assert "download nst-run-1.png" in playground.download.value

    playground.tv_weight.value = 1e-2
    playground.run_button.click()
    playground.wait(timeout=120)
    assert len(playground.gallery.children) == 2
    assert "TV 1.0e-02" in playground.gallery.children[1].children[1].value


def test_settings_follow_the_controls():
    playground = Playground()
    playground.content_weight.value = 0.5
    playground.style_layers.value = ("block1_conv1", "block3_conv1")
    playground.seed.value = 7
    settings = playground.settings()
    assert settings.content_weight == pytest.approx(0.5)
    assert settings.style_layers == ("block1_conv1", "block3_conv1")
    assert settings.seed == 7 and settings.backbone == "hed-vgg16"


def test_backbone_change_offers_its_layers_and_keeps_valid_choices():
    playground = Playground()
    playground.backbone.value = "vgg19"
    assert "block5_conv4" in playground.content_layer.options
    playground.content_layer.value = "block5_conv4"
    playground.style_layers.value = ("block1_conv1", "block4_conv4")
    playground.backbone.value = "hed-vgg16"
    assert "block5_conv4" not in playground.content_layer.options
    assert playground.content_layer.value == "block5_conv2"
    assert playground.style_layers.value == ("block1_conv1",)
    assert layer_names("vgg19")[-1] == "block5_conv4" and len(layer_names("vgg19")) == 16
    assert len(layer_names("hed-vgg16")) == 13


def test_stop_ends_the_run_within_one_iteration_and_keeps_an_image(tmp_path, monkeypatch):
    playground = small_playground(tmp_path, iterations=50, maxfun=5)
    first_iteration = threading.Event()
    original = playground.controller._on_round

    def on_round(event):
        first_iteration.set()
        return original(event)

    monkeypatch.setattr(playground.controller, "_on_round", on_round)
    playground.run_button.click()
    assert playground.running and playground.run_button.disabled
    assert first_iteration.wait(timeout=120)
    playground.stop_button.click()
    result = playground.wait(timeout=60)
    assert result.stopped
    assert len(result.history.iteration_loss) <= 2
    assert "stopped" in playground.status.value
    assert result.image.shape == (32, *result.image.shape[1:2], 3)
    assert np.array_equal(decoded(playground.image.value), result.image)


def test_stop_mid_iteration_keeps_the_best_image(tmp_path, monkeypatch):
    """Stop pressed during an iteration ends it at the next evaluation."""
    playground = small_playground(tmp_path, iterations=5, maxfun=50)
    seen = []
    original_loss = evaluator.Evaluator.loss

    def loss(self, x):
        seen.append(self.history.n_evaluations)
        if len(seen) == 4:
            playground.stop()
        return original_loss(self, x)

    monkeypatch.setattr(evaluator.Evaluator, "loss", loss)
    playground.run()
    result = playground.wait(timeout=120)
    assert result.stopped and result.history.n_evaluations == 3  # the 4th was refused
    assert result.history.iteration_loss == []
    assert playground.progress.value == 0
    card_text = playground.gallery.children[-1].children[1].value
    assert "no loss yet" in card_text and "None" not in card_text


def test_upload_becomes_the_content_and_is_used(tmp_path):
    playground = small_playground(tmp_path, iterations=1)
    upload(playground.content_upload, "red.png", png_of((255, 0, 0)))
    assert playground.content.value == "upload: red.png"
    playground.run()
    result = playground.wait(timeout=120)
    assert result.content.shape == (32, 42, 3)  # the upload's 4:3 aspect at height 32
    assert np.all(result.content == (255, 0, 0))


def test_bad_upload_is_reported_and_not_selected(tmp_path):
    playground = small_playground(tmp_path)
    before = playground.style.value
    upload(playground.style_upload, "notes.png", b"this is not a picture")
    assert "cannot read notes.png" in playground.message.value
    assert playground.style.value == before
    with pytest.raises(ValueError, match="cannot read"):
        decode_upload({"name": "x.png", "content": b"\x89PNG broken"})


def test_invalid_settings_are_reported_without_starting(tmp_path):
    playground = small_playground(tmp_path)
    playground.style_layers.value = ()
    playground.run_button.click()
    assert not playground.running and playground.result is None
    assert "style_layers must name at least one layer" in playground.message.value


def test_a_settings_error_marks_the_control_that_fixes_it(tmp_path):
    playground = small_playground(tmp_path)
    playground.style_layers.value = ()
    playground.run_button.click()
    assert not playground.running
    marked = [name for name, widget in playground.form.controls.items()
              if "nst-invalid" in widget._dom_classes]
    assert marked == ["style_layers"]
    assert "style layers: style_layers must name at least one" in playground.message.value
    playground.form.mark(None)
    assert not any("nst-invalid" in w._dom_classes for w in playground.form.controls.values())


def test_errors_inside_the_run_reach_the_ui(tmp_path, monkeypatch):
    playground = small_playground(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("the network is on fire")

    monkeypatch.setattr("nst_teach.runner.transfer", broken)
    playground.run()
    playground.wait(timeout=30)
    assert "the network is on fire" in playground.message.value
    assert not playground.run_button.disabled and playground.stop_button.disabled


def test_save_writes_the_result_and_its_loss_curve(tmp_path):
    playground = small_playground(tmp_path / "out", iterations=1)
    playground.save_button.click()  # disabled in the UI, but a click must not crash
    assert "nothing to save" in playground.message.value
    playground.run()
    result = playground.wait(timeout=120)
    playground.save_button.click()
    saved = tmp_path / "out" / "run-1.png"
    assert np.array_equal(np.asarray(Image.open(saved)), result.image)
    assert (tmp_path / "out" / "run-1-loss.png").stat().st_size > 1000
    assert "saved" in playground.status.value


@pytest.mark.slow
def test_beyond_the_book_controls_reach_the_run(tmp_path):
    playground = small_playground(tmp_path, preserve_color="post", optimizer="adam",
                                  style_scale=1.5, init="noise", pooling="avg")
    playground.run()
    result = playground.wait(timeout=120)
    s = result.settings
    assert (s.preserve_color, s.optimizer, s.style_scale, s.init, s.pooling) == (
        "post", "adam", 1.5, "noise", "avg")
    assert "preserve color post" in playground.gallery.children[-1].children[1].value


def test_fast_model_is_applied_and_bad_files_are_reported(tmp_path):
    from nst_teach import fast

    playground = small_playground(tmp_path)
    playground.fast_model.value = str(tmp_path / "missing.keras")
    playground.apply_button.click()
    assert "no model file" in playground.message.value
    path = tmp_path / "net.keras"
    fast.save_model(fast.build_network(filters=(4, 8, 8), residual_blocks=1), path)
    playground.fast_model.value = str(path)
    playground.apply_button.click()
    assert playground.message.value == "" and "applied net.keras" in playground.status.value
    shown = decoded(playground.image.value)
    assert shown.shape[0] == 32 and shown.shape[2] == 3


def test_fields_without_a_control_keep_their_value():
    from nst_teach import QUICK

    given = QUICK.replace(weights="vgg19.h5", lbfgs_history=50, convolution="direct")
    playground = Playground(given)
    playground.seed.value = 3
    assert playground.settings() == given.replace(seed=3)


def test_a_value_outside_a_sliders_range_widens_it_instead_of_being_clamped():
    from nst_teach import QUICK

    given = QUICK.replace(backbone="hed-vgg16", style_weight=3e7, content_weight=2e-9, height=1200)
    playground = Playground(given)
    assert playground.settings() == given
    playground.form.show(given.replace(style_weight=5e8))
    assert playground.settings().style_weight == pytest.approx(5e8)


def test_a_painterly_preset_takes_the_values_of_the_statistic_chosen(tmp_path):
    from nst_teach.config import PAINTERLY_QUICK_BY_STATISTIC

    playground = Playground(results_dir=tmp_path)
    playground.preset.value = "painterly-quick"
    for statistic, expected in PAINTERLY_QUICK_BY_STATISTIC["hed-vgg16"].items():
        playground.style_statistic.value = statistic
        assert playground.settings() == expected.replace(backbone="hed-vgg16")
        said = playground.message.value.split(": ", 1)[-1]  # only what the new values use
        assert said and not [field for field in expected.unused if f"{field} " in said]


@pytest.mark.slow
def test_the_preset_menu_sets_every_control_and_the_rest(tmp_path):
    from nst_teach.config import PAINTERLY_QUICK

    playground = Playground(results_dir=tmp_path)
    for name in ("book", "painterly-quick"):
        playground.preset.value = name
        expected = PAINTERLY_QUICK["hed-vgg16"] if name != "book" else BOOK
        assert playground.settings() == expected.replace(backbone="hed-vgg16")
    assert "coarse to fine" in playground.message.value
    playground.base = playground.base.replace(stages=((0.5, 3), (1.0, 3)))  # seconds, not a minute
    playground.backbone.value = "random"
    playground.height.value = 32
    playground.run_button.click()
    result = playground.wait(timeout=300)
    assert [h for h, _ in result.stage_histories][-1] == 32 and len(result.stage_histories) == 2
    assert playground.progress.value == playground.progress.max == 2


def test_the_picture_and_curve_update_before_the_first_round_ends(tmp_path, monkeypatch):
    """Live progress: shown every `Throttle.every` evaluations, not only after a round."""
    playground = small_playground(tmp_path, iterations=1, maxfun=12)
    playground.controller._throttle.seconds = 0  # every 3 evaluations, whatever the machine's speed
    shown = []  # (evaluations so far, rounds finished, image shown) at each live update
    original = playground.controller._on_evaluation

    def on_evaluation(event):
        before = playground.image.value
        original(event)
        if playground.image.value is not before:
            shown.append((event.count, len(event.history.iteration_loss), event.image()))

    monkeypatch.setattr(playground.controller, "_on_evaluation", on_evaluation)
    playground.run()
    result = playground.wait(timeout=120)
    assert [count for count, _, _ in shown] == [3, 6, 9, 12][:len(shown)] and len(shown) >= 3
    assert all(rounds == 0 for _, rounds, _ in shown)  # all before the round ended
    assert np.array_equal(decoded(playground.image.value), result.image)
    assert any(not np.array_equal(image, result.content) for _, _, image in shown)  # it moves
    assert "evaluation" in playground.status.value or "done" in playground.status.value


def test_staged_runs_show_progress_within_each_stage(tmp_path):
    playground = small_playground(tmp_path)
    playground.base = playground.base.replace(stages=((0.5, 6), (1.0, 6)))
    playground.controller._throttle.seconds = 0
    heights = []
    playground.image.observe(lambda change: heights.append(decoded(change.new).shape[0]), "value")
    playground.run()
    result = playground.wait(timeout=120)
    assert len(result.stage_histories) == 2
    assert heights[0] < 32 and heights.count(heights[0]) >= 2  # live, in the smaller stage
    assert heights[-1] == 32 and heights.count(32) >= 3  # then live at full size, and the result


def test_displaying_builds_and_traces_in_the_background_and_run_reuses_it(tmp_path, monkeypatch):
    from nst_teach import clear_caches

    clear_caches()  # another test may have traced these sizes already
    playground = small_playground(tmp_path, iterations=1)
    assert playground.prewarm.done is None  # nothing happens before it is shown
    playground._repr_mimebundle_()
    playground.prewarm.wait(timeout=120)
    assert playground.prewarm.done[0] == playground.settings().replace(iterations=1, maxfun=1)
    traced = []  # weighted_losses runs in Python only while a step is traced
    original = evaluator.weighted_losses
    monkeypatch.setattr(evaluator, "weighted_losses",
                        lambda *args: traced.append(1) or original(*args))
    playground.run()
    assert playground.wait(timeout=120) is not None and traced == []
    playground.style_weight.value, playground.tv_weight.value = 10.0, 1e-3  # inputs of the step
    playground.prewarm.wait(timeout=120)
    playground.run()
    assert playground.wait(timeout=120).settings.style_weight == 10.0 and traced == []

    playground.height.value = 48  # a new graph: traced again, in the background
    playground.prewarm.wait(timeout=120)
    assert len(traced) == 1 and playground.prewarm.done[0].height == 48
    playground.run()
    result = playground.wait(timeout=120)
    assert result.image.shape[0] == 48 and len(traced) == 1


def test_a_quick_first_look_shows_first_and_the_run_starts_from_it(tmp_path, monkeypatch):
    playground = small_playground(tmp_path, height=48, iterations=1, maxfun=4)
    playground.first_look_height = 16  # the test's sizes: a small look before 48 px
    assert playground.first_look.value  # on for QUICK, the default
    heights = []
    playground.image.observe(lambda change: heights.append(decoded(change.new).shape[0]), "value")
    starts = []
    original_setup = optimize.setup

    def setup(content, style, settings, **kwargs):
        starts.append((settings.height, kwargs.get("init_image")))
        return original_setup(content, style, settings, **kwargs)

    monkeypatch.setattr(optimize, "setup", setup)
    playground.run()
    result = playground.wait(timeout=120)
    # 19 px, not 16: the portrait content must be 16 px wide for block5
    assert heights[0] == 19 and heights[-1] == 48 and result.image.shape[0] == 48
    assert len(result.history.iteration_loss) == 1  # the run itself is as chosen
    (look_height, look_start), (run_height, run_start) = starts
    assert (look_height, look_start, run_height) == (19, None, 48)
    assert run_start.shape[0] == 19  # the look's picture, which setup resizes to 48 px

    playground.preset.value = "book"
    assert not playground.first_look.value  # the book starts from the content image
    assert not Playground(BOOK.replace(backbone="hed-vgg16")).first_look.value


def test_thumbnails_show_the_chosen_pictures_beside_their_pickers(tmp_path):
    from nst_teach import data

    playground = Playground(results_dir=tmp_path)

    def looks_like(widget, image):
        """The thumbnail is at most 96 px, has the picture's shape and its mean colour."""
        thumbnail = decoded(widget.value)
        assert max(thumbnail.shape[:2]) == 96
        assert thumbnail.shape[1] / thumbnail.shape[0] == pytest.approx(
            image.shape[1] / image.shape[0], rel=0.03)
        np.testing.assert_allclose(thumbnail.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=3)

    looks_like(playground.content_thumbnail, data.example(playground.content.value))
    looks_like(playground.style_thumbnail, data.example(playground.style.value))
    playground.style.value = "swirls"
    looks_like(playground.style_thumbnail, data.example("swirls"))
    playground.content.value = "coffee"  # a landscape photo
    looks_like(playground.content_thumbnail, data.example("coffee"))

    upload(playground.content_upload, "red.png", png_of((255, 0, 0)))
    assert np.all(decoded(playground.content_thumbnail.value) == (255, 0, 0))
    upload(playground.content_upload, "red.png", png_of((0, 0, 255)))  # same name, new picture
    assert np.all(decoded(playground.content_thumbnail.value) == (0, 0, 255))
    looks_like(playground.style_thumbnail, data.example("swirls"))  # the other picker's stays


def test_the_form_has_a_control_for_each_field_that_declares_one():
    import dataclasses

    from nst_teach import Settings

    playground = Playground()
    declared = [f.name for f in dataclasses.fields(Settings) if f.metadata["control"] is not None]
    assert list(playground.form.controls) == declared
    for name in declared:
        field = Settings.__dataclass_fields__[name]
        control = playground.form.controls[name]
        assert control is getattr(playground, name)
        assert control.description == field.metadata["control"].label
        assert control.tooltip == field.metadata["help"]
    assert playground.preserve_color.options == ("none", "luminance", "histogram", "post")
