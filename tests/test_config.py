"""Settings: the book's defaults and clear errors for bad values."""

import math

import pytest

from nst_teach import BOOK, QUICK, Settings, preset


def test_defaults_are_the_books():
    assert (BOOK.height, BOOK.iterations, BOOK.maxfun) == (400, 20, 20)
    assert (BOOK.content_weight, BOOK.style_weight, BOOK.tv_weight) == (0.025, 1.0, 1e-4)
    assert BOOK.content_layer == "block5_conv2"
    assert BOOK.style_layers == tuple(f"block{i}_conv1" for i in range(1, 6))
    assert BOOK.layers[0] == "block5_conv2" and len(BOOK.layers) == 6


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("content_weight", -1.0, "content_weight must be a finite number >= 0"),
        ("style_weight", math.nan, "style_weight must be a finite number >= 0"),
        ("tv_weight", math.inf, "tv_weight must be a finite number >= 0"),
        ("iterations", 0, "iterations must be an integer >= 1"),
        ("maxfun", 2.5, "maxfun must be an integer >= 1"),
        ("style_layers", (), "style_layers must name at least one layer"),
        ("height", 8, r"height must be >= 16 px"),
        ("normalization", "mine", "normalization must be one of"),
        ("backbone", "resnet", "backbone must be one of"),
    ],
)
def test_invalid_values_name_the_field_and_range(field, value, message):
    with pytest.raises(ValueError, match=message):
        BOOK.replace(**{field: value})


def test_shallow_layers_allow_small_images():
    assert Settings(height=4, content_layer="block3_conv1", style_layers=("block1_conv1",)).height == 4


def test_preset_applies_changes_and_rejects_unknown_names():
    assert preset("quick", height=64).height == 64
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("fancy")


def test_painterly_presets_pick_the_values_of_the_backbone(monkeypatch):
    from nst_teach import backbones
    from nst_teach.config import PAINTERLY

    assert preset("painterly", backbone="hed-vgg16") == PAINTERLY["hed-vgg16"]
    assert preset("painterly", backbone="random").content_weight == PAINTERLY["vgg19"].content_weight
    offline = preset("painterly-quick", backbone="hed-vgg16")
    assert offline.backbone == "hed-vgg16" and offline.height == 256
    assert offline.style_layer_weights == PAINTERLY["hed-vgg16"].style_layer_weights
    # the L-BFGS statistics of painterly-quick are painterly's at half the height ...
    lbfgs, lbfgs_quick = (preset(name, backbone="hed-vgg16", style_statistic="gram")
                          for name in ("painterly", "painterly-quick"))
    assert lbfgs.optimizer == lbfgs_quick.optimizer == "book" and lbfgs_quick.content_layer == lbfgs.content_layer
    assert lbfgs_quick.content_weight == pytest.approx(4 * lbfgs.content_weight)
    # ... while both run their sliced statistic by Adam with an averaged picture, each with its own values
    for settings in (PAINTERLY["hed-vgg16"], offline):
        assert settings.style_statistic == "sliced" and settings.optimizer == "adam" and 0 < settings.adam_average < 1
    assert offline.learning_rate < PAINTERLY["hed-vgg16"].learning_rate
    with pytest.raises(ValueError, match=r"backbones.resolve\('auto'\)"):
        preset("painterly")  # "auto" names no backbone: resolve it first
    monkeypatch.setattr(backbones, "vgg19_available", lambda weights=None: False)
    with pytest.warns(UserWarning, match="hed-vgg16"):
        assert backbones.resolve("auto") == "hed-vgg16"
    monkeypatch.setattr(backbones, "vgg19_available", lambda weights=None: True)
    assert backbones.resolve("auto") == "vgg19" and backbones.resolve("random") == "random"
    with pytest.raises(ValueError, match="backbone must be one of"):
        preset("painterly", backbone="resnet")
    for settings in (*PAINTERLY.values(), preset("painterly-quick", backbone="vgg19")):
        assert settings.stages[-1][0] == 1.0 and settings.resample != "nearest"


# Hardening (issue 14)

import numpy as np  # noqa: E402
from hypothesis import given, settings as hypothesis_settings, strategies as st  # noqa: E402

from nst_teach.config import VGG_LAYERS  # noqa: E402


