"""Keeping the content photo's colours (Gatys et al. 2016, "Preserving colour").

Taught in notebook 09 (beyond the book). Three ways, from cheap to thorough:

- `keep_content_colors`: after the run, put the content's chroma under the
  result's luminance (post hoc);
- `match_colors`: before the run, recolour the style image so its colour
  mean and covariance are the content's (histogram matching);
- luminance-only transfer: stylise the luminance channels only
  (`luminance_pair`), then add the content's chroma back.

All work in YIQ, where Y is the luminance and I, Q carry the colour.
"""

from __future__ import annotations

__all__ = [
    "rgb_to_yiq", "yiq_to_rgb", "keep_content_colors", "match_colors", "luminance",
    "luminance_pair",
]

import numpy as np

RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)


def rgb_to_yiq(image):
    """RGB (0-255, any dtype) to float YIQ; Y in 0-255. Taught in notebook 09."""
    return np.asarray(image, dtype=np.float64) @ RGB_TO_YIQ.T


def yiq_to_rgb(yiq):
    """Float YIQ back to a uint8 RGB image (rounded and clipped). Used by `nst_teach.color`."""
    return np.clip(np.round(np.asarray(yiq) @ YIQ_TO_RGB.T), 0, 255).astype(np.uint8)


def keep_content_colors(result, content):
    """The result's luminance with the content's chroma (I, Q): its colours come back.

    Used by `nst_teach.problem`.
    """
    result_yiq, content_yiq = rgb_to_yiq(result), rgb_to_yiq(content)
    if result_yiq.shape != content_yiq.shape:
        raise ValueError(
            f"result {result_yiq.shape[:2]} and content {content_yiq.shape[:2]} must have "
            "the same size: resize the content to the result's size first"
        )
    return yiq_to_rgb(np.concatenate([result_yiq[..., :1], content_yiq[..., 1:]], axis=-1))


def match_colors(style, content, eps=1e-5):
    """`style` recoloured so its pixels have the content's colour mean and covariance.

    x' = A (x - mu_style) + mu_content with A = C_content^(1/2) C_style^(-1/2),
    the symmetric square roots of the two 3x3 colour covariances.

    Taught in notebook 09.
    """
    s = np.asarray(style, dtype=np.float64).reshape(-1, 3)
    c = np.asarray(content, dtype=np.float64).reshape(-1, 3)
    transform = _sqrtm(np.cov(c.T) + eps * np.eye(3)) @ np.linalg.inv(
        _sqrtm(np.cov(s.T) + eps * np.eye(3))
    )
    matched = (s - s.mean(0)) @ transform.T + c.mean(0)
    return np.clip(np.round(matched), 0, 255).astype(np.uint8).reshape(np.shape(style))


def _sqrtm(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T


def luminance(image):
    """The luminance Y as a grey RGB image, ready for the three-channel network.

    Used by `nst_teach.color`.
    """
    return _grey(rgb_to_yiq(image)[..., 0])


def _grey(y):
    y = np.clip(np.round(y), 0, 255).astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=-1)


def luminance_pair(content, style):
    """Grey content and style, the style's luminance matched to the content's mean and spread.

    Used by `nst_teach.problem`.
    """
    content_y = rgb_to_yiq(content)[..., 0]
    style_y = rgb_to_yiq(style)[..., 0]
    style_y = (style_y - style_y.mean()) * (content_y.std() / max(style_y.std(), 1e-6)) + content_y.mean()
    return luminance(content), _grey(style_y)
