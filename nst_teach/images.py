"""Loading, resizing, VGG pre/de-processing and saving of images.

Taught in notebook 02 (images and VGG19).
"""

from __future__ import annotations

__all__ = [
    "ImageError", "load_image", "image_array", "size_for_height", "resize", "preprocess",
    "deprocess", "save_image", "check_writable", "atomic_write",
]

import contextlib
import errno
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .streams import stderr_captured

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
    """An image file that cannot be used, with the reason and the fix.

    Used by `nst_teach.data`, `nst_teach.fast.network` and `nst_teach.fast.photos`.
    """


def load_image(source, max_pixels=MAX_PIXELS):
    """Read an image file as an RGB uint8 array of shape (H, W, 3).

    EXIF orientation is applied; grey, palette, CMYK and 16-bit images become
    RGB; transparency is composited on white. Images above `max_pixels` raise
    `ImageError` before they are decoded, so a huge file cannot freeze the
    machine. `source` is a path, an open binary file (``io.BytesIO`` too), a
    PIL image, or an array, read by the rule of `image_array`.

    Used by `nst_teach.data`, `nst_teach.fast.network` and `nst_teach.fast.photos`.
    """
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    if hasattr(source, "read"):
        return _decode(source, getattr(source, "name", "the file object"), max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"no image file at {str(path)!r}: check the path")
        return _decode(path, path.name, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise ImageError(f"got {len(source):,} bytes, not an image: for a file's contents pass "
                         "io.BytesIO(data), which is read like a file")
    if source is None or np.ndim(source) == 0:
        raise ImageError(f"got {source!r}, not an image: give the path of an image file, an "
                         "example's name, an (H, W, 3) array or a PIL image")
    return _to_rgb(Image.fromarray(image_array(source)))


def _decode(file, name, max_pixels):
    size = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                size = image.size
                _check_size(size, max_pixels, name)
                with _libtiff_quiet(image.format):
                    image.load()
                image = ImageOps.exif_transpose(image)
                return _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"{name} is too large for Pillow's safety limit ({error}); "
                         f"{_resize_advice(size, Image.MAX_IMAGE_PIXELS)}") from None
    except (OSError, SyntaxError, ValueError) as error:  # Pillow's errors for unreadable files
        raise ImageError(f"cannot read {name} as an image: {error}") from None


def _check_size(size, max_pixels, name):
    width, height = size
    if max_pixels and width * height > max_pixels:
        raise ImageError(
            f"{name} is {width}x{height} = {width * height:,} pixels, more than the "
            f"{max_pixels:,} accepted: {_resize_advice(size, max_pixels)}"
        )


def _resize_advice(size, max_pixels):
    """How to get under the limit: a longer side that fits, and the Python API's `max_pixels`."""
    if size is None or not max_pixels:
        return "resize it first (in Python, load_image's max_pixels accepts larger images)"
    side = int(max(size) * (max_pixels / (size[0] * size[1])) ** 0.5)
    return (f"resize it first, to at most {side:,} px on its longer side (in Python, "
            "load_image's max_pixels accepts larger images)")


@contextlib.contextmanager
def _libtiff_quiet(file_format):
    """libtiff prints its complaints about a damaged TIFF on file descriptor 2, beside our
    one-line error: keep them back while a TIFF is decoded, and pass them on if it loads."""
    if file_format != "TIFF":
        yield
        return
    with stderr_captured() as text:
        yield
    if text[0] and sys.stderr is not None:
        sys.stderr.write(text[0])


