"""Fast style transfer: train a small network once per style, then stylise in one pass.

Taught in notebook 08. The book ends section 8.3 with the way out of the slow
optimisation: since the optimisation always computes the same kind of
transformation for a given style, a small convnet can learn it, and then
stylising a photo is a single forward pass. This module follows Johnson,
Alahi & Fei-Fei (2016), *Perceptual losses for real-time style transfer*,
scaled down for a laptop CPU:

- `build_network`: an image-transformation network: a 9x9 convolution, two
  stride-2 convolutions down, residual blocks, two "resize, then convolve"
  steps up (no transposed convolutions, so no checkerboard artefacts,
  Odena et al. 2016) and a 9x9 convolution back to RGB. Every convolution
  is followed by instance normalisation (Ulyanov et al. 2016), which makes
  the result independent of each photo's contrast. Fully convolutional,
  reflection-padded: any input size, the output always has the input's size.
- `train`: fit it with the library's perceptual losses (content, Gram style,
  total variation from a backbone's features) on random crops of photos.
- `load_model`, `stylise`: apply a trained network.
- `book_recipe`: the book's literal suggestion (pairs made by the slow
  optimisation, then plain supervised fitting), for comparison.

The package has one module per part: `network` (build, save, load, apply),
`photos` (training data), `settings` (`FastSettings`), `perceptual_loss`
(the losses of a batch), `training` (the training loop), `history` (what a run
records, and its loss curve), `checkpoints` (saving and resuming) and
`recipe` (the book's literal recipe); everything is importable from here.

Images going in and out of the network are RGB floats in [0, 255]; the VGG
pre-processing happens inside the loss, so the network never sees it.
"""

from .. import _lazy_names

_PUBLIC = {  # name -> the module that defines it; imported on first use, so that
    # `nst_teach.fast.settings` (the command line's --help) does not start TensorFlow
    **dict.fromkeys(("INFO_MEMBER", "PACKAGE", "InstanceNormalization",
                     "ReflectionPadding2D", "ResizeLike", "ToPixels", "build_network",
                     "load_model", "save_model", "stylise"), "network"),
    **dict.fromkeys(("EXTRA_SKIMAGE_PHOTOS", "IMAGE_SUFFIXES", "PhotoSampler", "default_photos",
                     "photos_from_folder"), "photos"),
    **dict.fromkeys(("RecipeResult", "book_recipe"), "recipe"),
    **dict.fromkeys(("FAST_CONTENT_LAYER", "FAST_STYLE_LAYERS", "FastSettings", "MIN_SIDE",
                     "check_model_file"), "settings"),
    **dict.fromkeys(("PerceptualLoss", "make_loss", "style_targets", "vgg_input"), "perceptual_loss"),
    **dict.fromkeys(("FastHistory", "plot_fast_history", "save_fast_loss_plot"), "history"),
    **dict.fromkeys(("Checkpoint",), "checkpoints"),
    **dict.fromkeys(("EAGER_STEPS", "FastResult", "train"), "training"),
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = _lazy_names(__name__, _PUBLIC, globals())