def test_a_string_of_style_layers_is_a_list_of_names_not_of_letters():
    assert Settings(style_layers="block1_conv1").style_layers == ("block1_conv1",)
    assert Settings(style_layers="block1_conv1,block2_conv1").style_layers == ("block1_conv1", "block2_conv1")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"seed": "abc"}, "seed must be an integer >= 0"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"style_layers": ("block9_conv1",)}, "unknown layer 'block9_conv1'"),
        ({"content_layer": "block1_conv3"}, "unknown layer 'block1_conv3'"),
        ({"content_weight": 0, "style_weight": 0.0, "tv_weight": 0}, "are all 0"),
        ({"content_weight": 0, "tv_weight": 0, "style_layer_weights": (0, 0, 0, 0, 0)}, "are all 0"),
        ({"backbone": "hed-vgg16", "weights": "w.h5"}, "only applies to backbone 'vgg19' or 'auto'"),
        ({"style_blend": 0.5}, "style_blend must be a list or tuple"),
        ({"memory_limit_gb": 0}, "memory_limit_gb must be a finite number > 0"),
        ({"content_weight": 10**400}, "content_weight must be a finite number"),
    ],
)
def test_more_invalid_values_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings(**changes)


def test_numpy_numbers_are_accepted_and_stored_as_python_numbers():
    s = Settings(height=np.int64(64), iterations=np.int32(2), seed=np.uint8(3),
                 style_weight=np.float32(0.5), style_blend=np.array([0.5, 0.5]),
                 style_scale=np.float64(1.5))
    assert (s.height, s.iterations, s.seed) == (64, 2, 3) and type(s.height) is int
    assert s.style_weight == 0.5 and type(s.style_weight) is float
    assert s.style_blend == (0.5, 0.5) and all(type(w) is float for w in s.style_blend)


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.integers(), st.floats(),
    st.text(max_size=20), st.sampled_from(VGG_LAYERS), st.lists(st.floats(), max_size=6),
    st.lists(st.sampled_from(VGG_LAYERS + ("nope",)), max_size=6), st.builds(np.int64, st.integers(-5, 5000)),
    st.builds(np.float32, st.floats(width=32)),
)
FIELDS = [field for field in Settings.__dataclass_fields__]


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4))
def test_fuzz_settings_either_valid_or_a_value_error_naming_the_field(changes):
    try:
        s = Settings(**changes)
    except ValueError as error:
        # the message names a field that was changed (or the weights that together are all 0)
        assert any(name in str(error) for name in (*changes, "layer")), (changes, error)
        return
    # valid: the checked fields have the documented types and ranges
    assert type(s.height) is int and s.height >= 1 and type(s.seed) is int and s.seed >= 0
    assert isinstance(s.style_layers, tuple) and all(name in VGG_LAYERS for name in s.style_layers)
    assert all(np.isfinite(w) and w >= 0 for w in (s.content_weight, s.style_weight, s.tv_weight))
    assert s.replace() == s  # validation is stable: a valid Settings stays valid


def test_changed_from_names_exactly_the_fields_that_differ():
    from nst_teach.config import BOOK, QUICK

    assert QUICK.changed_from(BOOK) == {"height": 192, "iterations": 10, "resample": "bicubic"}
    assert BOOK.changed_from(BOOK) == {}
    moved = BOOK.replace(style_weight=3.0, content_layer="block4_conv2")
    assert moved.changed_from(BOOK) == {"style_weight": 3.0, "content_layer": "block4_conv2"}
    assert BOOK.changed_from(moved) == {"style_weight": BOOK.style_weight, "content_layer": BOOK.content_layer}


def test_changed_from_leaves_out_what_the_settings_ignore():
    """A staged preset's iterations, Adam's step under L-BFGS: values that change nothing."""
    painterly = preset("painterly-quick", backbone="hed-vgg16")
    assert painterly.stages and painterly.optimizer == "adam"
    changed = painterly.changed_from(QUICK)
    assert "iterations" not in changed and painterly.iterations != QUICK.iterations
    assert changed["adam_average"] == painterly.adam_average  # Adam's, which it uses
    assert "adam_average" not in QUICK.changed_from(painterly)  # L-BFGS does not
    assert "lbfgs_history" not in painterly.replace(lbfgs_history=3).changed_from(painterly)
    assert BOOK.replace(sliced_draws=4).changed_from(BOOK) == {}  # only Adam with sliced draws
    assert "sliced_draws" in BOOK.replace(sliced_draws=4, style_statistic="sliced",
                                          optimizer="adam").changed_from(BOOK)
    assert BOOK.replace(sliced_draws=4).changed_from(BOOK, unused=True) == {"sliced_draws": 4}
