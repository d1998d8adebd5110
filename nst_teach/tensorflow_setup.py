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

Repeatable: with the Winograd graph (nst_teach.winograd), ops running side by
side made the gradient differ in its last bits from one run to the next
(about one evaluation in eight; a scheduling effect we have not pinned down),
and L-BFGS grows such bits into visibly different images. With one inter-op
thread, runs repeat bit for bit at about the same speed: each op still uses
every core (docs/benchmarks.md, thread pools). This only takes effect if
TensorFlow has not run anything before nst-teach first imports it, and leaves
a number you set yourself alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

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
    """Hide TensorFlow's known start-up lines on file descriptor 2; keep all others."""
    if verbose is None:
        verbose = bool(os.environ.get("NST_TEACH_TF_LOGS"))
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not STARTUP_NOISE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _start():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_startup():
        import keras
        import tensorflow as tf

        if tf.config.threading.get_inter_op_parallelism_threads() == 0:
            with contextlib.suppress(RuntimeError):
                tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.list_physical_devices()  # the CUDA probe, which logs on a machine without a GPU
    return tf, keras


tf, keras = _start()
