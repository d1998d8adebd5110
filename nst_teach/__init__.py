"""nst-teach: the neural style transfer of Deep Learning with Python (8.3), on TF2.

A small helper library for the course notebooks; each helper's docstring names
the notebook that teaches it.

The names below, and the modules (``nst.data``, ``nst.fast``), are imported on
first use, so ``import nst_teach`` and the command line's ``--help`` do not wait
for TensorFlow (see
`nst_teach.tensorflow_setup`, which also sets TensorFlow up quietly). In a
notebook, though, importing nst_teach starts TensorFlow at once, so that a
later ``import tensorflow`` shows none of its start-up lines (notebook 01).
"""

import importlib
import pkgutil
import sys

__version__ = "0.1.0"

_PUBLIC = {  # name -> the module that defines it
    "WeightsUnavailable": "backbones", "load_backbone": "backbones",
    "clear_caches": "caches", "configure": "tensorflow_setup",
    "UnknownSetting": "schema", "SettingError": "schema",
    "BOOK": "config", "PAINTERLY": "config", "QUICK": "config", "Settings": "config", "preset": "config",
    "Targets": "features", "compute_targets": "features", "feature_extractor": "features",
    "ImageError": "images", "deprocess": "images", "load_image": "images",
    "preprocess": "images", "resize": "images", "save_image": "images",
    "content_loss": "losses", "gram_matrix": "losses", "style_loss": "losses",
    "total_variation_loss": "losses", "weighted_losses": "losses",
    "Evaluator": "evaluator", "History": "evaluator", "LossNotFinite": "evaluator",
    "StopRun": "evaluator", "setup": "problem", "warm_up": "problem",
    "Result": "loop", "transfer": "optimize", "Evaluation": "progress",
    "Round": "progress", "TrainingStep": "progress",
    "coarse_to_fine": "schedule",
}

__all__ = sorted(_PUBLIC)


def _lazy_names(package, public, namespace):
    """A package's ``__getattr__`` and ``__dir__`` that import `public` names and its modules on first use."""
    modules = {module.name for module in pkgutil.iter_modules(namespace["__path__"])}

    def __getattr__(name):
        if name in public:
            value = getattr(importlib.import_module(f".{public[name]}", package), name)
            namespace[name] = value
            return value
        if name in modules:  # importing it sets it as the package's attribute
            return importlib.import_module(f".{name}", package)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(public) | modules)

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_names(__name__, _PUBLIC, globals())


if "ipykernel" in sys.modules:
    from . import tensorflow_setup  # noqa: F401
