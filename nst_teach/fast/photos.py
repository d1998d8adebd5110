"""Training photos: the bundled ones or a folder of yours, as random crops (notebook 08)."""

from __future__ import annotations

__all__ = ["default_photos", "photos_from_folder", "PhotoSampler"]

from pathlib import Path

import numpy as np

from .. import images
from ..images import ImageError
from .network import MIN_SIDE

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# scikit-image colour photos beyond the ones `nst_teach.data` offers.
EXTRA_SKIMAGE_PHOTOS = ("motorcycle_left.png",)

# --------------------------------------------------------------------------
# Training data
# --------------------------------------------------------------------------


def default_photos():
    """The photos that ship with our dependencies, as {name: RGB uint8 array}.

    matplotlib's Grace Hopper, scikit-image's astronaut, chelsea, coffee and
    rocket (`nst_teach.data.content_names()`), plus `EXTRA_SKIMAGE_PHOTOS`
    when scikit-image is installed. Six photos are few: random crops, flips
    and colour jitter (see `PhotoSampler`) stretch them.

    Taught in notebook 08.
    """
    from .. import data

    photos = {name: data.example(name) for name in data.content_names()}
    try:
        import skimage.data

        for name in EXTRA_SKIMAGE_PHOTOS:
            path = Path(skimage.data.__file__).parent / name
            if path.is_file():
                photos[Path(name).stem] = images.load_image(path)
    except ImportError:
        pass
    return photos


def photos_from_folder(folder, min_side=MIN_SIDE):
    """Every readable image in `folder` (not recursive), as {file name: array}.

    Raises `ImageError` when the folder is missing, empty or holds no usable
    image; unreadable files are skipped with a warning.

    Used by `nst_teach.cli` and `nst_teach.fast.training`.
    """
    import warnings

    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"no folder at {str(folder)!r}: give a folder of photos (.jpg, .png), "
                         "or leave --images out to train on the bundled photos")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageError(f"the folder {str(folder)!r} has no image files "
                         f"({', '.join(IMAGE_SUFFIXES)}): put some photos in it")
    photos = {}
    for path in files:
        try:
            photo = images.load_image(path)
        except ImageError as error:
            warnings.warn(f"skipping {path.name}: {error}", stacklevel=2)
            continue
        if min(photo.shape[:2]) < min_side:
            warnings.warn(f"skipping {path.name}: smaller than {min_side} px", stacklevel=2)
            continue
        photos[path.name] = photo
    if not photos:
        raise ImageError(f"none of the {len(files)} image files in {str(folder)!r} could be "
                         "read: check that they are valid photos")
    return photos


class PhotoSampler:
    """Random square training crops of a few photos, with flips and colour jitter.

    Each crop: a photo at random; scaled so that its shorter side is between
    1 and 2 crop sizes (so crops show both details and whole scenes); a
    random `size` x `size` window; a horizontal flip half of the time; and
    brightness, contrast and saturation each changed by up to +-`jitter`.

    Used by `nst_teach.fast.training`.
    """

    def __init__(self, photos, size, jitter=0.1, seed=0):
        self.size, self.jitter = int(size), float(jitter)
        self.rng = np.random.default_rng(seed)
        # Shrink big photos once, so that each crop's resizing is cheap.
        self.photos = []
        for photo in (photos.values() if isinstance(photos, dict) else photos):
            short = min(photo.shape[:2])
            if short > 2 * self.size:
                photo = images.resize(photo, images.size_for_height(
                    photo, round(photo.shape[0] * 2 * self.size / short)), "bicubic")
            self.photos.append(photo)
        if not self.photos:
            raise ImageError("no training photos: give a folder with at least one photo")

    def crop(self):
        photo = self.photos[self.rng.integers(len(self.photos))]
        short = self.rng.uniform(self.size, 2 * self.size)
        scale = short / min(photo.shape[:2])
        h = max(self.size, round(photo.shape[0] * scale))
        w = max(self.size, round(photo.shape[1] * scale))
        photo = images.resize(photo, (h, w), "bilinear")
        top = self.rng.integers(h - self.size + 1)
        left = self.rng.integers(w - self.size + 1)
        x = photo[top:top + self.size, left:left + self.size].astype(np.float32)
        if self.rng.random() < 0.5:
            x = x[:, ::-1]
        if self.jitter:
            j = self.rng.uniform(-self.jitter, self.jitter, 3)
            grey = x.mean(axis=2, keepdims=True)
            x = grey + (x - grey) * (1 + j[2])  # saturation
            x = x.mean() + (x - x.mean()) * (1 + j[1])  # contrast
            x = x * (1 + j[0])  # brightness
        return np.clip(x, 0, 255)

    def batch(self, batch_size):
        return np.stack([self.crop() for _ in range(batch_size)]).astype(np.float32)
