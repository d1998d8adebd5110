"""Each loss against an independent NumPy formula."""

import numpy as np
import pytest

from nst_teach import Settings, losses
from nst_teach.backbones import load_backbone
from nst_teach.features import compute_targets, feature_extractor
from nst_teach.evaluator import make_loss_and_grads


def np_gram(f):
    c = f.shape[-1]
    x = f.reshape(-1, c).astype(np.float64)
    g = np.zeros((c, c))
    for i in range(c):
        for j in range(c):
            g[i, j] = np.sum(x[:, i] * x[:, j])
    return g


def test_content_loss_is_sum_of_squares(rng):
    a, b = rng.normal(size=(2, 1, 5, 7, 4))
    assert float(losses.content_loss(a, b)) == pytest.approx(np.sum((a - b) ** 2), rel=1e-5)


def test_gram_matrix_matches_numpy_and_is_symmetric_psd(rng):
    f = rng.normal(size=(1, 6, 5, 8)).astype(np.float32)
    g = losses.gram_matrix(f).numpy()
    np.testing.assert_allclose(g, np_gram(f), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g, g.T, rtol=1e-6)
    assert np.linalg.eigvalsh(g.astype(np.float64)).min() > -1e-3


@pytest.mark.parametrize("normalization", ["book", "paper"])
def test_style_loss_formula(rng, normalization):
    style = rng.normal(size=(1, 4, 6, 3)).astype(np.float32)
    comb = rng.normal(size=(1, 4, 6, 3)).astype(np.float32)
    image_size = (32, 48)  # the book divides by the image's size, not the layer's
    got = losses.style_loss(losses.gram_matrix(style), comb, image_size, normalization)
    squared = np.sum((np_gram(style) - np_gram(comb)) ** 2)
    if normalization == "book":
        expected = squared / (4 * 3**2 * (32 * 48) ** 2)
    else:
        expected = squared / (4 * 3**2 * (4 * 6) ** 2)  # 3 channels, 4x6 positions
    assert float(got) == pytest.approx(expected, rel=1e-4)


def test_total_variation_matches_loop(rng):
    x = rng.normal(size=(1, 5, 6, 3)) * 10
    expected = 0.0
    for i in range(4):
        for j in range(5):
            a = (x[0, i, j] - x[0, i + 1, j]) ** 2
            b = (x[0, i, j] - x[0, i, j + 1]) ** 2
            expected += np.sum((a + b) ** 1.25)
    assert float(losses.total_variation_loss(x)) == pytest.approx(expected, rel=1e-4)


def test_total_variation_of_flat_image_is_zero():
    assert float(losses.total_variation_loss(np.full((1, 8, 8, 3), 7.0))) == 0.0


SMALL = Settings(height=32, backbone="random", content_layer="block3_conv2",
                 style_layers=("block1_conv1", "block2_conv1", "block3_conv1"))


def _loss_and_grads(rng, settings=SMALL, shape=(1, 32, 40, 3)):
    model, _ = load_backbone("random")
    extractor = feature_extractor(model, settings.layers)
    content, style = rng.normal(scale=50, size=(2, *shape)).astype(np.float32)
    targets = compute_targets(extractor, content, style, settings)
    return make_loss_and_grads(extractor, targets, settings, shape), extractor, targets


def test_weighted_losses_match_numpy_on_real_features(rng):
    f, extractor, targets = _loss_and_grads(rng)
    x = rng.normal(scale=50, size=(1, 32, 40, 3)).astype(np.float32)
    parts, _ = f(x.ravel())
    feats = {k: v.numpy() for k, v in extractor(x).items()}
    content = 0.025 * np.sum((feats["block3_conv2"] - targets.content.numpy()) ** 2)
    style = sum(
        np.sum((targets.style[n].numpy() - np_gram(feats[n])) ** 2) / (4 * 9 * (32 * 40) ** 2)
        for n in SMALL.style_layers
    ) / 3
    assert parts["content"] == pytest.approx(content, rel=1e-3)
    assert parts["style"] == pytest.approx(style, rel=1e-3)
    assert parts["total"] == pytest.approx(parts["content"] + parts["style"] + parts["tv"], rel=1e-6)


def test_gradient_matches_finite_differences(rng):
    shape = (1, 16, 16, 3)
    settings = SMALL.replace(height=16, content_layer="block2_conv1",
                             style_layers=("block1_conv1", "block2_conv1"))
    f, _, _ = _loss_and_grads(rng, settings, shape)
    x = rng.normal(scale=30, size=shape).ravel()
    _, grad = f(x)
    h = 0.5
    for index in rng.choice(x.size, 8, replace=False):
        e = np.zeros_like(x)
        e[index] = h
        numeric = (f(x + e)[0]["total"] - f(x - e)[0]["total"]) / (2 * h)
        assert grad[index] == pytest.approx(numeric, rel=0.03, abs=1e-3 * np.abs(grad).max())
