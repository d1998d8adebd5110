"""What C libraries write on file descriptor 2, caught and sorted before it reaches the user.

TensorFlow's start-up (`nst_teach.tensorflow_setup`) and libtiff, while
Pillow decodes a damaged TIFF (`nst_teach.images`), print lines on the
process's standard error that Python's `sys.stderr` never sees. `stderr_captured`
holds them back while a block runs; the caller decides what to pass on.

Plain Python: no TensorFlow.
"""

from __future__ import annotations

__all__ = ["stderr_captured"]

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def stderr_captured():
    """Catch what anything in this process writes on file descriptor 2 while the block runs.

    Yields a list that holds the caught text once the block has ended (also
    when it raised). Used by `nst_teach.tensorflow_setup` and `nst_teach.images`.
    """
    if sys.stderr is not None:
        sys.stderr.flush()
    saved, text = os.dup(2), []
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text.append(captured.read().decode(errors="replace"))
