"""Where a cold start's seconds go: import, backbone, extractor, targets, tracing, evaluations.

Each configuration runs in a fresh process (so every cost is paid once, as a
student pays it after starting a kernel) and prints one JSON line of phase
times. Ratios between configurations come from the same machine state, but
the machine may be shared: read them as ratios, not absolutes::

    python bench/cold_start.py --height 128 --backbone hed-vgg16

Issue 13 (docs/benchmarks.md, "Cold start").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def phases(height, backbone, convolution, evaluations=3):
    """Seconds per phase of a first `transfer`, in this (fresh) process."""
    times, clock = {}, [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        times[name] = round(now - clock[0], 3)
        clock[0] = now

    from nst_teach.tensorflow_setup import tf  # noqa: F401

    lap("import_tensorflow")
    from nst_teach import images
    from nst_teach.backbones import load_backbone
    from nst_teach.config import QUICK
    from nst_teach.evaluator import make_loss_and_grads
    from nst_teach.features import compute_targets, feature_extractor
    from nst_teach.problem import prepare_images
    from nst_teach.winograd import convolution_for

    lap("import_nst_teach")
    settings = QUICK.replace(height=height, backbone=backbone, convolution=convolution)
    content, style = prepare_images("grace_hopper", "swirls", settings)
    lap("images")
    model, _ = load_backbone(settings.backbone)
    lap("build_backbone")
    extractor = feature_extractor(model, settings.layers, convolution_for(settings.convolution, height))
    lap("build_extractor")
    content_x, style_x = images.preprocess(content), images.preprocess(style)
    targets = compute_targets(extractor, content_x, style_x, settings)
    lap("targets")
    loss_and_grads = make_loss_and_grads(extractor, targets, settings, content_x.shape)
    x = content_x.ravel().astype("float64")
    loss_and_grads(x)
    lap("trace_and_first_evaluation")
    for _ in range(evaluations):
        loss_and_grads(x)
    lap(f"next_{evaluations}_evaluations")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, nargs="+", default=[128])
    parser.add_argument("--backbone", default="hed-vgg16")
    parser.add_argument("--convolution", nargs="+", default=["winograd", "direct"])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.one:
        print(json.dumps(phases(args.height[0], args.backbone, args.convolution[0])))
        return
    for height in args.height:
        for convolution in args.convolution:
            start = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--one", "--height", str(height),
                                  "--backbone", args.backbone, "--convolution", convolution],
                                 capture_output=True, text=True, check=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            row.update(height=height, convolution=convolution,
                       process_seconds=round(time.perf_counter() - start, 2))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
