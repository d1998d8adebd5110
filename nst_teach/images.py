"""Loading, resizing, VGG pre/de-processing and saving of images.

Taught in notebook 02 (images and VGG19).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# The ImageNet channel means in BGR order, as Keras' VGG preprocessing uses them.
IMAGENET_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)

MAX_PIXELS = 50_000_000
"""Largest image (width x height) that `load_image` accepts by default."""

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


class ImageError(ValueError):
    """An image file that cannot be used, with the reason and the fix."""


def load_image(source, max_pixels=MAX_PIXELS):
    """Read an image file as an RGB uint8 array of shape (H, W, 3).

    EXIF orientation is applied; grey, palette, CMYK and 16-bit images become
    RGB; transparency is composited on white. Images above `max_pixels` raise
    `ImageError` before they are decoded, so a huge file cannot freeze the
    machine. `source` may also be a PIL image or an array, which pass through
    the same conversion.
    """
    if isinstance(source, np.ndarray):
        return _to_rgb(Image.fromarray(_as_uint8(source)))
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"no image file at {str(path)!r}: check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(image.size, max_pixels, path)
                image.load()
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(
            f"{path.name} is too large for Pillow's safety limit ({error}); "
            "resize it first or pass a larger max_pixels"
        ) from None
    except (OSError, SyntaxError) as error:  # Pillow's errors for unreadable files
        raise ImageError(f"cannot read {path.name} as an image: {error}") from None


def _check_size(size, max_pixels, path):
    width, height = size
    if max_pixels and width * height > max_pixels:
        raise ImageError(
            f"{path.name} is {width}x{height} = {width * height:,} pixels, more than "
            f"max_pixels={max_pixels:,}; resize it first or pass a larger max_pixels"
        )


def _as_uint8(array):
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating) and array.max(initial=0) <= 1.0:
        array = array * 255.0
    return np.clip(np.round(array), 0, 255).astype(np.uint8)


def _to_rgb(image):
    """Any Pillow mode to an RGB uint8 array, alpha composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16- and 32-bit greyscale: scale the full range down to 8 bits.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.uint8(np.round(array / top * 255)))
    elif image.mode == "F":
        image = Image.fromarray(_as_uint8(np.asarray(image)))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return np.array(image.convert("RGB"), dtype=np.uint8)


def size_for_height(image, height):
    """(height, width) for `image` scaled to `height`, keeping its aspect.

    This is the book's rule: `width = int(original_width * height / original_height)`.
    """
    original_height, original_width = np.shape(image)[:2]
    return height, max(1, int(original_width * height / original_height))


def resize(image, size, resample="bicubic"):
    """`image` (H, W, 3 uint8) resized to `size` = (height, width)."""
    height, width = size
    pil = Image.fromarray(image).resize((width, height), _RESAMPLE[resample])
    return np.asarray(pil)


def preprocess(image):
    """RGB uint8 (H, W, 3) to the VGG input: BGR float32 minus the ImageNet means.

    Adds a batch axis, so the result has shape (1, H, W, 3). This is what
    `keras.applications.vgg19.preprocess_input` does (the "caffe" mode).
    """
    bgr = np.asarray(image, dtype=np.float32)[..., ::-1]
    return (bgr - IMAGENET_MEAN_BGR)[None]


def deprocess(x):
    """The exact inverse of `preprocess`, clipped to a uint8 RGB image.

    Accepts (H, W, 3) or (1, H, W, 3). The book truncates with `astype`; we
    round first, so that float32 noise (4.9999995 for 5) cannot turn a pixel
    value into its neighbour and `deprocess(preprocess(img))` gives `img` back.
    """
    x = np.asarray(x, dtype=np.float64).reshape(np.shape(x)[-3:])
    rgb = (x + IMAGENET_MEAN_BGR)[..., ::-1]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def save_image(image, path):
    """Write `image` to `path` atomically: a reader never sees half a file."""
    path = Path(path)
    with atomic_write(path) as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(
            tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG")
        )
    return path


@contextlib.contextmanager
def atomic_write(path):
    """A temporary path beside `path` to write to; renamed over `path` on success.

    A crash or Ctrl-C while writing leaves any previous file at `path` intact.
    The file gets the permissions a plain ``open(path, "w")`` would give it
    (temporary files are private to their owner).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
