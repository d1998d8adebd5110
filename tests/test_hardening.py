"""Hardening, second round (issue 20): each awkward input of the hostile-user trial, as the
command line and the Python API now answer it. docs/reliability.md lists them all."""

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_teach import images
from nst_teach.cli import main
from nst_teach.schema import SettingError

TINY = ["--height", "32", "--iterations", "3", "--maxfun", "4", "--backbone", "random", "--quiet"]


def warned_run(args):
    """Run `nst-teach ARGS`: (exit status, the warnings' messages, each one as often as given)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(args)
    return code, [str(warning.message) for warning in caught]


def one_line_error(capsys, args, code=2):
    """Run `nst-teach ARGS`; the one error line, after checking the exit status and the count."""
    assert main(args) == code
    err = capsys.readouterr().err
    assert err.startswith("nst-teach: error: ") and err.count("\n") == 1, err
    return err


# --- side files never end a run; the result is always saved ---------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a small tmpfs filled to the last byte: a disk that is full, for real."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a small tmpfs, which only root can mount")
    where = tmp_path / "full"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_full_disk_keeps_the_run_and_saves_the_result_in_the_temporary_folder(
        full_disk, tmp_path, capsys, monkeypatch):
    fallback = tmp_path / "fallback"
    fallback.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(fallback))
    out = full_disk / "o.png"
    code, warned = warned_run(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY,
                               "--save-every-iteration", "--preview", str(full_disk / "live.png")])
    err = capsys.readouterr().err
    assert code == 1, err  # as documented: saved, but not where asked
    warned = [message for message in warned if "cannot write" in message]
    assert len(warned) == 2 and "live.png (No space left on device)" in warned[0]
    assert "o_at_iteration_0.png (No space left on device)" in warned[1]  # once for three rounds
    saved = sorted(fallback.iterdir())
    assert [p.suffix for p in saved] == [".png", ".png"]
    assert {images.load_image(p).shape[1] > 100 for p in saved} == {False, True}  # image and curve
    assert str(saved[0]) in err and str(saved[1]) in err


def test_a_blocked_per_round_file_is_skipped_with_one_warning(tmp_path, capsys):
    out = tmp_path / "o.png"
    for i in (0, 1):
        (tmp_path / f"o_at_iteration_{i}.png").mkdir()  # a folder in the way
    code, warned = warned_run(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY,
                               "--save-every-iteration"])
    assert code == 0
    warned = [message for message in warned if "cannot write" in message]
    assert len(warned) == 1 and "o_at_iteration_0" in warned[0]
    assert images.load_image(out).shape == (32, 27, 3)
    assert images.load_image(tmp_path / "o_at_iteration_2.png").shape == (32, 27, 3)
    assert (tmp_path / "o_loss.png").is_file()


def test_a_preview_that_fails_mid_run_is_skipped(tmp_path, capsys, monkeypatch):
    out, live = tmp_path / "o.png", tmp_path / "live.png"
    real = images.save_image

    def disk_full_for_the_preview(image, path):
        if Path(path).name == "live.png":
            raise OSError(28, "No space left on device", str(path))
        return real(image, path)

    monkeypatch.setattr(images, "save_image", disk_full_for_the_preview)
    code, warned = warned_run(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY,
                               "--preview", str(live)])
    assert code == 0
    warned = [message for message in warned if "cannot write" in message]
    assert len(warned) == 1 and "live.png (No space left on device)" in warned[0]
    assert images.load_image(out).shape == (32, 27, 3)


def test_a_side_file_that_keeps_failing_is_warned_about_once(tmp_path):
    from nst_teach.progress import Evaluation, PreviewFile

    preview = PreviewFile(tmp_path / "live.png", seconds=0.0)
    (tmp_path / "live.png").mkdir()  # in the way from now on
    event = Evaluation(1, {"total": 1.0}, 8, 0, None, lambda: np.zeros((8, 8, 3), np.uint8))
    with pytest.warns(RuntimeWarning) as warned:
        for _ in range(3):
            preview(event)
    assert len(warned) == 1 and preview.written == 0


def test_a_preview_that_cannot_be_written_or_is_the_output_is_refused_before_the_run(
        tmp_path, capsys, monkeypatch):
    from nst_teach import optimize

    monkeypatch.setattr(optimize, "setup", lambda *a, **k: pytest.fail("the run started"))
    out = tmp_path / "o.png"
    images.save_image(np.zeros((8, 8, 3), np.uint8), out)  # an earlier result
    err = one_line_error(capsys, ["transfer", "grace_hopper", "cubist", "-o", str(out),
                                  "--preview", str(out), *TINY])
    assert "--preview " in err and "is the -o file" in err
    err = one_line_error(capsys, ["transfer", "grace_hopper", "cubist", "-o", str(out),
                                  "--preview", "/proc/nst-preview.png", *TINY])
    assert "cannot write '/proc/nst-preview.png'" in err


@pytest.mark.parametrize("role", ["content", "style", "mask", "--init"])
def test_an_output_that_is_an_input_is_refused(tmp_path, capsys, role):
    photo = tmp_path / "photo.png"
    images.save_image(np.full((40, 30, 3), 90, np.uint8), photo)
    before = photo.read_bytes()
    args = {"content": [str(photo), "cubist"], "style": ["grace_hopper", str(photo)],
            "mask": ["grace_hopper", "cubist", "--mask", str(photo)],
            "--init": ["grace_hopper", "cubist", "--init", str(photo)]}[role]
    err = one_line_error(capsys, ["transfer", *args, "-o", str(photo), *TINY])
    assert f"is the {role if role == 'mask' else role + ' image'}: the result would replace it" in err
    assert photo.read_bytes() == before


# --- checks before TensorFlow ------------------------------------------------------------

BEFORE_TENSORFLOW = """
import sys
from nst_teach.cli import main
for args in {cases!r}:
    code = main(args)
    print(code, 'tensorflow' in sys.modules, file=sys.stderr, flush=True)
