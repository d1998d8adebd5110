"""Example images that work offline: photos our dependencies ship, styles we draw.

Used from notebook 01 on. Every function that takes an example name also
takes a path to your own image file.
"""

from __future__ import annotations

__all__ = [
    "grace_hopper_path", "content_names", "example_names", "example", "image_or_example",
    "draw_cubist", "draw_swirls", "draw_mosaic", "draw_pointillist",
]

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .images import ImageError, load_image

# Photos: matplotlib's Grace Hopper portrait (public domain, a portrait like the
# book's) and scikit-image's bundled photos where scikit-image is installed.
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
STYLES = ("cubist", "swirls", "mosaic", "pointillist")


def grace_hopper_path():
    """Path of the portrait photo of Grace Hopper that matplotlib ships.

    Used by `nst_teach.data`.
    """
    from matplotlib import cbook

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def content_names():
    """Names of the bundled photos available on this machine. Taught in notebook 08."""
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        return ("grace_hopper",)
    return ("grace_hopper", *SKIMAGE_PHOTOS)


def example_names():
    """Every example name: bundled photos first, then the drawn styles. Taught in notebook 01."""
    return content_names() + STYLES


def example(name):
    """The example image `name` as an RGB uint8 array (see `example_names`).

    Taught in notebooks 01 and 02.
    """
    if name == "grace_hopper":
        return load_image(grace_hopper_path())
    if name in STYLES:
        return _drawn(name).copy()
    if name in content_names():
        import skimage.data

        return load_image(getattr(skimage.data, name)())
    raise ImageError(
        f"no example called {name!r}; examples: {', '.join(example_names())}, "
        "or give the path of an image file"
    )


def image_or_example(source):
    """An image from a path, an array, or an example name (paths win). Taught in notebook 08."""
    if isinstance(source, (str, Path)) and not Path(source).exists():
        if str(source) in example_names():
            return example(str(source))
        raise ImageError(
            f"{str(source)!r} is neither an image file nor an example "
            f"({', '.join(example_names())}): check the path"
        )
    return load_image(source)


@functools.lru_cache(maxsize=None)
def _drawn(name):
    return {"cubist": draw_cubist, "swirls": draw_swirls, "mosaic": draw_mosaic,
            "pointillist": draw_pointillist}[name]()


PALETTE_CUBIST = [
    (196, 30, 36), (20, 20, 24), (228, 170, 52), (236, 224, 196),
    (34, 68, 140), (150, 110, 70), (212, 92, 44),
]


