"""An opt-in bfloat16 evaluation, measured: speed per evaluation, and the loss it reaches.

The backbone's convolutions run in bfloat16 (TensorFlow's oneDNN kernels use
the CPU's AVX512_BF16 / AMX dot products, accumulating in float32); the
feature maps are cast back to float32 for the Gram matrices and the losses.
Both runs (float32 and bfloat16) optimise the QUICK preset on the offline
backbone; each final image is then scored by the same float32 loss, so the
losses compare. Interleaved timings in one process (docs/benchmarks.md)::

    python bench/bfloat16.py
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NST_TEACH_OFFLINE", "1")


def bfloat16_extractor(model, layers):
    """The backbone up to its deepest named layer in bfloat16; features returned in float32."""
    from nst_teach.tensorflow_setup import keras, tf

    deepest = max(model.layers.index(model.get_layer(name)) for name in layers)
    steps = []
    for layer in model.layers[1:deepest + 1]:
        if isinstance(layer, keras.layers.Conv2D):
            steps.append((layer.name, "conv", tf.cast(layer.kernel, tf.bfloat16),
                          tf.cast(layer.bias, tf.bfloat16)))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            steps.append((layer.name, "pool", None, None))
        else:
            raise ValueError(f"unexpected layer {layer.name}")

    def extract(x):
        h, out = tf.cast(x, tf.bfloat16), {}
        for name, kind, kernel, bias in steps:
            if kind == "conv":
                h = tf.nn.relu(tf.nn.conv2d(h, kernel, 1, "SAME") + bias)
            else:
                h = tf.nn.max_pool2d(h, 2, 2, "VALID")
            if name in layers:
                out[name] = tf.cast(h, tf.float32)
        return out

    return extract


def main(height=192, repeats=5):
    import numpy as np

    from nst_teach import images
    from nst_teach.evaluator import Evaluator, make_loss_and_grads
    from nst_teach.optimizers import restarted_lbfgs
    from nst_teach.problem import prepare_images
    from nst_teach.backbones import load_backbone
    from nst_teach.config import QUICK
    from nst_teach.features import compute_targets, feature_extractor
    from nst_teach.tensorflow_setup import tf

    settings = QUICK.replace(height=height, backbone="hed-vgg16")
    model, _ = load_backbone(settings.backbone)
    content, style = prepare_images("grace_hopper", "swirls", settings)
    cx, sx = images.preprocess(content), images.preprocess(style)
    extractors = {"float32 winograd": feature_extractor(model, settings.layers, "winograd"),
                  "float32 direct": feature_extractor(model, settings.layers, "direct"),
                  "bfloat16 direct": bfloat16_extractor(model, settings.layers)}
    problems = {name: make_loss_and_grads(e, compute_targets(e, cx, sx, settings),
                                                   settings, cx.shape)
                for name, e in extractors.items()}
    x = cx.ravel().astype(np.float64)
    for f in problems.values():
        f(x)  # trace
    seconds = {name: [] for name in problems}
    for _ in range(repeats):  # interleaved: the machine's load hits every variant alike
        for name, f in problems.items():
            start = time.perf_counter()
            f(x)
            seconds[name].append(time.perf_counter() - start)
    row = {"height": height, "seconds_per_evaluation (best)":
           {name: round(min(s), 4) for name, s in seconds.items()}}
    reference = problems["float32 direct"]
    parts, grad = reference(x)
    bf_parts, bf_grad = problems["bfloat16 direct"](x)
    row["loss at the content image: bfloat16 / float32"] = round(bf_parts["total"] / parts["total"], 5)
    row["gradient cosine"] = round(float(np.dot(grad, bf_grad)
                                         / np.linalg.norm(grad) / np.linalg.norm(bf_grad)), 5)
    results = {}
    for name in ("float32 direct", "bfloat16 direct"):  # the same run, each precision
        evaluator = Evaluator(problems[name])
        start = time.perf_counter()
        restarted_lbfgs(evaluator, x.copy(), settings, lambda *args: None)
        results[name] = (time.perf_counter() - start, evaluator.best_x)
    for name, (run_seconds, best) in results.items():
        image = images.deprocess(best.reshape(cx.shape))
        scored = reference(images.preprocess(image).ravel().astype(np.float64))[0]["total"]
        row[name] = {"run_seconds": round(run_seconds, 1), "float32 loss of its image": round(scored, 4)}
        images.save_image(image, f"/tmp/bfloat16-{name.split()[0]}.png")
    a, b = (images.deprocess(results[n][1].reshape(cx.shape)).astype(int) for n in results)
    row["mean |pixel difference| (0-255)"] = round(float(np.abs(a - b).mean()), 2)
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
