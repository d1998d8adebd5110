"""TensorFlow and Keras, imported once, quietly, and set up for repeatable runs.

Every module of nst-teach that needs TensorFlow imports it from here, so that
``import nst_teach`` (and the command line's ``--help``) stays fast and
TensorFlow starts only when a module that needs it is used. Notebook 01 says
what a start-up line that still shows means.

Quiet: TensorFlow's C++ core prints up to seven lines while it starts (oneDNN,
CPU flags, "Could not find cuda drivers", and on a machine without a GPU
``E0000 ... failed call to cuInit``), before any Python setting can silence
them. They read as if something broke. We catch what the process writes to
its standard error while TensorFlow starts and pass on every line that is not
one of those known start-up messages, so real errors still show. Set
``NST_TEACH_TF_LOGS=1`` (the command line's ``--verbose``) to see them all.

Repeatable: the first import calls `configure`, which asks TensorFlow to run
one op at a time (see there why), unless you set a number of inter-op threads
yourself before. That, and ``TF_CPP_MIN_LOG_LEVEL=2`` in the environment
(unless set), is all the global state nst-teach sets.
"""

from __future__ import annotations

__all__ = ["quiet_startup", "configure"]

import contextlib
import os
import re
import sys
import warnings

from .streams import stderr_captured

STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"  # absl's preamble
    r"|[IW]\d{4} "  # C++ INFO and WARNING lines: oneDNN, CPU flags, no CUDA drivers
    r"|E\d{4} .*(failed call to cuInit|Unable to register cu\w+ factory)"  # no GPU here
    r"|To enable the following instructions:"  # the CPU-flags line's second half
    r"|.*TF-TRT Warning)"
)
"""Start-up lines that say nothing is wrong; anything else is passed on."""


@contextlib.contextmanager
def quiet_startup(verbose=None):
    """Hide TensorFlow's known start-up lines on file descriptor 2; keep all others.

    Used by `nst_teach.tensorflow_setup`.
    """
    if verbose is None:
        verbose = bool(os.environ.get("NST_TEACH_TF_LOGS"))
    if verbose:
        yield
        return
    text = []
    try:
        with stderr_captured() as text:
            yield
    finally:
        lines = "".join(text).splitlines(keepends=True)
        kept = [line for line in lines if not STARTUP_NOISE.match(line)]
        if kept and sys.stderr is not None:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def _start():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_startup():
        import keras
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe, which logs on a machine without a GPU
    return tf, keras


REPEATABLE_INTER_OP_THREADS = 1


def configure(inter_op_threads=REPEATABLE_INTER_OP_THREADS):
    """Set how many TensorFlow ops may run side by side; returns the number in effect.

    Used by `nst_teach.tensorflow_setup`, which calls it once when nst-teach
    first imports TensorFlow, unless you chose a number yourself before
    (``tf.config.threading.set_inter_op_parallelism_threads``). Why one: with
    the Winograd graph (`nst_teach.winograd`), ops running side by side made
    the gradient differ in its last bits from one run to the next (about one
    evaluation in eight; a scheduling effect we have not pinned down), and
    L-BFGS grows such bits into visibly different images. With one, runs
    repeat bit for bit at about the same speed: each op still uses every core
    (docs/benchmarks.md, thread pools). ``0`` leaves the choice to TensorFlow.

    TensorFlow fixes the number when it runs its first op. Asked for another
    number after that, this warns (`RuntimeWarning`) and changes nothing:
    import nst_teach, or call this, before anything runs in TensorFlow.
    """
    threading = tf.config.threading
    current = threading.get_inter_op_parallelism_threads()
    try:
        threading.set_inter_op_parallelism_threads(inter_op_threads)
    except RuntimeError:
        warnings.warn(
            f"TensorFlow has already run with {current or 'its own choice of'} inter-op threads, "
            f"so nst-teach cannot set {inter_op_threads}: runs may not repeat bit for bit. "
            "Import nst_teach (or call nst_teach.configure) before anything runs in TensorFlow, "
            "in a fresh interpreter or kernel",
            RuntimeWarning, stacklevel=2)
    return threading.get_inter_op_parallelism_threads()


tf, keras = _start()
if tf.config.threading.get_inter_op_parallelism_threads() == 0:  # not chosen by the user
    configure()
