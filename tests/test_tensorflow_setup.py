"""The one global setting nst-teach makes (one inter-op thread), in fresh interpreters."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each case starts TensorFlow in a new interpreter

THREADS = "tf.config.threading.get_inter_op_parallelism_threads()"


def fresh(code):
    """Run `code` in a new interpreter, warnings shown; returns (stdout lines, stderr)."""
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split(), done.stderr


def test_import_sets_one_thread_and_configure_can_change_it_until_tensorflow_runs():
    out, err = fresh(f"""
import nst_teach
from nst_teach.tensorflow_setup import tf
print({THREADS})
print(nst_teach.configure(2))
tf.constant(1.0) + 1  # TensorFlow starts: the number is fixed now
print(nst_teach.configure(2))  # the same number: fine, no warning
print(nst_teach.configure(4))
""")
    assert out == ["1", "2", "2", "2"]
    assert err.count("RuntimeWarning") == 1 and "already run with 2 inter-op threads" in err


def test_a_number_the_user_chose_first_is_left_alone():
    out, err = fresh(f"""
import tensorflow as tf
tf.config.threading.set_inter_op_parallelism_threads(3)
from nst_teach.tensorflow_setup import tf
print({THREADS})
""")
    assert out == ["3"] and "Warning" not in err


def test_tensorflow_already_running_gives_a_warning_that_says_what_to_do():
    out, err = fresh(f"""
import tensorflow as tf
tf.constant(1.0) + 1
import nst_teach.tensorflow_setup
print({THREADS})
""")
    assert out == ["0"]
    assert "RuntimeWarning" in err and "Import nst_teach (or call nst_teach.configure) before" in err
