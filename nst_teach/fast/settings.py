"""What decides a training run of a style network (notebook 08), declared as a schema.

Plain Python, like `nst_teach.config`: the command line reads these fields
for ``nst-teach train-fast --help`` without importing TensorFlow.
"""

from __future__ import annotations

__all__ = ["FAST_CONTENT_LAYER", "FAST_STYLE_LAYERS", "FastSettings", "MIN_SIDE", "check_model_file"]

import dataclasses
import zipfile
from pathlib import Path

from ..config import BACKBONES, CONVOLUTIONS, LAYER_HINT, STYLE_STATISTICS, VGG_LAYERS
from ..schema import Choice, Integer, Integers, Names, Number, Optional, Text, Validated, setting

# Johnson et al.'s layers (relu2_2 for content; relu1_2 ... relu4_3 for style).
# Keras' VGG layers include their ReLU, so `block2_conv2` *is* relu2_2, and the
# names exist in VGG16 (hed-vgg16) and VGG19 alike.
FAST_CONTENT_LAYER = "block2_conv2"
FAST_STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3")
MIN_SIDE = 8  # the smallest image side the network's padding can handle


def check_model_file(path):
    """Raise `ValueError` naming the fix if `path` is not a `.keras` file at all.

    The checks that need no TensorFlow: ``nst-teach apply-fast`` makes them
    before TensorFlow starts. Used by `nst_teach.fast.network` and the command line.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no model file at {str(path)!r}: check the path, or train one with "
                         "`nst-teach train-fast STYLE -o model.keras`")
    if path.suffix != ".keras":
        raise ValueError(f"{path.name} is not a .keras file: style networks are saved as "
                         "'<name>.keras' by nst_teach.fast.train / `nst-teach train-fast`")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path.name} is not a valid .keras archive (damaged or not a Keras "
                         "model): train the model again, or use another checkpoint")


@dataclasses.dataclass(frozen=True)
class FastSettings(Validated):
    """What decides a training run of a style network.

    The loss weights differ from the book's because the terms are measured
    differently here (see `PerceptualLoss`): each term is a *relative* error,
    about 1 when far off and 0 when matched, and an average over the batch,
    so the weights do not change with the crop size, the batch size or the
    backbone. How to read them: the photo itself scores content 0 and style
    about 1 (relative Gram error against the painting), i.e. a total of
    `style_weight`; an output that forgets the photo scores content about 1.
    With `style_weight=2` neither extreme is a good deal, and the network
    has to find the compromise: a stylised photo. Raise it (3-5) for
    stronger stylisation, lower it (1) to keep more of the photo.
    `tv_weight` multiplies the mean total variation per pixel, which is
    about 2e4 for a photo: 1e-6 smooths speckles without blurring.

    Each field carries its check and help text (`nst_teach.schema`), like
    `nst_teach.config.Settings`: ``nst-teach train-fast``'s flags are made from them.

    Taught in notebook 08.
    """

    size: int = setting(128, "training crops are SIZE x SIZE", Integer(16), unit="px")
    style_size: int | None = setting(None, "shorter side of the style image (default 2 x size)",
                                     Optional(Integer(16)), unit="px")
    batch_size: int = setting(4, "crops per step", Integer(1))
    steps: int = setting(2000, "total training steps", Integer(1))
    learning_rate: float = setting(2e-3, "Adam's step size", Number())
    content_weight: float = setting(1.0, "weight of the content loss", Number())
    style_weight: float = setting(2.0, "weight of the style loss", Number())
    tv_weight: float = setting(1e-6, "total-variation weight", Number())
    content_layer: str = setting(FAST_CONTENT_LAYER, "layer of the content loss",
                                 Choice(VGG_LAYERS, what="layer", hint=LAYER_HINT))
    style_layers: tuple = setting(FAST_STYLE_LAYERS, "layers of the style loss, comma-separated",
                                  Names(VGG_LAYERS, what="layer", hint=LAYER_HINT))
    style_statistic: str = setting("gram", "what the style loss compares: gram, gaussian or "
                                   "sliced (notebook 10)", Choice(STYLE_STATISTICS))
    swag_temperature: float | None = setting(None, "smooth the style layers first (SWAG; "
                                             "notebook 10); default off",
                                             Optional(Number(positive=True)))
    backbone: str = setting("auto", "the network", Choice(BACKBONES))
    weights: str | None = setting(None, "path of a local VGG19 weights file (.h5)",
                                  Optional(Text(path=True, what="the path of a .h5 file")))
    filters: tuple = setting((16, 32, 64), "the network's filters at its three sizes, "
                             "comma-separated", Integers(3))
    residual_blocks: int = setting(3, "the network's residual blocks", Integer(0))
    jitter: float = setting(0.1, "random scaling of the training crops", Number())
    seed: int = setting(0, "random seed", Integer(0))
    checkpoint_every: int = setting(100, "steps between checkpoints (and loss-curve updates)",
                                    Integer(1))
    convolution: str = setting("winograd", "speed only (nst_teach.winograd): direct is "
                               "TensorFlow's own", Choice(CONVOLUTIONS))

    def to_dict(self):
        """The fields as JSON values (lists for tuples), for the model file's metadata."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}
