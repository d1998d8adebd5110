"""Colour preservation keeps the content's chroma, measured in YIQ."""

import numpy as np

from nst_teach import color, data, images


def test_yiq_round_trip(rng):
    img = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(color.yiq_to_rgb(color.rgb_to_yiq(img)), img)


def test_keep_content_colors_takes_chroma_from_content_and_luminance_from_result(rng):
    content = images.resize(data.example("grace_hopper"), (40, 34), "bicubic")
    result = images.resize(data.example("swirls"), (40, 34), "bicubic")
    out = color.rgb_to_yiq(color.keep_content_colors(result, content))
    c, r = color.rgb_to_yiq(content), color.rgb_to_yiq(result)
    # Clipping to 0-255 costs a little where the new mix leaves the RGB cube.
    assert np.median(np.abs(out[..., 1:] - c[..., 1:])) < 2
    assert np.median(np.abs(out[..., 0] - r[..., 0])) < 2
    assert np.abs(out[..., 1:] - r[..., 1:]).mean() > 5 * np.abs(out[..., 1:] - c[..., 1:]).mean()


def test_match_colors_gives_the_contents_mean_and_covariance():
    content = images.resize(data.example("grace_hopper"), (64, 55), "bicubic")
    style = data.example("swirls")[::4, ::4]
    matched = color.match_colors(style, content).reshape(-1, 3).astype(float)
    c = content.reshape(-1, 3).astype(float)
    np.testing.assert_allclose(matched.mean(0), c.mean(0), atol=2.0)
    np.testing.assert_allclose(np.cov(matched.T), np.cov(c.T), rtol=0.1, atol=30)


def test_luminance_pair_is_grey_and_matches_brightness():
    content = data.example("grace_hopper")[::4, ::4]
    style = data.example("swirls")[::4, ::4]
    grey_content, grey_style = color.luminance_pair(content, style)
    for grey in (grey_content, grey_style):
        assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert abs(grey_style.mean() - grey_content.mean()) < 1.5
    assert abs(grey_style[..., 0].std() - grey_content[..., 0].std()) < 1.5
