"""Example images: offline, deterministic, and paths always win."""

import numpy as np
import pytest
from PIL import Image

from nst_teach import data
from nst_teach.images import ImageError


@pytest.mark.parametrize("name", data.example_names())
def test_every_example_is_an_rgb_image(name):
    image = data.example(name)
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert min(image.shape[:2]) >= 256


def test_drawn_styles_are_deterministic_and_colourful():
    for draw in (data.draw_cubist, data.draw_swirls, data.draw_mosaic, data.draw_pointillist):
        a, b = draw(size=(96, 64)), draw(size=(96, 64))
        np.testing.assert_array_equal(a, b)
        assert a.shape == (64, 96, 3) and a.std(axis=(0, 1)).min() > 20


def test_paths_win_over_names_and_unknown_names_are_explained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (3, 2), (9, 9, 9)).save(tmp_path / "cubist", format="PNG")  # named like an example
    assert data.image_or_example("cubist").shape == (2, 3, 3)
    with pytest.raises(ImageError, match="neither an image file nor an example"):
        data.image_or_example("van_gogh")
