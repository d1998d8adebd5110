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


# Hardening (issue 14): one rule for image arrays, file objects, safe files.

import io  # noqa: E402

from hypothesis import given, settings as hypothesis_settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 4, 5), np.uint8), r"not \(4, 4, 5\)"),
        (np.zeros((1, 4, 4, 3), np.uint8), "for a batch of one image pass array\\[0\\]"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.full((4, 4, 3), np.nan), "NaN or infinite"),
        (np.full((4, 4, 3), 300), "must lie in 0-255, got 300 to 300"),
        (np.full((4, 4, 3), -2.0), "must lie in 0-1 or in 0-255"),
        (np.array([["a"]]), "holds numbers"),
    ],
)
def test_arrays_that_are_no_image_are_refused_by_load_and_save_alike(tmp_path, array, message):
    with pytest.raises(ImageError, match=message):
        images.load_image(array)
    with pytest.raises(ImageError, match=message):
        images.save_image(array, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    "array, pixel",
    [
        (np.full((3, 4, 3), 0.5), 128),  # floats in 0-1: matplotlib's convention, not black
        (np.full((3, 4, 3), 200.0), 200),  # floats in 0-255
        (np.full((3, 4), 7, np.int64), 7),  # grey, any integer type
        (np.full((3, 4, 1), True), 255),
    ],
)
def test_save_and_load_read_arrays_by_the_same_rule(tmp_path, array, pixel):
    loaded = images.load_image(array)
    assert loaded.shape == (3, 4, 3) and (loaded == pixel).all()
    images.save_image(array, tmp_path / "x.png")
    np.testing.assert_array_equal(images.load_image(tmp_path / "x.png"), loaded)


def test_file_objects_are_read(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (5, 3), (10, 20, 30)).save(buffer, format="PNG")
    buffer.seek(0)
    assert images.load_image(buffer)[0, 0].tolist() == [10, 20, 30]
    with pytest.raises(ImageError, match="cannot read the file object"):
        images.load_image(io.BytesIO(b"not an image"))


def test_save_refuses_a_name_that_is_not_an_image_type(tmp_path):
    with pytest.raises(ImageError, match="cannot save an image as 'x.txt'"):
        images.save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "x.txt")
    assert list(tmp_path.iterdir()) == []


def test_symlink_is_written_through_and_permissions_of_an_existing_file_kept(tmp_path):
    target = tmp_path / "real.png"
    images.save_image(np.zeros((2, 2, 3), np.uint8), target)
    target.chmod(0o640)
    link = tmp_path / "link.png"
    link.symlink_to(target)
    images.save_image(np.full((2, 2, 3), 9, np.uint8), link)
    assert link.is_symlink() and images.load_image(target)[0, 0, 0] == 9
    assert target.stat().st_mode & 0o777 == 0o640


def test_atomic_write_flushes_to_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync"))
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    images.save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "x.png")
    assert events[:2] == ["fsync", "replace"]


def test_loss_curve_is_written_atomically(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from nst_teach.evaluator import History
    from nst_teach.plotting import save_loss_plot

    history = History()
    for name, value in (("total", 2.0), ("content", 1.0), ("style", 1.0), ("tv", 0.0)):
        history.evaluations[name].append(value)
    path = tmp_path / "loss.png"
    path.write_bytes(b"the previous curve")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", fail)
    with pytest.raises(OSError):
        save_loss_plot(history, path)
    assert path.read_bytes() == b"the previous curve" and os.listdir(tmp_path) == ["loss.png"]


def test_the_three_loss_plots_are_drawn_by_one_writer(tmp_path):
    """The command line's, the playground's and fast training's loss PNGs: same writer, same picture."""
    from nst_teach.fast import FastHistory, save_fast_loss_plot
    from nst_teach.evaluator import History
    from nst_teach.plotting import plot_loss_history, plot_png, save_loss_plot
    from nst_teach.widgets import loss_plot_png

    def png(data):
        return np.asarray(Image.open(io.BytesIO(data)))

    history, fast = History(), FastHistory()
    for step, value in enumerate((4.0, 2.0, 1.0)):
        for name in ("total", "content", "style", "tv"):
            history.evaluations[name].append(value)
        fast.add(step, {name: value for name in ("total", "content", "style", "tv")}, 0.1)
    cli = images.load_image(save_loss_plot(history, tmp_path / "cli.png"))
    np.testing.assert_array_equal(cli, png(plot_png(lambda ax: plot_loss_history(history, ax)))[..., :3])
    assert cli.shape[:2] == (400, 700)  # 7 x 4 inches at 100 dpi
    assert png(loss_plot_png(history)).shape[:2] == (256, 440)  # 5.5 x 3.2 inches at 80 dpi
    assert images.load_image(save_fast_loss_plot(fast, tmp_path / "fast.png")).shape[:2] == (400, 700)
    assert sorted(os.listdir(tmp_path)) == ["cli.png", "fast.png"]  # written atomically, no leftovers


def test_check_writable_names_the_reason(tmp_path):
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        images.check_writable(tmp_path / "folder.png")
    images.check_writable(tmp_path / "new" / "deeper" / "ok.png")  # folders will be made
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path) == ["folder.png"]


ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.int16, np.int64, np.float32, np.float64, np.bool_]),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
)  # floats include NaN and infinities


