"""The command line end to end, and its one-line errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

from nst_teach import images
from nst_teach.cli import main

TINY = ["--height", "32", "--iterations", "2", "--maxfun", "4", "--backbone", "random", "--quiet"]


def test_transfer_writes_result_loss_curve_and_iterations(tmp_path, capsys):
    out = tmp_path / "result.png"
    code = main(["transfer", "grace_hopper", "swirls", "-o", str(out), "--save-every-iteration", *TINY])
    assert code == 0
    assert images.load_image(out).shape == (32, 27, 3)
    assert images.load_image(tmp_path / "result_loss.png").shape[1] > 300
    assert (tmp_path / "result_at_iteration_1.png").exists()
    assert "done:" in capsys.readouterr().out


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
        (["grace_hopper", "cubist", "--tv-weight", "-1"], "tv_weight must be a finite number >= 0"),
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
    assert "output must end in .png or .jpg" in capsys.readouterr().err


def test_interrupted_run_still_writes_best_image(tmp_path, monkeypatch, capsys):
    from nst_teach import optimize

    calls = {"n": 0}
    real = optimize.fmin_l_bfgs_b

    def interrupted_second_time(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(optimize, "fmin_l_bfgs_b", interrupted_second_time)
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


def test_threads_can_still_be_set_after_importing_nst_teach():
    # `--threads` sets TensorFlow's thread pools after the import: the import must
    # not have started TensorFlow's runtime (which would make that an error).
    code = ("import tensorflow as tf; from nst_teach import cli, fast; cli._set_threads(1); "
            "print(tf.config.threading.get_intra_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "1"
