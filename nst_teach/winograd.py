"""Winograd convolutions: VGG's 3x3 convolutions with a quarter of the multiplications.

A 3x3 convolution computed directly costs 9 multiplications per output
value and channel pair. Winograd's minimal filtering algorithm F(4x4, 3x3)
(Lavin & Gray 2016) computes a 4x4 block of outputs from a 6x6 input tile
with 36: transform the tile (additions only), multiply element-wise by the
transformed kernel, transform back. Over all channels the 36 element-wise
products become 36 matrix products, which run at the CPU's matmul speed.
The result is the same convolution to float32 round-off (relative error
about 1e-6), so the book's loss is unchanged.

It pays off where the channels are many and the images small (VGG's
blocks 3 to 5, which hold most of the work); for the wide early layers the
transforms cost more than they save, so those keep TensorFlow's kernels.
Every run on a CPU uses it (`Settings.convolution`), except for images
shorter than `MIN_HEIGHT`; on a GPU, TensorFlow's own kernels are faster
(`convolution_for`). Taught in notebook 06 (where the time goes);
docs/benchmarks.md measures it.
"""

from __future__ import annotations

__all__ = ["transform_kernel", "conv3x3", "uses_winograd", "WinogradFeatures", "gpu_visible", "convolution_for"]

import numpy as np

from .tensorflow_setup import keras, tf

# F(4x4, 3x3) with interpolation points 0, 1, -1, 2, -2 and infinity (Lavin & Gray 2016).
_BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
_G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
_AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)

MIN_OUT_CHANNELS = 256
"""Layers with at least this many output channels use Winograd (VGG's blocks 3-5):
below it, TensorFlow's direct kernels measured faster (docs/benchmarks.md)."""


MIN_HEIGHT = 96
"""Images shorter than this use TensorFlow's direct kernels. Measured in one process
(hed-vgg16, 2 cores): the Winograd graph costs 0.24 s more to trace and first run at
64 px and saves 7 ms per evaluation there (break-even after 34 evaluations); at 128 px
0.46 s against 35 ms (13 evaluations); at 192 px 0.59 s against 72 ms (8)."""


def gpu_visible():
    """Whether TensorFlow sees a GPU (its own kernels are the fast ones there).

    Used by `nst_teach.winograd`.
    """
    return bool(tf.config.list_physical_devices("GPU"))


def convolution_for(convolution, height=None):
    """The convolution a run really uses, given `Settings.convolution` and its height.

    Winograd is a CPU choice: on a GPU, and for images shorter than
    `MIN_HEIGHT`, the answer is ``"direct"`` (TensorFlow's kernels); the
    features are the same either way to float32 round-off.

    Used by `nst_teach.features` and `nst_teach.problem`.
    """
    if convolution == "winograd" and ((height is not None and height < MIN_HEIGHT)
                                      or gpu_visible()):
        return "direct"
    return convolution


def transform_kernel(kernel):
    """A (3, 3, C, K) kernel as the 36 (C, K) matrices that F(4x4, 3x3) multiplies by.

    Used by `nst_teach.winograd`.
    """
    g = tf.constant(_G, tf.float32)
    kernel = tf.convert_to_tensor(kernel, tf.float32)
    # In TensorFlow, in float32 (the kernel's own precision): on all cores, and about 5x
    # faster than NumPy's float64 tensordot, which cost a second of each cold start.
    u = tf.einsum("ai,ijn,bj->abn", g, tf.reshape(kernel, (3, 3, -1)), g)  # u[a, b] = (G g G^T)[a, b]
    return tf.reshape(u, (36, *kernel.shape[2:]))


def _winograd(x, u):
    """'same' 3x3 convolution of NHWC `x` with a transformed kernel `u` (36, C, K).

    Height, width and channels must be known when the graph is traced; the
    batch size need not be.
    """
    _, h, w, c = x.shape
    k = u.shape[-1]
    th, tw = -(-h // 4), -(-w // 4)  # 4x4 output blocks, the last ones cropped
    padded = tf.pad(x, [[0, 0], [1, 4 * th + 1 - h], [1, 4 * tw + 1 - w], [0, 0]])
    tiles = tf.image.extract_patches(padded, [1, 6, 6, 1], [1, 4, 4, 1], [1, 1, 1, 1], "VALID")
    tiles = tf.transpose(tf.reshape(tiles, [-1, 36, c]), [1, 0, 2])  # (36, tiles, C)
    v = tf.reshape(tf.matmul(_BT2, tf.reshape(tiles, [36, -1])), [36, -1, c])
    m = tf.matmul(v, u)  # the 36 products, each a (tiles, C) x (C, K) matmul
    y = tf.reshape(tf.matmul(_AT2, tf.reshape(m, [36, -1])), [4, 4, -1, th, tw, k])
    y = tf.reshape(tf.transpose(y, [2, 3, 0, 4, 1, 5]), [-1, 4 * th, 4 * tw, k])
    return y[:, :h, :w, :]


# NumPy, not tensors: creating a tensor at import would start TensorFlow's
# runtime, after which its thread pools can no longer be set (--threads).
_BT2 = np.kron(_BT, _BT).astype(np.float32)  # input transform of a flattened 6x6 tile
_AT2 = np.kron(_AT, _AT).astype(np.float32)  # output transform to a flattened 4x4 block


def conv3x3(kernel):
    """``x -> conv2d(x, kernel, stride 1, 'same')`` computed with Winograd, forward and back.

    The gradient with respect to `x` is itself a 'same' 3x3 convolution (with
    the kernel flipped and its channels swapped), so it runs the same way.
    The kernel is a constant: no gradient flows to it.

    Used by `bench/speed/evaluation.py`.
    """
    kernel = np.asarray(kernel)
    forward = transform_kernel(kernel)
    backward = transform_kernel(np.transpose(kernel[::-1, ::-1], (0, 1, 3, 2)))

    @tf.custom_gradient
    def conv(x):
        return _winograd(x, forward), lambda dy: _winograd(dy, backward)

    return conv


def uses_winograd(layer):
    """Whether `layer` is a VGG-style convolution worth computing with Winograd.

    Used by `bench/speed/evaluation.py`.
    """
    return (isinstance(layer, keras.layers.Conv2D) and tuple(layer.kernel_size) == (3, 3)
            and tuple(layer.strides) == (1, 1) and tuple(layer.dilation_rate) == (1, 1)
            and layer.padding == "same" and layer.groups == 1 and layer.use_bias
            and layer.filters >= MIN_OUT_CHANNELS)


class WinogradFeatures:
    """Like `nst_teach.features.feature_extractor`'s model, with Winograd convolutions.

    Calling it maps a preprocessed image batch to ``{layer name: feature map}``
    for the named layers, running the backbone's layers in order and stopping
    at the deepest one named. Convolutions that `uses_winograd` accepts are
    replaced by `conv3x3` with the same weights, read once when it is built
    (the backbones are never trained); every other layer runs as is.

    Used by `nst_teach.features`.
    """

    def __init__(self, model, layers):
        self.layers = tuple(layers)
        deepest = max(model.layers.index(model.get_layer(name)) for name in self.layers)
        self._steps = []
        for layer in model.layers[1:deepest + 1]:
            if uses_winograd(layer):
                conv, bias, activation = conv3x3(layer.kernel.numpy()), layer.bias, layer.activation
                step = (lambda x, conv=conv, bias=bias, act=activation: act(conv(x) + bias))
            else:
                step = layer
            self._steps.append((layer.name, step))

    def __call__(self, x):
        outputs = {}
        for name, step in self._steps:
            x = step(x)
            if name in self.layers:
                outputs[name] = x
        return outputs