def image_array(array):
    """The one rule for image arrays, in `load_image` and `save_image` alike: a uint8 array.

    Shape (H, W) or (H, W, 1) for grey, (H, W, 3) for RGB, (H, W, 4) for RGBA.
    uint8 is taken as it is, booleans as black and white, other integers must
    lie in 0-255 (nothing wraps around), and floats must be finite: in 0-1 if
    none is above 1 (matplotlib's convention), otherwise in 0-255; they are
    rounded. Anything else raises `ImageError` saying what it got.

    Used by `nst_teach.images`.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        hint = "; for a batch of one image pass array[0]" if array.ndim == 4 and len(array) == 1 else ""
        raise ImageError(f"an image array has shape (H, W), (H, W, 3) or (H, W, 4), "
                         f"not {array.shape}{hint}")
    if array.size == 0:
        raise ImageError(f"the image array is empty (shape {array.shape})")
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        low, high = array.min(), array.max()
        if low < 0 or high > 255:
            raise ImageError(f"integer pixel values must lie in 0-255, got {low} to {high}: "
                             "scale them first (16-bit: array // 257)")
        return array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.floating):
        raise ImageError(f"an image array holds numbers, not {array.dtype}")
    if not np.isfinite(array).all():
        raise ImageError("the image array contains NaN or infinite values")
    array = array.astype(np.float64)
    scale = 255.0 if array.max() <= 1.0 else 1.0
    low, high = array.min() * scale, array.max() * scale
    if low < -0.5 or high > 255.5:
        raise ImageError(f"float pixel values must lie in 0-1 or in 0-255, got "
                         f"{array.min():.4g} to {array.max():.4g}")
    return np.clip(np.round(array * scale), 0, 255).astype(np.uint8)


def _to_rgb(image):
    """Any Pillow mode to an RGB uint8 array, alpha composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16- and 32-bit greyscale: scale the full range down to 8 bits.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        image = Image.fromarray(np.uint8(np.clip(np.round(array / top * 255), 0, 255)))
    elif image.mode == "F":
        image = Image.fromarray(image_array(np.asarray(image)))
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

    Taught in notebooks 02 and 03.
    """
    original_height, original_width = np.shape(image)[:2]
    return height, max(1, int(original_width * height / original_height))


def resize(image, size, resample="bicubic"):
    """`image` (H, W, 3 uint8) resized to `size` = (height, width).

    Taught in notebooks 02 and 03.
    """
    height, width = size
    pil = Image.fromarray(image).resize((width, height), _RESAMPLE[resample])
    return np.asarray(pil)


def preprocess(image):
    """RGB uint8 (H, W, 3) to the VGG input: BGR float32 minus the ImageNet means.

    Adds a batch axis, so the result has shape (1, H, W, 3). This is what
    `keras.applications.vgg19.preprocess_input` does (the "caffe" mode).

    Taught in notebooks 02 and 04.
    """
    bgr = np.asarray(image, dtype=np.float32)[..., ::-1]
    return (bgr - IMAGENET_MEAN_BGR)[None]


def deprocess(x):
    """The exact inverse of `preprocess`, clipped to a uint8 RGB image.

    Accepts (H, W, 3) or (1, H, W, 3). The book truncates with `astype`; we
    round first, so that float32 noise (4.9999995 for 5) cannot turn a pixel
    value into its neighbour and `deprocess(preprocess(img))` gives `img` back.

    Taught in notebooks 02 and 06.
    """
    x = np.asarray(x, dtype=np.float64).reshape(np.shape(x)[-3:])
    rgb = (x + IMAGENET_MEAN_BGR)[..., ::-1]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def save_image(image, path):
    """Write `image` to `path` atomically (see `atomic_write`): a reader never sees half a file.

    `image` is an array read by the rule of `image_array` (as `load_image`
    reads it) or a PIL image; it is saved as RGB, so that loading it gives the
    same pixels back. The file type comes from the name's extension.

    Used by `bench/quality.py`, `nst_teach.cli` and `nst_teach.loop`.
    """
    path = Path(path)
    file_format = Image.registered_extensions().get(path.suffix.lower())
    if file_format not in Image.SAVE:
        raise ImageError(f"cannot save an image as {path.name!r}: use a name ending in .png or .jpg")
    rgb = load_image(image if isinstance(image, Image.Image) else image_array(image))
    with atomic_write(path) as tmp:
        Image.fromarray(rgb).save(tmp, format=file_format)
    return path


def check_writable(path):
    """Raise `OSError` naming the reason if `path` cannot be written; call it before long work.

    The rules of `atomic_write`: missing folders are created; a symlink is
    written through to its target; an existing file is replaced only if you
    may write it.

    Used by the command line and `nst_teach.loop` (a run's `save_prefix`).
    """
    path = Path(os.path.realpath(path))
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a folder; give a file name in it")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"cannot write {str(path)!r}: the file is read-only")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(folder)!r} is a file, not a folder")
    try:
        if folder == path.parent:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}-probe-")
            os.close(fd)
            os.unlink(probe)
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "permission denied")
    except OSError as error:
        reason = error.strerror or str(error)
        raise type(error)(f"cannot write {str(path)!r}: {reason} in {str(folder)!r}") from None


@contextlib.contextmanager
def atomic_write(path):
    """A temporary path beside `path` to write to; renamed over `path` on success.

    A crash, Ctrl-C or power cut while writing leaves any previous file at
    `path` intact: the new file is flushed to disk (fsync) before the rename.
    A symlink at `path` is written through, so its target gets the new file.
    An `OSError` names `path` (not the temporary file) and keeps its errno.
    The file keeps an existing file's permissions, or gets those a plain
    ``open(path, "w")`` would give it (temporary files are private to their owner).

    Used by `nst_teach.fast.network` and `nst_teach.plotting`.
    """
    path = Path(os.path.realpath(path))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
        os.close(fd)
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno is not None:  # the file asked for,
            raise type(error)(error.errno, error.strerror, str(path)) from None  # not the temporary one
        if isinstance(error, OSError):
            raise OSError(f"cannot write {str(path)!r}: {error}") from None
        raise


def _mode_for(path):
    if path.exists():
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder):
    """Make the rename itself durable, where the system allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
