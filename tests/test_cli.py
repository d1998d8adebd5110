"""The command line end to end, and its one-line errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

from nst_teach import images
from nst_teach.cli import main

TINY = ["--height", "32", "--iterations", "2", "--maxfun", "4", "--backbone", "random", "--quiet"]


@pytest.mark.slow
def test_transfer_writes_result_loss_curve_and_iterations(tmp_path, capsys):
    out = tmp_path / "result.png"
    code = main(["transfer", "grace_hopper", "swirls", "-o", str(out), "--save-every-iteration", *TINY])
    assert code == 0
    assert images.load_image(out).shape == (32, 27, 3)
    assert images.load_image(tmp_path / "result_loss.png").shape[1] > 300
    assert (tmp_path / "result_at_iteration_1.png").exists()
    assert "done:" in capsys.readouterr().out


def test_preview_file_shows_the_run_and_bad_names_are_refused(tmp_path, capsys):
    out, preview = tmp_path / "result.png", tmp_path / "live" / "preview.png"
    assert main(["transfer", "grace_hopper", "swirls", "-o", str(out), "--preview", str(preview),
                 *TINY]) == 0
    # written at the first evaluation (a run this small ends within 2 s): the content image
    assert images.load_image(preview).shape == images.load_image(out).shape == (32, 27, 3)
    assert main(["transfer", "grace_hopper", "swirls", "-o", str(out), "--preview",
                 str(tmp_path / "preview.gif"), *TINY]) == 2
    assert "--preview must end in .png or .jpg" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point_runs_offline_backbone(tmp_path):
    out = tmp_path / "r.png"
    env = dict(os.environ, NST_TEACH_OFFLINE="1")
    run = subprocess.run(
        [sys.executable, "-m", "nst_teach", "transfer", "grace_hopper", "cubist", "-o", str(out),
         "--height", "48", "--iterations", "2", "--maxfun", "5", "--backbone", "hed-vgg16"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert images.load_image(out).shape == (48, 40, 3)
    assert "backbone hed-vgg16" in run.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jpg", "cubist"], "neither an image file nor an example"),
        (["grace_hopper", "cubist", "--tv-weight", "-1"], "--tv-weight must be a finite number >= 0"),
        (["grace_hopper", "cubist", "--style-layers", "block1_conv1,nope"], "unknown layer"),
        (["grace_hopper", "cubist", "--height", "4"], "height must be >= 16"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, capsys, args, message):
    code = main(["transfer", *args[:2], "-o", str(tmp_path / "o.png"), *TINY, *args[2:]])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("nst-teach: error:") and message in err and err.count("\n") == 1


def test_bad_output_suffix(tmp_path, capsys):
    assert main(["transfer", "grace_hopper", "cubist", "-o", str(tmp_path / "o.gif"), *TINY]) == 2
    assert "-o must end in .png or .jpg" in capsys.readouterr().err


def test_interrupted_run_still_writes_best_image(tmp_path, monkeypatch, capsys):
    from nst_teach import optimizers

    calls = {"n": 0}
    real = optimizers.fmin_l_bfgs_b

    def interrupted_second_time(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(optimizers, "fmin_l_bfgs_b", interrupted_second_time)
    out = tmp_path / "o.png"
    assert main(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY]) == 130
    assert out.exists() and "stopped early" in capsys.readouterr().out


def test_weights_and_examples_commands(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert "present: no" in out and "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in out
    assert main(["examples"]) == 0
    assert "grace_hopper" in capsys.readouterr().out


@pytest.mark.slow
def test_beyond_the_book_flags(tmp_path, capsys):
    mask = tmp_path / "mask.png"
    images.save_image(np.tile(np.uint8([255, 0])[None, :, None], (4, 1, 3)), mask)
    out = tmp_path / "o.png"
    code = main(["transfer", "grace_hopper", "swirls", "cubist", "-o", str(out), *TINY,
                 "--style-blend", "0.5,0.5", "--mask", str(mask), str(mask), "--init", "noise",
                 "--preserve-colour", "post", "--style-scale", "1.5", "--pooling", "avg",
                 "--optimizer", "adam", "--style-layer-weights", "1,1,1,1,2"])
    assert code == 0, capsys.readouterr().err
    assert images.load_image(out).shape == (32, 27, 3)
    code = main(["transfer", "grace_hopper", "swirls", "cubist", "-o", str(out), *TINY, "--mask", str(mask)])
    assert code == 2 and "1 mask(s) for 2 style image(s)" in capsys.readouterr().err


@pytest.mark.slow
def test_coarse_to_fine_flags(tmp_path, capsys):
    out = tmp_path / "c.png"
    code = main(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY, "--height", "48",
                 "--stages", "0.5:2,1:3", "--save-every-iteration"])
    assert code == 0, capsys.readouterr().err
    assert images.load_image(out).shape == (48, 40, 3)
    assert images.load_image(tmp_path / "c_at_iteration_0.png").shape == (24, 20, 3)
    assert "done:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["transfer", "grace_hopper", "cubist", "-o", str(out), "--stages", "half"])
    assert "--stages takes FRACTION:EVALUATIONS pairs" in capsys.readouterr().err


@pytest.mark.slow
def test_threads_can_still_be_set_after_importing_nst_teach():
    # `--threads` sets TensorFlow's thread pools after the import: the import must
    # not have started TensorFlow's runtime (which would make that an error).
    code = ("import tensorflow as tf; from nst_teach import cli, fast; cli._set_threads(1); "
            "print(tf.config.threading.get_intra_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "1"


# Hardening (issue 14): every bad input fails fast and clearly; no run is lost.

def run_cli(*args, env=None, **kwargs):
    """The command line in a fresh interpreter, as a user runs it."""
    env = dict(os.environ, NST_TEACH_OFFLINE="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "nst_teach", *args], capture_output=True,
                          text=True, env=env, timeout=300, **kwargs)


def test_help_and_argument_errors_come_before_tensorflow_and_print_no_log_lines():
    code = ("import sys; from nst_teach.cli import main\n"
            "try: main(sys.argv[1:])\n"
            "except SystemExit: pass\n"
            "print('tensorflow' in sys.modules)")
    for args in (["--help"], ["transfer", "--help"], ["train-fast", "--help"],
                 ["transfer", "a", "b", "-o", "x.png", "--height", "x"]):
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                             timeout=300)
        assert run.stdout.split()[-1] == "False", args  # TensorFlow was never imported
        assert "I0000" not in run.stderr and "E0000" not in run.stderr


@pytest.mark.slow
def test_tensorflow_start_up_lines_are_hidden_and_verbose_brings_them_back(tmp_path):
    args = ["weights"]
    quiet, verbose = run_cli(*args), run_cli(*args, "--verbose")
    assert quiet.returncode == 0 and verbose.returncode == 0
    # `weights` imports the backbones module, and with it TensorFlow
    assert "absl::InitializeLog" not in quiet.stderr and "cuInit" not in quiet.stderr
    assert quiet.stderr == ""
    assert "absl::InitializeLog" in verbose.stderr or "I0000" in verbose.stderr


def test_real_errors_on_stderr_pass_the_start_up_filter(capfd):
    from nst_teach.tensorflow_setup import quiet_startup

    with quiet_startup(verbose=False):
        os.write(2, b"I0000 00:00:1.2 3 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"E0000 00:00:1.2 3 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n")
        os.write(2, b"E0000 00:00:1.2 3 something.cc:1] a real problem\n")
    err = capfd.readouterr().err
    assert "a real problem" in err and "oneDNN" not in err and "cuInit" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
        (["--style-layers", "block9_conv1"], "unknown layer 'block9_conv1'"),
        (["--backbone", "hed-vgg16", "--weights", "w.h5"], "weights (a VGG19 weights file) only applies"),
        (["--content-weight", "0", "--style-weight", "0", "--tv-weight", "0"], "are all 0"),
        (["--height", "100000"], "use --height at most"),
        (["--memory-limit", "1.7", "--height", "400"], "more than the limit of 1.7 GB"),
    ],
)
def test_more_bad_input_named_in_one_line(tmp_path, capsys, args, message):
    code = main(["transfer", "grace_hopper", "cubist", "-o", str(tmp_path / "o.png"), *TINY, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("nst-teach: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_style_blend_that_is_not_numbers_names_the_flag(capsys):
    with pytest.raises(SystemExit):
        main(["transfer", "grace_hopper", "cubist", "-o", "o.png", "--style-blend", "a,b"])
    err = capsys.readouterr().err
    assert "argument --style-blend: expected comma-separated numbers" in err and "lambda" not in err


@pytest.mark.parametrize("content", [b"just text", b"\x89HDF\r\n\x1a\n truncated"])
def test_bad_weights_file_names_the_file_and_the_flag(tmp_path, capsys, content):
    weights = tmp_path / "weights.h5"
    weights.write_bytes(content)
    code = main(["transfer", "grace_hopper", "cubist", "-o", str(tmp_path / "o.png"), *TINY,
                 "--backbone", "vgg19", "--weights", str(weights)])
    err = capsys.readouterr().err
    assert code == 2 and "weights.h5" in err and "--weights" in err and err.count("\n") == 1


def test_one_pixel_wide_image_gets_sensible_advice(tmp_path, capsys):
    thin = tmp_path / "thin.png"
    images.save_image(np.zeros((2000, 1, 3), np.uint8), thin)
    code = main(["transfer", str(thin), "cubist", "-o", str(tmp_path / "o.png"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and "too narrow" in err and "crop" in err
    assert "height of at least" not in err  # no advice to use a height of 32000


@pytest.mark.parametrize("where", ["folder", "under_a_file", "proc"])
def test_unwritable_output_is_refused_before_any_work(tmp_path, capsys, monkeypatch, where):
    from nst_teach import optimize

    monkeypatch.setattr(optimize, "setup", lambda *a, **k: pytest.fail("the run started"))
    output = {"folder": tmp_path / "x.png", "under_a_file": tmp_path / "file" / "o.png",
              "proc": "/proc/nst-teach-test.png"}[where]
    (tmp_path / "x.png").mkdir()
    (tmp_path / "file").write_text("a file, not a folder")
    code = main(["transfer", "grace_hopper", "cubist", "-o", str(output), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("nst-teach: error: cannot write") and err.count("\n") == 1
    assert ".tmp" not in err and "probe" not in err


def test_output_that_fails_at_the_end_is_saved_elsewhere(tmp_path, capsys, monkeypatch):
    from nst_teach import optimize

    real = optimize.transfer
    folder = tmp_path / "out"

    def folder_vanishes(*args, **kwargs):  # the folder becomes a file during the run
        result = real(*args, **kwargs)
        folder.rmdir()
        folder.write_text("in the way")
        return result

    monkeypatch.setattr(optimize, "transfer", folder_vanishes)
    folder.mkdir()
    code = main(["transfer", "grace_hopper", "cubist", "-o", str(folder / "o.png"), *TINY])
    captured = capsys.readouterr()
    assert code == 1
    assert "cannot write" in captured.err and "saved it to" in captured.err
    saved = captured.err.split("saved it to ")[1].split(" instead")[0]
    assert images.load_image(saved).shape == (32, 27, 3)
    os.unlink(saved)
    os.unlink(captured.err.split("saved it to ")[2].split(" instead")[0])  # the loss curve


def test_overflowing_loss_stops_with_an_error_not_a_result(tmp_path, capsys):
    out = tmp_path / "o.png"
    code = main(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY, "--style-weight", "1e39"])
    captured = capsys.readouterr()
    assert code == 1 and "done" not in captured.out
    assert "not a finite number" in captured.err and "float32 overflows" in captured.err
    assert not out.exists()  # the unchanged content image is not passed off as a result


def test_a_second_ctrl_c_while_saving_still_leaves_a_valid_result(tmp_path, monkeypatch, capsys):
    import signal

    from nst_teach import optimizers

    calls = {"n": 0}
    real = optimizers.fmin_l_bfgs_b

    def interrupted_twice(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C ...
            real(*args, **kwargs)  # (the first interrupts this run)
        return real(*args, **kwargs)

    real_save = images.save_image

    def save_then_interrupt_again(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # ... and again while the result is saved
        return real_save(*args, **kwargs)

    monkeypatch.setattr(optimizers, "fmin_l_bfgs_b", interrupted_twice)
    monkeypatch.setattr(images, "save_image", save_then_interrupt_again)
    out = tmp_path / "o.png"
    assert main(["transfer", "grace_hopper", "cubist", "-o", str(out), *TINY]) == 130
    assert images.load_image(out).shape == (32, 27, 3)
    assert images.load_image(tmp_path / "o_loss.png").shape[1] > 300
    assert "stopped early" in capsys.readouterr().out


def test_ctrl_c_during_start_up_is_one_line(tmp_path, monkeypatch, capsys):
    from nst_teach import optimize

    def slow_start(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(optimize, "setup", slow_start)
    assert main(["transfer", "grace_hopper", "cubist", "-o", str(tmp_path / "o.png"), *TINY]) == 130
    err = capsys.readouterr().err
    assert err == "nst-teach: interrupted before the run started; nothing was written\n"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_mid_run_leave_a_valid_result_and_loss_curve(tmp_path, name):
    import signal
    import time

    out = tmp_path / "o.png"
    env = dict(os.environ, NST_TEACH_OFFLINE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "nst_teach", "transfer", "grace_hopper", "cubist", "-o", str(out),
         "--height", "32", "--iterations", "1000", "--maxfun", "3", "--backbone", "random",
         "--save-every-iteration", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = tmp_path / "o_at_iteration_0.png"
    while not first.exists() and process.poll() is None:  # wait until it is mid-run
        time.sleep(0.2)
    process.send_signal(getattr(signal, name))
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + getattr(signal, name), stderr
    assert "stopped early" in stdout
    assert images.load_image(out).shape == (32, 27, 3)
    assert images.load_image(tmp_path / "o_loss.png").shape[1] > 300


def test_the_readme_main_job_preset_writes_the_picture_and_its_loss_curve(tmp_path, capsys):
    # README's main job is `--preset painterly-quick`; here shrunk to seconds.
    out = tmp_path / "result.png"
    code = main(["transfer", "grace_hopper", "cubist", "-o", str(out), "--preset", "painterly-quick",
                 "--backbone", "random", "--height", "32", "--stages", "0.5:2,1:3", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert images.load_image(out).shape == (32, 27, 3)
    assert images.load_image(tmp_path / "result_loss.png").ndim == 3
