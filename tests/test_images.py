"""Loading every kind of image file, pre/de-processing, atomic saving."""

import os

import numpy as np
import pytest
from PIL import Image

from nst_teach import images
from nst_teach.images import ImageError


def save(tmp_path, image, name, **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return path


def test_preprocess_is_bgr_minus_means_and_deprocess_inverts_it(rng):
    img = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    x = images.preprocess(img)
    assert x.shape == (1, 7, 9, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, ..., 0], img[..., 2] - 103.939, atol=1e-4)
    np.testing.assert_allclose(x[0, ..., 2], img[..., 0] - 123.68, atol=1e-4)
    np.testing.assert_array_equal(images.deprocess(x), img)


def test_deprocess_clips_to_uint8():
    x = np.full((1, 2, 2, 3), 1000.0)
    x[0, 0, 0] = -1000.0
    out = images.deprocess(x)
    assert out.dtype == np.uint8 and out[0, 0].tolist() == [0, 0, 0] and out[1, 1].tolist() == [255] * 3


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGB", "I;16"])
def test_every_mode_loads_as_rgb(tmp_path, mode):
    base = Image.new("RGB", (6, 4), (200, 100, 50))
    image = base.convert(mode) if mode != "I;16" else Image.new("I;16", (6, 4), 65535)
    suffix = ".tif" if mode in ("CMYK", "I;16") else ".png"
    out = images.load_image(save(tmp_path, image, "x" + suffix))
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    if mode == "I;16":
        assert out.min() == 255  # full 16-bit range maps to white, not clipped garbage
    elif mode in ("RGB", "CMYK"):
        np.testing.assert_allclose(out[0, 0], [200, 100, 50], atol=3)
    elif mode == "L":
        assert out[0, 0, 0] == out[0, 0, 1] == out[0, 0, 2]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_composited_on_white(tmp_path, mode):
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    image = rgba.convert(mode) if mode != "P" else rgba.convert("P")
    if mode == "P":
        image.info["transparency"] = image.getpixel((1, 1))
    out = images.load_image(save(tmp_path, image, "t.png", **({"transparency": image.info["transparency"]} if mode == "P" else {})))
    assert out[1, 1].tolist() == [255, 255, 255]
    assert out[0, 0].tolist() != [255, 255, 255]


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (12, 6), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 3, 3))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    out = images.load_image(save(tmp_path, image, "e.jpg", exif=exif, quality=100))
    assert out.shape[:2] == (12, 6)
    assert out[1, -2, 0] > 200 and out[1, 1, 0] < 50  # the red corner moved from top-left to top-right


def test_missing_and_broken_files_name_the_problem(tmp_path):
    with pytest.raises(ImageError, match="no image file"):
        images.load_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="cannot read bad.png"):
        images.load_image(tmp_path / "bad.png")


def test_size_limits_stop_before_decoding(tmp_path, monkeypatch):
    path = save(tmp_path, Image.new("RGB", (100, 80)), "big.png")
    with pytest.raises(ImageError, match="max_pixels"):
        images.load_image(path, max_pixels=5000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="safety limit"):
        images.load_image(path, max_pixels=None)


def test_size_for_height_keeps_aspect_like_the_book():
    assert images.size_for_height(np.zeros((600, 512, 3)), 400) == (400, int(512 * 400 / 600))


def test_save_is_atomic(tmp_path, rng, monkeypatch):
    path = tmp_path / "out.png"
    first = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    images.save_image(first, path)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(OSError):
        images.save_image(first[::-1], path)
    monkeypatch.undo()
    np.testing.assert_array_equal(images.load_image(path), first)
    assert os.listdir(tmp_path) == ["out.png"]  # no temporary file left behind


def test_saved_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = images.save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.png")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not the 0o600 of a temporary file
