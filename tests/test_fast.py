"""Fast style transfer: the network's shapes, saving, a short training run, errors, CLI."""

import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst_teach import fast, images
from nst_teach.cli import main
from nst_teach.images import ImageError

TINY = dict(size=32, batch_size=2, backbone="random", style_size=32, checkpoint_every=1000,
            filters=(4, 8, 8), residual_blocks=1, style_layers=("block1_conv2", "block2_conv2"))


@pytest.fixture(scope="module")
def network():
    return fast.build_network(filters=(4, 8, 8), residual_blocks=1, seed=1)


@pytest.fixture(scope="module")
def style():
    from nst_teach import data

    return images.resize(data.example("swirls"), (48, 48), "bicubic")


@pytest.fixture
def photos(photo):
    return {"a": photo, "b": photo[:, ::-1].copy()}


@pytest.mark.parametrize("size", [(9, 9), (33, 47), (50, 17), (8, 31)])
def test_output_size_equals_input_size_for_odd_sizes(network, rng, size):
    photo = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    out = fast.stylise(network, photo)
    assert out.shape == photo.shape and out.dtype == np.uint8


def test_output_layer_keeps_a_gradient_where_the_plain_tanh_had_none():
    x = tf.constant([[-60.0, -2.0, 0.0, 0.5, 3.0, 60.0]])
    sech2 = 1 / np.cosh(x.numpy()[0].astype(np.float64)) ** 2  # float64: cosh(60)^2 overflows float32
    for activation, leak in (("leaky_tanh", 0.05), ("tanh", 0.0)):
        layer = fast.ToPixels(activation)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        gradient = tape.gradient(y, x).numpy()[0]
        assert np.allclose(y.numpy(), 127.5 * (np.tanh(x.numpy()) + leak * x.numpy() + 1), rtol=1e-6)
        assert np.allclose(gradient, 127.5 * (sech2 + leak), rtol=1e-5, atol=1e-30)
    # the plain tanh's gradient is exactly 0 at the blotches' pre-activations
    assert gradient[-1] == 0 and gradient[-2] > 0
    assert fast.build_network(filters=(4, 8, 8), residual_blocks=1).get_layer(
        "pixels").activation == "leaky_tanh"


def test_networks_saved_with_the_old_tanh_output_load_unchanged():
    config = fast.ToPixels(name="pixels").get_config()
    del config["activation"]  # what a file written before the linear layer holds
    assert fast.ToPixels.from_config(config).activation == "tanh"
    with pytest.raises(ValueError, match="activation must be 'leaky_tanh' or 'tanh'"):
        fast.ToPixels("relu")


def test_too_small_photo_is_a_clear_error(network):
    with pytest.raises(ImageError, match="at least 8 px"):
        fast.stylise(network, np.zeros((5, 40, 3), np.uint8))


def test_save_load_round_trip_reproduces_outputs_exactly(network, tmp_path, rng):
    x = rng.uniform(0, 255, (1, 21, 35, 3)).astype(np.float32)
    path = fast.save_model(network, tmp_path / "m.keras", {"step": 7})
    loaded = fast.load_model(path)
    assert loaded.nst_info == {"step": 7}
    assert np.array_equal(network(x).numpy(), loaded(x).numpy())
    assert not list(tmp_path.glob(".m-*"))  # the temporary file is gone


@pytest.mark.slow
def test_short_training_lowers_the_style_loss_below_the_photos(style, photos):
    settings = fast.FastSettings(**TINY, steps=40, learning_rate=5e-3, style_weight=20.0)
    result = fast.train(style, photos, settings)
    loss, _ = fast.make_loss(style, settings)
    batch = tf.constant(fast.PhotoSampler(photos, 32, seed=5).batch(4))
    before = float(loss(batch, batch)["style"])
    after = float(loss(batch, result.model(batch))["style"])
    assert after < 0.8 * before
    assert result.step == 40 and len(result.history.steps) == 40


def test_stop_keeps_a_checkpoint_and_resume_continues(style, photos, tmp_path):
    out = tmp_path / "net.keras"
    settings = fast.FastSettings(**TINY, steps=4)
    first = fast.train(style, photos, settings, output=out, on_event=lambda event: event.step == 2)
    assert first.stopped and first.step == 2 and out.is_file()
    assert (tmp_path / "net_loss.png").is_file()
    again = fast.train(style, photos, settings, output=out, resume=True)
    assert not again.stopped and again.step == 4
    assert fast.load_model(out).nst_info["history"]["steps"] == [1, 2, 3, 4]


