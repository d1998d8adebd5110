"""Settings: the book's defaults and clear errors for bad values."""

import math

import pytest

from nst_teach import BOOK, Settings, preset


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
    monkeypatch.setattr(backbones, "vgg19_available", lambda weights=None: False)
    offline = preset("painterly-quick")
    assert offline.backbone == "auto" and offline.height == 256
    assert offline.style_layer_weights == PAINTERLY["hed-vgg16"].style_layer_weights
    monkeypatch.setattr(backbones, "vgg19_available", lambda weights=None: True)
    assert preset("painterly").content_weight == PAINTERLY["vgg19"].content_weight
    with pytest.raises(ValueError, match="backbone must be one of"):
        preset("painterly", backbone="resnet")
    for settings in (*PAINTERLY.values(), preset("painterly-quick", backbone="vgg19")):
        assert settings.stages[-1][0] == 1.0 and settings.resample != "nearest"
