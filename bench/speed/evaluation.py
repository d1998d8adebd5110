"""Seconds per loss-and-gradient evaluation: the book's formulation (a) against nst_teach's (b).

Also this machine's matmul throughput (what (b)'s rate is compared with) and
each 3x3 convolution alone, with TensorFlow's kernel and with Winograd.
"""

from __future__ import annotations

import time

from .common import interleaved, log, setup


def book_loss_and_grads(model, content_x, style_x, settings):
    """Deep Learning with Python 8.3 as written: one batch of three images.

    The content, style and combination images are concatenated into one
    batch that goes through VGG19 at every evaluation; the content target,
    the style Grams and the combination's features all come from that batch,
    and the gradient is taken with respect to the combination image. As in
    the book's `K.function([combination_image], [loss, grads])`, the whole is
    one graph (a `tf.function` here); layers the loss does not use are pruned
    by TensorFlow exactly as the book's session would prune them.
    """
    import tensorflow as tf

    from nst_teach.features import Targets
    from nst_teach.losses import gram_matrix, weighted_losses
    from nst_teach.evaluator import for_scipy, gradient_step

    network = tf.keras.Model(model.input, {n: model.get_layer(n).output for n in settings.layers})
    content = tf.constant(content_x)
    style = tf.constant(style_x)

    def loss(x):
        features = network(tf.concat([content, style, x], axis=0))
        targets = Targets(
            features[settings.content_layer][0:1],
            {n: gram_matrix(features[n][1]) for n in settings.style_layers},
        )
        combination = {n: f[2:3] for n, f in features.items()}
        return weighted_losses(combination, targets, x, settings)

    return for_scipy(gradient_step(loss), content_x.shape)


def conv_flops(model, layers, height, width):
    """FLOPs of one forward pass and one input-gradient pass, up to the deepest layer.

    Counted from the layer shapes as a direct convolution does them: a k x k
    convolution from C_in to C_out channels on an h x w map costs
    2 k^2 C_in C_out h w FLOPs (a multiply and an add), and its gradient with
    respect to its input costs the same. Bias, ReLU, pooling and the losses are
    left out (they are well under 1 %).
    """
    import keras

    deepest = max(model.layers.index(model.get_layer(n)) for n in layers)
    h, w, forward = height, width, 0
    for layer in model.layers[1 : deepest + 1]:
        if isinstance(layer, keras.layers.MaxPooling2D):
            h, w = h // 2, w // 2
        elif isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel_size[0] * layer.kernel_size[1]
            c_in = layer.kernel.shape[2]
            forward += 2 * k * c_in * layer.filters * h * w
    return forward, forward  # forward, input gradient


def matmul_gflops(n=2048, repeats=10):
    """This machine's dense float32 matmul throughput, in GFLOP/s (best of 3 rounds)."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    mm = tf.function(lambda a, b: tf.matmul(a, b))
    mm(a, b).numpy()
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            c = mm(a, b)
        c.numpy()
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def bench_per_evaluation(heights, repeats, with_xla=True):
    import numpy as np

    import tensorflow as tf

    from nst_teach.evaluator import make_loss_and_grads, traced_step
    from nst_teach.features import feature_extractor
    from nst_teach.losses import loss_weights

    rows = []
    for height in heights:
        settings, model, extractor, targets, content_x, style_x = setup(height)
        x = content_x.ravel().astype(np.float64)
        book = book_loss_and_grads(model, content_x, style_x, settings)
        ours = make_loss_and_grads(extractor, targets, settings, content_x.shape)
        step = traced_step(extractor, settings, content_x.shape)
        x32, weights = tf.constant(content_x), loss_weights(settings)

        def graph_only(_):  # (b) without the float64 hand-over to scipy
            parts, grad = step(x32, targets, weights)
            return float(parts["total"]), grad.numpy()

        direct = feature_extractor(model, settings.layers, "direct")  # TensorFlow's kernels only
        paths = {"a_book": book, "b_nst_teach": ours, "b_graph_only": graph_only,
                 "b_direct": make_loss_and_grads(direct, targets, settings, content_x.shape)}
        if with_xla:
            paths["b_xla"] = make_loss_and_grads(extractor, targets, settings, content_x.shape,
                                                 jit_compile=True)
        medians, samples = interleaved(paths, x, repeats)
        losses = {name: fn(x)[0]["total"] for name, fn in paths.items() if name != "b_graph_only"}
        forward, backward = conv_flops(model, settings.layers, *content_x.shape[1:3])
        row = {
            "height": height,
            "width": int(content_x.shape[2]),
            "seconds": medians,
            "samples": samples,
            "loss": losses,
            "ratio_a_over_b": medians["a_book"] / medians["b_nst_teach"],
            "ratio_a_over_b_direct": medians["a_book"] / medians["b_direct"],
            "handover_seconds": medians["b_nst_teach"] - medians["b_graph_only"],
            "flops_b": forward + backward,
            "gflops_b": (forward + backward) / medians["b_nst_teach"] / 1e9,
        }
        if with_xla:
            row["ratio_xla_over_b"] = medians["b_xla"] / medians["b_nst_teach"]
        rows.append(row)
        log(f"  {height} px: a {medians['a_book']:.3f} s, b {medians['b_nst_teach']:.3f} s, "
            f"a/b {row['ratio_a_over_b']:.2f}, b {row['gflops_b']:.0f} GFLOP/s, "
            f"b direct {medians['b_direct']:.3f} s"
            + (f", xla {medians['b_xla']:.3f} s" if with_xla else ""))
    return rows


def bench_layers(height, repeats):
    """Each 3x3 convolution of VGG19 up to block5_conv2, forward and input gradient,
    with TensorFlow's kernel and with Winograd: which layers Winograd should take."""
    import keras
    import numpy as np
    import tensorflow as tf

    from nst_teach.backbones import load_backbone
    from nst_teach.winograd import conv3x3, uses_winograd

    model, _ = load_backbone("random")
    rng = np.random.default_rng(0)
    h, w, rows = height, int(round(height * 341 / 400)), []
    for layer in model.layers[1:model.layers.index(model.get_layer("block5_conv2")) + 1]:
        if isinstance(layer, keras.layers.MaxPooling2D):
            h, w = h // 2, w // 2
            continue
        kernel = layer.kernel.numpy()
        x = tf.constant(rng.normal(size=(1, h, w, kernel.shape[2])).astype(np.float32))
        winograd = conv3x3(kernel)

        def through(conv):
            @tf.function
            def step(x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.reduce_sum(tf.nn.relu(conv(x)))
                return tape.gradient(y, x)
            return lambda x: step(x).numpy()

        paths = {"direct": through(lambda x: tf.nn.conv2d(x, kernel, 1, "SAME")),
                 "winograd": through(winograd)}
        medians, _ = interleaved(paths, x, repeats)
        rows.append({"layer": layer.name, "height": h, "width": w, "c_in": int(kernel.shape[2]),
                     "c_out": int(kernel.shape[3]), "seconds": medians,
                     "speedup": medians["direct"] / medians["winograd"],
                     "uses_winograd": uses_winograd(layer)})
        log(f"  {layer.name} {h}x{w} {kernel.shape[2]}->{kernel.shape[3]}: direct "
            f"{medians['direct'] * 1e3:.1f} ms, winograd {medians['winograd'] * 1e3:.1f} ms")
    return rows