@pytest.mark.slow
def test_ctrl_c_keeps_the_network_trained_so_far(style, photos, tmp_path):
    out = tmp_path / "net.keras"

    def interrupt(event):
        if event.step == 2:
            raise KeyboardInterrupt

    result = fast.train(style, photos, fast.FastSettings(**TINY, steps=5), output=out,
                        on_event=interrupt)
    assert result.stopped and fast.load_model(out).nst_info["step"] == 2


def test_bad_model_files_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="no model file"):
        fast.load_model(tmp_path / "missing.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a valid .keras archive"):
        fast.load_model(junk)
    wrong = tmp_path / "model.h5"
    wrong.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a .keras file"):
        fast.load_model(wrong)
    other = tmp_path / "dense.keras"
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(other)
    with pytest.raises(ValueError, match="not a style network"):
        fast.load_model(other)
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("config.json", "{nonsense")
    with pytest.raises(ValueError, match="cannot load broken.keras"):
        fast.load_model(broken)


def test_bad_image_folders_name_the_problem(tmp_path, photo):
    with pytest.raises(ImageError, match="no folder"):
        fast.photos_from_folder(tmp_path / "nope")
    with pytest.raises(ImageError, match="no image files"):
        fast.photos_from_folder(tmp_path)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning, match="skipping bad.jpg"), \
            pytest.raises(ImageError, match="could be read"):
        fast.photos_from_folder(tmp_path)
    images.save_image(photo, tmp_path / "good.png")
    with pytest.warns(UserWarning):
        assert list(fast.photos_from_folder(tmp_path)) == ["good.png"]


def test_settings_are_validated():
    with pytest.raises(ValueError, match="size must be an integer >= 16"):
        fast.FastSettings(size=8)
    with pytest.raises(ValueError, match="style_weight must be a finite number"):
        fast.FastSettings(style_weight=-1)


def _relative_gram_error(style_features, output_features):
    """||G_s / M_s - G_o / M_o||^2 / ||G_s / M_s||^2 in numpy (per-position Grams)."""
    gram = lambda f: f.reshape(-1, f.shape[-1]).T @ f.reshape(-1, f.shape[-1]) / (  # noqa: E731
        f.shape[0] * f.shape[1])
    g_s, g_o = gram(np.float64(style_features)), gram(np.float64(output_features))
    return np.sum((g_s - g_o) ** 2) / np.sum(g_s**2)


def test_style_term_is_the_mean_of_relative_gram_errors(style, rng):
    layers = TINY["style_layers"]
    settings = fast.FastSettings(**TINY, content_weight=0, tv_weight=0, style_weight=2)
    loss, _ = fast.make_loss(style, settings)
    outputs = tf.constant(rng.uniform(0, 255, (2, 32, 32, 3)), tf.float32)
    style_features = loss.features(fast.vgg_input(tf.constant(images.resize(
        style, (32, 32), "bicubic")[None], tf.float32)))  # make_loss: shorter side = style_size
    out_features = loss.features(fast.vgg_input(outputs))
    expected = 2 * np.mean([  # style_weight x the mean over images and layers
        [_relative_gram_error(style_features[n].numpy()[0], out_features[n].numpy()[i])
         for n in layers] for i in range(2)])
    assert float(loss(outputs, outputs)["style"]) == pytest.approx(expected, rel=1e-4)


@pytest.mark.slow
def test_cli_trains_and_applies(tmp_path, photo, capsys):
    folder = tmp_path / "photos"
    images.save_image(photo, folder / "p.png")
    model = tmp_path / "m.keras"
    code = main(["train-fast", "swirls", "--images", str(folder), "-o", str(model), "--size", "32",
                 "--steps", "2", "--batch-size", "1", "--backbone", "random", "--quiet",
                 "--style-size", "32"])
    assert code == 0 and model.is_file()
    assert "done:" in capsys.readouterr().out
    out = tmp_path / "out.png"
    assert main(["apply-fast", str(model), "chelsea", "-o", str(out), "--max-side", "45"]) == 0
    assert images.load_image(out).shape[1] == 45


@pytest.mark.parametrize(
    "args, message",
    [
        (["train-fast", "swirls", "--images", "/nonexistent", "-o", "m.keras"], "no folder"),
        (["train-fast", "swirls", "-o", "m.h5"], "must end in .keras"),
        (["train-fast", "nope.jpg", "-o", "m.keras"], "neither an image file nor an example"),
        (["train-fast", "swirls", "-o", "m.keras", "--size", "4"], "size must be"),
        (["apply-fast", "missing.keras", "chelsea", "-o", "o.png"], "no model file"),
    ],
)
def test_cli_bad_input_gives_one_line_error(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
