"""nst-teach: the neural style transfer of Deep Learning with Python (8.3), on TF2.

A small helper library for the course notebooks; each helper's docstring names
the notebook that teaches it.
"""

import os

# TensorFlow's start-up chatter (oneDNN, CUDA, CPU flags) confuses students;
# set TF_CPP_MIN_LOG_LEVEL yourself to see it again.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .backbones import WeightsUnavailable, load_backbone
from .config import BOOK, QUICK, Settings, preset
from .features import Targets, compute_targets, feature_extractor
from .images import ImageError, deprocess, load_image, preprocess, resize, save_image
from .losses import content_loss, gram_matrix, style_loss, total_variation_loss, weighted_losses
from .optimize import Evaluator, History, Result, StopRun, setup, transfer
from .schedule import coarse_to_fine

__version__ = "0.1.0"
