"""What every section of the speed benchmark shares: the images, the set-up, timing."""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CONTENT, STYLE = "grace_hopper", "swirls"


def device_name():
    """What TensorFlow computes on: its first GPU if it sees one (Winograd is then off), else CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU {details.get('device_name', gpus[0].name)} (TensorFlow's kernels, no Winograd)"


def log(*args):
    print(*args, flush=True)


def setup(height, backbone="random"):
    """Images, extractor and targets at `height`, as `transfer` prepares them."""
    from nst_teach import BOOK, data, images
    from nst_teach.backbones import load_backbone
    from nst_teach.features import compute_targets, feature_extractor
    from nst_teach.problem import prepare_images

    settings = BOOK.replace(height=height, backbone=backbone)
    content, style = prepare_images(data.example(CONTENT), data.example(STYLE), settings)
    content_x, style_x = images.preprocess(content), images.preprocess(style)
    model, _ = load_backbone(backbone)
    extractor = feature_extractor(model, settings.layers, settings.convolution)
    targets = compute_targets(extractor, content_x, style_x, settings)
    return settings, model, extractor, targets, content_x, style_x


def timed(fn, x, repeats):
    """Median seconds of `fn(x)` over `repeats` calls (after one warm-up call)."""
    import numpy as np

    fn(x)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), seconds


def interleaved(paths, x, repeats):
    """Median seconds of each ``paths[name](x)``, and the samples, timed in turns.

    All paths are warmed up (traced) first; then each round calls every path
    once, so that a burst of load from elsewhere hits all of them alike.
    """
    import numpy as np

    for fn in paths.values():
        fn(x)
    samples = {name: [] for name in paths}
    for _ in range(repeats):
        for name, fn in paths.items():
            start = time.perf_counter()
            fn(x)
            samples[name].append(time.perf_counter() - start)
    return {name: float(np.median(v)) for name, v in samples.items()}, samples