@hypothesis_settings(max_examples=300, deadline=None)
@given(ARRAYS)
def test_fuzz_load_image_arrays_give_rgb_or_image_error(array):
    try:
        out = images.load_image(array)
    except ImageError as error:
        assert str(error)
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert out.shape[:2] == array.shape[:2]
    expected = images.image_array(array)  # the rule's pixels, as save_image reads them too
    if expected.ndim == 2:
        expected = np.repeat(expected[..., None], 3, axis=-1)
    if expected.shape[-1] == 3:  # (with alpha, composited on white)
        np.testing.assert_array_equal(out, expected)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 60))
def test_fuzz_load_image_corrupt_files_give_image_error(tmp_path_factory, data, cut):
    png = io.BytesIO()
    Image.new("RGB", (4, 3), (1, 2, 3)).save(png, format="PNG")
    good = png.getvalue()
    for content in (data, good[:cut] + data, good[: len(good) - cut]):
        path = tmp_path_factory.mktemp("fuzz") / "f.png"
        path.write_bytes(content)
        try:
            out = images.load_image(path)
        except ImageError as error:
            assert "f.png" in str(error)
            continue
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


def test_a_staged_runs_loss_curve_draws_every_stage_one_after_another():
    from matplotlib.figure import Figure

    from nst_teach.evaluator import History
    from nst_teach.plotting import plot_loss_history

    stages = []
    for height, totals in ((64, (8.0, 4.0, 3.0)), (128, (30.0, 20.0))):
        history = History()
        for value in totals:
            for name in ("total", "content", "style", "tv"):
                history.evaluations[name].append(value)
        history.record_iteration(totals[-1], 1.0)
        stages.append((height, history))
    ax = plot_loss_history(stages, Figure().add_subplot())
    total = [line for line in ax.lines if line.get_color() == "black"]
    assert [list(line.get_xdata()) for line in total] == [[1, 2, 3], [4, 5]]
    assert [list(line.get_ydata()) for line in total] == [[8.0, 4.0, 3.0], [30.0, 20.0]]
    boundaries = [line.get_xdata()[0] for line in ax.lines if line.get_color() == "0.6"]
    assert boundaries == [3.5]  # between the last 64-px and the first 128-px evaluation
    assert [text.get_text() for text in ax.texts] == ["64 px", "128 px"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["total", "content", "style", "total variation"]
    empty = plot_loss_history([(64, History())], Figure().add_subplot())
    assert empty.get_title() == "no loss evaluated yet" and not empty.lines


def test_rows_of_pictures_fill_the_width_a_projector_shows():
    """Seven reconstructions in rows of four; a three-picture filmstrip one row of three, not six."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nst_teach.plotting import filmstrip, show_images

    pictures = [np.full((8, 8, 3), 40 * i, np.uint8) for i in range(7)]
    axes = show_images(pictures, [str(i) for i in range(7)], size=2.0, columns=4)
    figure = axes[0].figure
    assert tuple(figure.get_size_inches()) == (8.0, 4.0)
    assert [ax.get_title() for ax in axes if ax.images] == [str(i) for i in range(7)]
    plt.close(figure)
    axes = filmstrip(pictures[:3], columns=6, size=2.0)
    assert tuple(axes[0].figure.get_size_inches()) == (6.0, 2.0) and all(ax.images for ax in axes)
    plt.close(axes[0].figure)
    axes = show_images(pictures[:2], size=3.0)  # the usual single row
    assert tuple(axes[0].figure.get_size_inches()) == (6.0, 3.0)
    plt.close(axes[0].figure)
