"""nst-teach: the neural style transfer of Deep Learning with Python (8.3), on TF2.

A small helper library for the course notebooks; each helper's docstring names
the notebook that teaches it.
"""

import os

# TensorFlow's start-up chatter (oneDNN, CUDA, CPU flags) confuses students;
# set TF_CPP_MIN_LOG_LEVEL yourself to see it again.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# Repeatable runs. With the Winograd graph (nst_teach.winograd), ops running
# side by side made the gradient differ in its last bits from one run to the
# next (about one evaluation in eight; a scheduling effect we have not pinned
# down), and L-BFGS grows such bits into visibly different images. With one
# inter-op thread, runs repeat bit for bit at about the same speed: each op still
# uses every core (docs/benchmarks.md, thread pools). This only takes effect
# if TensorFlow has not run anything before nst_teach is imported, and leaves
# a number you set yourself alone.
if tf.config.threading.get_inter_op_parallelism_threads() == 0:
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass

from .backbones import WeightsUnavailable, load_backbone
from .config import BOOK, PAINTERLY, QUICK, Settings, preset
from .features import Targets, compute_targets, feature_extractor
from .images import ImageError, deprocess, load_image, preprocess, resize, save_image
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss, weighted_losses
from .optimize import Evaluator, History, Result, StopRun, setup, transfer
from .schedule import coarse_to_fine

__version__ = "0.1.0"