def draw_cubist(size=(512, 512), seed=8, shapes=90):
    """A cubist composition of overlapping translucent polygons and bold bars.

    In the spirit of Lyubov Popova's constructions (the book's style image):
    flat planes of a few strong colours, hard edges, diagonal thrusts.

    Used by `nst_teach.data`.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = Image.new("RGB", size, PALETTE_CUBIST[3])
    draw = ImageDraw.Draw(canvas, "RGBA")  # "RGBA" blends translucent fills
    for _ in range(shapes):
        colour = PALETTE_CUBIST[rng.integers(len(PALETTE_CUBIST))]
        alpha = int(rng.integers(150, 240))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        if rng.random() < 0.3:  # a long diagonal bar
            angle = rng.uniform(0, np.pi)
            length, thick = rng.uniform(0.4, 1.0) * width, rng.uniform(6, 30)
            d = np.array([np.cos(angle), np.sin(angle)])
            n = np.array([-d[1], d[0]])
            c = np.array([cx, cy])
            corners = [c - d * length / 2 - n * thick, c + d * length / 2 - n * thick,
                       c + d * length / 2 + n * thick, c - d * length / 2 + n * thick]
        else:  # a plane: a random triangle or quadrilateral
            k = int(rng.integers(3, 5))
            radius = rng.uniform(0.08, 0.35) * width
            angles = np.sort(rng.uniform(0, 2 * np.pi, k))
            corners = [(cx + radius * np.cos(a), cy + radius * np.sin(a)) for a in angles]
        points = [tuple(map(float, p)) for p in corners]
        draw.polygon(points, fill=(*colour, alpha))
        if rng.random() < 0.4:
            draw.line(points + [points[0]], fill=(20, 20, 24, 255), width=int(rng.integers(2, 5)))
    return np.asarray(canvas)


PALETTE_SWIRLS = np.array(
    [(16, 36, 92), (30, 70, 150), (70, 120, 190), (140, 180, 220),
     (235, 215, 110), (245, 190, 50), (250, 245, 200)], dtype=np.float64
)


def draw_swirls(size=(512, 512), seed=3, strokes=5000, steps=12):
    """Short thick brush strokes that follow a swirling flow field.

    In the spirit of Van Gogh's *The Starry Night*: the direction of each
    stroke comes from a few vortices; colour runs from night blues to star
    yellows, brighter near the vortex centres.

    Taught in notebook 02.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    centres = rng.uniform(0.1, 0.9, (6, 2)) * (width, height)
    spins = rng.choice([-1.0, 1.0], 6) * rng.uniform(0.6, 1.4, 6)

    def flow(p):
        delta = p - centres
        r2 = (delta**2).sum(axis=1) + 400.0
        v = (spins[:, None] * np.stack([-delta[:, 1], delta[:, 0]], 1) / r2[:, None]).sum(0)
        v += (0.004, 0.0015)  # a gentle drift, like wind across the sky
        return v / (np.linalg.norm(v) + 1e-9)

    canvas = Image.new("RGB", size, tuple(PALETTE_SWIRLS[0].astype(int)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(strokes):
        p = rng.uniform(0, 1, 2) * (width, height)
        nearest = np.sqrt(((p - centres) ** 2).sum(axis=1)).min()
        glow = np.exp(-nearest / (0.12 * width))
        index = np.clip(glow * (len(PALETTE_SWIRLS) - 1) + rng.normal(0, 0.8), 0, len(PALETTE_SWIRLS) - 1)
        lo = int(index)
        hi = min(lo + 1, len(PALETTE_SWIRLS) - 1)
        colour = PALETTE_SWIRLS[lo] + (index - lo) * (PALETTE_SWIRLS[hi] - PALETTE_SWIRLS[lo])
        colour = tuple(np.clip(colour + rng.normal(0, 12, 3), 0, 255).astype(int))
        path = [tuple(p)]
        for _ in range(steps):
            p = p + 3.0 * flow(p)
            path.append(tuple(p))
        draw.line(path, fill=colour, width=int(rng.integers(3, 7)), joint="curve")
    return np.asarray(canvas.filter(ImageFilter.SMOOTH))


PALETTE_MOSAIC = np.array(
    [(170, 30, 40), (30, 60, 150), (220, 170, 40), (30, 120, 90),
     (120, 50, 130), (230, 220, 190), (200, 100, 40)], dtype=np.float64
)


def draw_mosaic(size=(512, 512), seed=5, cells_per_megapixel=1300):
    """Stained glass: irregular cells of jewel colours set in dark lead.

    Each pixel takes the colour of its nearest of some random points (a
    Voronoi diagram); where the nearest point changes, a dark line is drawn.

    Used by `nst_teach.data`.
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    width, height = size
    cells = max(12, round(cells_per_megapixel * width * height / 1e6))
    points = rng.uniform(0, 1, (cells, 2)) * (width, height)
    ys, xs = np.mgrid[0:height, 0:width]
    _, owner = cKDTree(points).query(np.stack([xs.ravel(), ys.ravel()], 1))
    owner = owner.reshape(height, width)
    colours = PALETTE_MOSAIC[rng.integers(len(PALETTE_MOSAIC), size=cells)]
    colours = np.clip(colours + rng.normal(0, 18, colours.shape), 0, 255)
    canvas = colours[owner]
    lead = np.zeros((height, width), bool)
    lead[:-1] |= owner[:-1] != owner[1:]
    lead[:, :-1] |= owner[:, :-1] != owner[:, 1:]
    lead = np.asarray(Image.fromarray(lead).filter(ImageFilter.MaxFilter(3)))
    canvas[lead] = (28, 24, 22)
    return np.asarray(Image.fromarray(canvas.astype(np.uint8)).filter(ImageFilter.SMOOTH))


def draw_pointillist(size=(512, 512), seed=11, dots=14000):
    """Dabs of pure colour, side by side, in the manner of Seurat and Signac.

    A landscape of sky, water and shore is painted only with small round dots
    whose hue is picked near the region's colour or its neighbour's, so that
    the colours mix in the eye rather than on the canvas.

    Used by `nst_teach.data`.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    bands = np.array([(120, 170, 230), (250, 230, 150), (60, 120, 200),
                      (90, 160, 80), (230, 140, 60)], dtype=np.float64)
    canvas = Image.new("RGB", size, (245, 240, 225))
    draw = ImageDraw.Draw(canvas)
    for _ in range(dots):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        band = y / height * (len(bands) - 1) + 0.6 * np.sin(x / width * 6.0) + rng.normal(0, 0.5)
        colour = bands[int(np.clip(round(band), 0, len(bands) - 1))]
        colour = tuple(np.clip(colour + rng.normal(0, 25, 3), 0, 255).astype(int))
        r = rng.uniform(2.0, 4.5) * width / 512
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return np.asarray(canvas)