"""


def early_errors(cases):
    """Run `main` on each of `cases` in a fresh interpreter: [(exit status, TF imported, line)]."""
    run = subprocess.run([sys.executable, "-c", BEFORE_TENSORFLOW.format(cases=cases)],
                         capture_output=True, text=True, timeout=600)
    lines = run.stderr.splitlines()
    assert len(lines) == 2 * len(cases), run.stderr
    return [(int(status.split()[0]), status.split()[1] == "True", message)
            for message, status in zip(lines[::2], lines[1::2])]


def test_train_fast_and_apply_fast_check_everything_before_tensorflow(tmp_path):
    model, archive = tmp_path / "m.keras", tmp_path / "empty.keras"
    model.write_bytes(b"not a zip")
    zipfile.ZipFile(archive, "w").close()  # a zip: passes the checks without TensorFlow
    cases = [
        ["train-fast", "cubist", "-o", "/proc/nst-x.keras"],
        ["train-fast", "cubist", "-o", str(tmp_path / "m2.keras"), "--size", "100000"],
        ["train-fast", "cubist", "-o", str(tmp_path / "m2.keras"), "--size", "-1"],
        ["train-fast", "cubist", "-o", str(tmp_path / "m2.keras"), "--threads", "0"],
        ["apply-fast", str(tmp_path / "none.keras"), "grace_hopper", "-o", str(tmp_path / "o.png")],
        ["apply-fast", str(model), "grace_hopper", "-o", str(tmp_path / "o.png")],
        ["apply-fast", str(model), "grace_hopper", "-o", "/proc/nst-x.png"],
        ["apply-fast", str(model), "grace_hopper", "-o", str(tmp_path / "o.png"), "--max-side", "2"],
        ["apply-fast", str(archive), "nope", "-o", str(tmp_path / "o.png")],
    ]
    messages = ["cannot write '/proc/nst-x.keras'", "use --size at most", "--size must be an integer >= 16",
                "--threads must be >= 1", "no model file", "not a valid .keras archive",
                "cannot write '/proc/nst-x.png'", "--max-side must be >= 8", "neither an image file"]
    for (code, tensorflow, line), message in zip(early_errors(cases), messages):
        assert code == 2 and not tensorflow and line.startswith("nst-teach: error:"), line
        assert message in line


def test_transfer_checks_masks_blend_layers_and_memory_before_tensorflow(tmp_path):
    out = ["-o", str(tmp_path / "o.png")]
    cases = [
        ["transfer", "grace_hopper", "cubist", "swirls", *out, "--mask", "grace_hopper"],
        ["transfer", "grace_hopper", "cubist", "swirls", *out, "--style-blend", "1,2,3"],
        ["transfer", "grace_hopper", "cubist", *out, "--backbone", "hed-vgg16",
         "--style-layers", "block1_conv1,block5_conv4"],
        ["transfer", "grace_hopper", "cubist", *out, "--backbone", "hed-vgg16",
         "--content-layer", "block4_conv4"],
        ["transfer", "grace_hopper", "cubist", *out, "--height", "100000"],
    ]
    messages = ["--mask: 1 mask(s) for 2 style image(s)", "--style-blend has 3 weights for 2",
                "--style-layers: hed-vgg16 is a VGG16, which has no block5_conv4",
                "--content-layer: hed-vgg16", "use --height at most"]
    for (code, tensorflow, line), message in zip(early_errors(cases), messages):
        assert code == 2 and not tensorflow and message in line, line


def test_threads_are_set_without_tensorflows_start_up_lines():
    code = "from nst_teach.cli import _set_threads; _set_threads(2)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert run.returncode == 0, run.stderr
    assert not any(line.startswith(("I0000", "E0000", "W0000")) for line in run.stderr.splitlines())


# --- memory --------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--optimizer", "lbfgs", "--lbfgs-history", "100000000"],
     "L-BFGS's memory of 100000000 past steps: use --lbfgs-history at most"),
    (["--style-scale", "100", "--height", "64", "--memory-limit", "4"],
     "for its style image at 5400x6400 px: use --style-scale at most"),
    (["--memory-limit", "0.0001"], "at any size, so raise --memory-limit"),
])
def test_memory_errors_name_the_setting_that_fixes_them(tmp_path, capsys, args, message):
    err = one_line_error(capsys, ["transfer", "grace_hopper", "cubist", "-o",
                                  str(tmp_path / "o.png"), *TINY, *args])
    assert message in err and "height at most" not in err


def test_the_advised_style_scale_and_history_fit_the_limit():
    from nst_teach import memory
    from nst_teach.config import BOOK

    for changes in ({"style_scale": 100.0}, {"optimizer": "lbfgs", "lbfgs_history": 10 ** 8}):
        settings = BOOK.replace(height=64, memory_limit_gb=4.0, **changes)
        with pytest.raises(memory.RunTooLarge) as caught:
            memory.check_memory((64, 54), settings)
        field = caught.value.field
        advised = float(str(caught.value).split(f"{field} at most ")[1].split()[0].rstrip(","))
        memory.check_memory((64, 54), settings.replace(**{field: type(changes[field])(advised)}))


# --- streams ---------------------------------------------------------------------------------


def run_cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "nst_teach", *args], timeout=600, **kwargs)


@pytest.mark.slow
def test_a_closed_standard_error_does_not_stop_the_run(tmp_path):
    out = tmp_path / "o.png"
    run = run_cli(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY],
                  stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(2))
    assert run.returncode == 0 and "done:" in run.stdout
    assert images.load_image(out).shape == (32, 27, 3)


@pytest.mark.slow
@pytest.mark.parametrize("stdout", ["full device", "closed pipe"])
def test_a_standard_output_that_fails_does_not_undo_a_saved_result(tmp_path, stdout):
    if stdout == "full device" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    out = tmp_path / "o.png"
    args = ["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY]
    if stdout == "full device":
        with open("/dev/full", "w") as full:
            run = run_cli(args, stdout=full, stderr=subprocess.PIPE, text=True)
    else:
        read, write = os.pipe()
        os.close(read)  # nobody reads: the first write gets a broken pipe
        run = run_cli(args, stdout=write, stderr=subprocess.PIPE, text=True)
        os.close(write)
    assert run.returncode == 0, run.stderr
    assert "warning: cannot write to the standard output" in run.stderr and "done:" in run.stderr
    assert "nst-teach: error" not in run.stderr and "Exception ignored" not in run.stderr
    assert images.load_image(out).shape == (32, 27, 3)


# --- messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--style-layer-weights", "-1,1,1,1,1"], "every entry of --style-layer-weights must be a finite"),
    (["swirls", "--style-blend", "-1,2"], "every entry of --style-blend must be a finite number"),
    (["--style-layers", "block1_conv1,nope"], "--style-layers: unknown layer 'nope'"),
    (["--content-weight", "0", "--style-weight", "0", "--tv-weight", "0"],
     "--content-weight, --style-weight and --tv-weight are all 0"),
])
def test_setting_errors_name_the_flag(tmp_path, capsys, args, message):
    styles, flags = ([args[0]], args[1:]) if not args[0].startswith("-") else ([], args)
    err = one_line_error(capsys, ["transfer", "grace_hopper", "cubist", *styles, "-o",
                                  str(tmp_path / "o.png"), *TINY, *flags])
    assert message in err


def test_a_presets_layer_weights_that_no_longer_fit_are_named_as_the_presets(tmp_path, capsys):
    err = one_line_error(capsys, ["transfer", "grace_hopper", "cubist", "-o", str(tmp_path / "o.png"),
                                  "--preset", "painterly-quick", "--style-layers", "block1_conv1",
                                  "--backbone", "hed-vgg16"])
    assert "the preset 'painterly-quick' weights its 5 style layers" in err
    assert "--style-layers names 1" in err and "e.g. 1" in err


def test_an_output_named_only_by_its_extension(tmp_path, capsys):
    err = one_line_error(capsys, ["transfer", "grace_hopper", "cubist", "-o", ".png", *TINY])
    assert "-o '.png' has no name before its extension" in err and "result.png" in err


def test_both_spellings_of_a_flag_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["transfer", "grace_hopper", "cubist", "-o", str(tmp_path / "o.png"),
              "--preserve-color", "luminance", "--preserve-colour", "histogram"])
    assert exit_.value.code == 2
    assert "--preserve-color and --preserve-colour are one setting" in capsys.readouterr().err


def test_a_decompression_bomb_is_refused_with_a_size_that_fits(tmp_path, capsys):
    big = tmp_path / "big.png"
    Image.new("L", (10000, 6000)).save(big)  # 60 Mpx, a few KB on disk
    err = one_line_error(capsys, ["transfer", str(big), "cubist", "-o", str(tmp_path / "o.png"), *TINY])
    assert "resize it first, to at most 9,128 px on its longer side" in err  # 50 Mpx at 5:3


def test_a_damaged_tiff_gives_one_line(tmp_path, capfd):
    good = tmp_path / "good.tif"
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(good, compression="tiff_lzw")
    data = bytearray(good.read_bytes())
    data[200:400] = b"\xff" * 200
    (tmp_path / "bad.tif").write_bytes(bytes(data))
    assert main(["transfer", str(tmp_path / "bad.tif"), "cubist", "-o", str(tmp_path / "o.png"),
                 *TINY]) == 2
    err = capfd.readouterr().err
    assert err.startswith("nst-teach: error: cannot read bad.tif") and err.count("\n") == 1, err


# --- the Python API ----------------------------------------------------------------------------


@pytest.mark.parametrize("content, style, message", [
    (None, "cubist", "got None, not an image"),
    (5, "cubist", "got 5, not an image"),
    ("grace_hopper", None, "got None, not an image"),
])
def test_transfer_names_what_it_was_given(content, style, message):
    from nst_teach import transfer

    with pytest.raises(images.ImageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        transfer(content, style, height=32, backbone="random")


def test_raw_bytes_are_refused_with_the_way_that_works():
    from nst_teach import transfer

    buffer = io.BytesIO()
    Image.new("RGB", (5, 4), (10, 20, 30)).save(buffer, format="PNG")
    with pytest.raises(images.ImageError, match=r"got \d+ bytes, not an image: .* io.BytesIO\(data\)"):
        transfer(buffer.getvalue(), "cubist", height=32, backbone="random")
    assert images.load_image(io.BytesIO(buffer.getvalue())).shape == (4, 5, 3)  # as it says


@pytest.mark.parametrize("where", ["proc", "under_a_file"])
def test_save_image_errors_name_the_file_asked_for(tmp_path, where):
    (tmp_path / "file").write_text("a file, not a folder")
    path = {"proc": "/proc/nst-x.png", "under_a_file": str(tmp_path / "file" / "nst-x.png")}[where]
    with pytest.raises(OSError) as caught:
        images.save_image(np.zeros((4, 4, 3), np.uint8), path)
    assert path in str(caught.value) and ".nst-x-" not in str(caught.value)  # not the temporary file
    assert caught.value.errno is not None


def test_setting_errors_carry_their_field():
    from nst_teach.config import BOOK

    for changes, field in [({"seed": -1}, "seed"), ({"style_layers": ("nope",)}, "style_layers"),
                           ({"style_layer_weights": (1.0,)}, "style_layer_weights"),
                           ({"height": 4}, "height"), ({"stages": ((0.5, 1), (0.7, 1))}, "stages")]:
        with pytest.raises(SettingError) as caught:
            BOOK.replace(**changes)
        assert caught.value.field == field and isinstance(caught.value, ValueError)


# --- signals ---------------------------------------------------------------------------------

SIGNALLED = """
import numpy as np, sys
from nst_teach.cli import Signals
a = np.random.default_rng(0).random((1500, 1500))
with Signals() as signals:
    print("ready", flush=True)
    try:
        for _ in range(20):
            np.linalg.svd(a)  # one long computation: the signals arrive while it runs
    except KeyboardInterrupt:
        pass
print(signals.exit_code, flush=True)
"""


@pytest.mark.slow
def test_the_exit_status_follows_the_first_signal_to_arrive():
    child = subprocess.Popen([sys.executable, "-c", SIGNALLED], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        child.send_signal(number)
        time.sleep(0.02)
    assert child.stdout.readline().strip() == "130"  # SIGINT's, not SIGHUP's 129
    child.wait(timeout=60)
