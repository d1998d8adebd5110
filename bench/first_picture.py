"""Seconds from pressing Run to the first picture in the playground (issue 13).

Each case runs in a fresh process, as a student's kernel: import nst_teach,
make the playground (QUICK on the offline backbone, 192 px), then press Run
either at once or after its background warm-up, with or without the quick
first look, and time until the picture first changes; the run is then
stopped. A second Run of the same settings gives the warm-kernel time.
The machine may be shared: compare cases of one invocation::

    python bench/first_picture.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
CASES = {  # name -> (displayed, so warmed up in the background; wait for the warm-up; first look)
    "before: not warmed, no first look": (False, False, False),
    "displayed, Run at once, first look": (True, False, True),
    "displayed, Run after the warm-up, first look": (True, True, True),
    "displayed, Run after the warm-up, no first look": (True, True, False),
}


def first_picture(playground):
    """Press Run; seconds until the image widget first changes; then stop the run."""
    shown = threading.Event()
    playground.image.observe(lambda _: shown.set(), "value")
    start = time.perf_counter()
    playground.run()
    shown.wait(300)
    seconds = time.perf_counter() - start
    playground.stop()
    playground.wait(300)
    playground.image.unobserve_all()
    return round(seconds, 2)


def case(displayed, warmed, look):
    start = time.perf_counter()
    from nst_teach.widgets import Playground

    playground = Playground()
    playground.first_look.value = look
    made = time.perf_counter() - start
    row = {"import_and_make_seconds": round(made, 2)}
    if displayed:
        playground._repr_mimebundle_()  # what Jupyter does to show it
    if warmed:
        begun = time.perf_counter()
        playground.prewarm.wait()
        row["warm_up_seconds"] = round(time.perf_counter() - begun, 2)
    row["first_run_seconds"] = first_picture(playground)
    row["second_run_seconds"] = first_picture(playground)
    return row


def main():
    if len(sys.argv) > 1:
        print(json.dumps(case(*json.loads(sys.argv[1]))))
        return
    for name, flags in CASES.items():
        out = subprocess.run([sys.executable, __file__, json.dumps(flags)], capture_output=True,
                             text=True, check=True, env={**os.environ, "NST_TEACH_OFFLINE": "1"})
        print(json.dumps({"case": name, **json.loads(out.stdout.strip().splitlines()[-1])}),
              flush=True)


if __name__ == "__main__":
    main()
