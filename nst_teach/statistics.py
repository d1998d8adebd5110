"""Style statistics beyond the Gram matrix: what the style loss compares of a layer.

Taught in notebook 10. The book compares Gram matrices (`nst_teach.losses`).
Two statistics here compare the *distribution* of a layer's feature vectors
(one vector of C channels per position) instead:

- ``"gaussian"``: the mean and covariance, compared as the Wasserstein-2
  distance between two Gaussians (crowsonkb/style-transfer-pytorch's default);
- ``"sliced"``: the whole distribution, seen along random directions:
  project, sort, compare (Heitz et al., CVPR 2021).

Both are averages per channel, so they do not grow with the image's size.
A target is computed once from the style image(s) (`gaussian_target`,
`sliced_target`); the distance from it to the combination's features is what
the optimiser minimises (`gaussian_distance`, `sliced_distance`). Every
function takes an optional `mask` of weights per position (spatial control,
notebook 09) and blends several style images as one mixture.

`swag` is not a statistic but a change of what any of them sees: each
channel's activations turned into a softmax over the positions first
(Wang et al., CVPR 2021).
"""

from __future__ import annotations

__all__ = [
    "STATISTICS", "RANK_BINS", "TABLE_LEVELS", "Gaussian", "Quantiles", "moments", "gaussian_target",
    "sqrtm_newton_schulz", "gaussian_distance", "random_directions", "target_levels", "sliced_target",
    "sliced_distance", "swag",
]

from typing import NamedTuple

import numpy as np

from .tensorflow_setup import tf

from .config import STYLE_STATISTICS as STATISTICS  # "gram" (the book's), "gaussian", "sliced"
from .config import RANK_BINS, TABLE_LEVELS, target_levels  # TF-free, for nst_teach.memory

NEWTON_SCHULZ_STEPS = 12
"""Iterations of the matrix square root in `gaussian_distance`: enough for the large
eigenvalues that carry the distance (tests/test_statistics.py measures the error)."""


class Gaussian(NamedTuple):
    """A style layer's Gaussian target: mean (C,), covariance square root (C, C), trace.

    Used by `nst_teach.statistics`.
    """

    mean: tf.Tensor
    cov_sqrt: tf.Tensor
    cov_trace: tf.Tensor


class Quantiles(NamedTuple):
    """A style layer's sliced target: unit directions (C, K) and each direction's quantiles.

    `values[i, k]` is the quantile at level (i + 0.5) / L of the features projected on
    direction k, for L levels (L rows).

    Used by `nst_teach.statistics`.
    """

    directions: tf.Tensor
    values: tf.Tensor


def _flat(features):
    features = tf.convert_to_tensor(features, tf.float32)
    return tf.reshape(features, (-1, features.shape[-1]))


def _position_weights(flat, mask):
    """Weights per position that sum to 1: uniform, or the mask's share."""
    if mask is None:
        n = tf.cast(tf.shape(flat)[0], tf.float32)
        return tf.fill(tf.shape(flat)[:1], 1.0 / n)
    mask = tf.reshape(tf.convert_to_tensor(mask, tf.float32), (-1,))
    return mask / (tf.reduce_sum(mask) + 1e-12)


def moments(features, mask=None):
    """Mean (C,) and covariance (C, C) of the feature vectors, weighted by `mask`.

        mu = sum_p w_p F[p],    Sigma = sum_p w_p (F[p] - mu)(F[p] - mu)^T

    with weights w_p = 1 / positions, or the mask's values normalised to sum 1.

    Taught in notebook 10.
    """
    flat = _flat(features)
    w = _position_weights(flat, mask)
    mean = tf.linalg.matvec(flat, w, transpose_a=True)
    centred = flat - mean
    return mean, tf.matmul(centred * w[:, None], centred, transpose_a=True)


def _mixture(parts, blend):
    """Weights of a blend, normalised: a blend of styles is a mixture of their distributions."""
    blend = np.asarray(blend if blend is not None else [1.0] * len(parts), np.float64)
    return blend / blend.sum()


def gaussian_target(style_features, blend=None):
    """The Gaussian of one style layer's features, or of the mixture of several styles.

    `style_features` is a list of feature maps (one per style image); `blend`
    weighs them (default equal). The mixture's mean and covariance are
    sum w_i mu_i and sum w_i (Sigma_i + mu_i mu_i^T) - mu mu^T; the
    covariance's square root is taken once here, exactly (eigendecomposition
    in float64), since it never changes.

    Taught in notebook 10.
    """
    weights = _mixture(style_features, blend)
    stats = [tuple(np.float64(t.numpy()) for t in moments(f)) for f in style_features]
    mean = sum(w * m for w, (m, _) in zip(weights, stats))
    second = sum(w * (c + np.outer(m, m)) for w, (m, c) in zip(weights, stats))
    cov = second - np.outer(mean, mean)
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    return Gaussian(tf.constant(mean, tf.float32), tf.constant(root, tf.float32),
                    tf.constant(np.trace(cov), tf.float32))


def sqrtm_newton_schulz(matrix, steps=NEWTON_SCHULZ_STEPS):
    """The square root of a symmetric positive semi-definite matrix, by Newton-Schulz.

    Only matrix products, so TensorFlow differentiates it. The matrix is
    first divided by its Frobenius norm (every eigenvalue then lies in
    [0, 1], where the iteration converges); eigenvalues near 0 converge
    last, and those carry little of the trace.

    Taught in notebook 10.
    """
    matrix = tf.convert_to_tensor(matrix, tf.float32)
    norm = tf.norm(matrix) + 1e-12
    eye = tf.eye(matrix.shape[-1], dtype=matrix.dtype)
    y, z = matrix / norm, eye
    for _ in range(steps):
        t = 0.5 * (3.0 * eye - z @ y)
        y, z = y @ t, t @ z
    return y * tf.sqrt(norm)


def gaussian_distance(target, features, mask=None, steps=NEWTON_SCHULZ_STEPS):
    """Squared Wasserstein-2 distance between the target Gaussian and the features', per channel.

        W2^2 = |mu - mu_t|^2 + tr(Sigma) + tr(Sigma_t) - 2 tr sqrt(Sigma_t^1/2 Sigma Sigma_t^1/2)

    divided by the number of channels C. Zero when the two means and covariances are equal,
    whatever the positions' order; symmetric in the two Gaussians.

    Taught in notebook 10.
    """
    mean, cov = moments(features, mask)
    root = target.cov_sqrt
    cross = sqrtm_newton_schulz(root @ cov @ root, steps)
    distance = (tf.reduce_sum(tf.square(mean - target.mean)) + tf.linalg.trace(cov)
                + target.cov_trace - 2.0 * tf.linalg.trace(cross))
    return distance / float(cov.shape[-1])


def random_directions(channels, count=None, seed=0):
    """`count` (default `channels`) random unit directions in channel space, as columns (C, K).

    Drawn from `seed` (an int, or a tuple of them as numpy's generators take),
    and fixed for a whole run, so that the loss L-BFGS minimises does not
    change under it; Adam can take a new set every step (`Settings.sliced_draws`).

    Taught in notebook 10.
    """
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((channels, count or channels))
    return tf.constant(directions / np.linalg.norm(directions, axis=0), tf.float32)


def sliced_target(style_features, levels, directions, blend=None):
    """Quantiles of each style's features projected on `directions`, at `levels` levels.

    `style_features` is a list of feature maps (one per style image); with
    several, their blend is the mixture whose quantiles are taken (each
    position weighs its style's blend weight over its style's positions).
    `levels` is usually `target_levels` of the combination's positions: on
    small maps one per position, so that its sorted projections compare one
    to one (then one style of that size needs nothing but a sort).

    Taught in notebook 10.
    """
    weighted = [(weight, _flat(features)) for weight, features in
                zip(_mixture(style_features, blend), style_features) if weight > 0]
    projected = tf.concat([flat @ directions for _, flat in weighted], axis=0)  # (N, K)
    if len(weighted) == 1:  # one style: its sorted projections are its quantiles at (i + 0.5) / N
        ordered = tf.sort(projected, axis=0)
        if levels == ordered.shape[0]:
            return Quantiles(directions, ordered)
        at = tf.broadcast_to(np.float32((np.arange(levels) + 0.5) / levels), (ordered.shape[1], levels))
        return Quantiles(directions, tf.transpose(_interpolate(tf.transpose(ordered), at)))
    position_weights = np.concatenate([np.full(flat.shape[0], weight / flat.shape[0])
                                       for weight, flat in weighted])
    projected = tf.transpose(projected)  # (K, N): one row per direction
    order = tf.argsort(projected, axis=-1, stable=True)
    w_sorted = tf.gather(tf.constant(position_weights, tf.float64), order)
    cumulative = tf.cumsum(w_sorted, axis=-1) - w_sorted / 2  # each position's level, in order
    at = tf.broadcast_to((np.arange(levels) + 0.5) / levels, (projected.shape[0], levels))
    values = _interp_rows(at, cumulative, tf.gather(projected, order, batch_dims=1))
    return Quantiles(directions, tf.transpose(values))


def _interp_rows(x, xp, fp):
    """`np.interp` row by row: points `x` (K, L), increasing knots `xp` (K, N), their values `fp`."""
    last = xp.shape[-1] - 1
    above = tf.searchsorted(xp, x, side="right")  # the first knot past each point
    low, high = tf.maximum(above - 1, 0), tf.minimum(above, last)
    x_low, x_high = tf.gather(xp, low, batch_dims=1), tf.gather(xp, high, batch_dims=1)
    f_low, f_high = tf.gather(fp, low, batch_dims=1), tf.gather(fp, high, batch_dims=1)
    span = x_high - x_low
    fraction = tf.where(span > 0, (x - x_low) / tf.where(span > 0, span, 1.0), 0.0)
    return f_low + tf.cast(fraction, fp.dtype) * (f_high - f_low)


def sliced_distance(target, features, mask=None, rank_bins=RANK_BINS):
    """Squared sliced Wasserstein distance to the target, per direction.

    Projects each position's features on the target's directions, sorts
    each direction's values and compares them with the target's quantiles
    at the same levels: the mean squared difference, averaged over the
    directions. With `mask`, each position counts by its weight, and sits at
    the level its cumulative weight gives. Zero when the features have the
    target's distribution along every direction, whatever the positions' order.

    A map of more than `rank_bins` positions is not sorted: each value's
    level is read from a histogram of `rank_bins` bins instead
    (`_sliced_by_histogram`), which costs a pass over the values where a sort
    costs log N of them; ``rank_bins=None`` always sorts.

    Taught in notebook 10.
    """
    projected = tf.transpose(_flat(features) @ target.directions)  # (K, N): one row per direction
    quantiles = tf.transpose(target.values)  # (K, L)
    if rank_bins is not None and projected.shape[-1] > rank_bins:
        return _sliced_by_histogram(projected, quantiles, _position_weights(projected[0], mask), rank_bins)
    if mask is None and quantiles.shape[-1] == projected.shape[-1]:  # one to one: no interpolation
        return tf.reduce_mean(tf.square(tf.sort(projected, axis=-1) - quantiles))
    w = _position_weights(projected[0], mask)
    order = tf.argsort(projected, axis=-1, stable=True)
    w_sorted = tf.gather(w, order)  # (K, N): each position's weight, in each direction's order
    level = tf.cumsum(w_sorted, axis=-1) - w_sorted / 2
    difference = tf.gather(projected, order, batch_dims=1) - _interpolate(quantiles, level)
    return tf.reduce_sum(w_sorted * tf.square(difference)) / float(projected.shape[0])


def _sliced_by_histogram(projected, quantiles, w, bins):
    """`sliced_distance` with each value's level read from a histogram, not a sort.

    Each direction's range is cut into `bins` bins; the weight below each
    bin edge gives the edge's level, and the target's quantile at that level
    is the value the edge should have. A value inside a bin is sent to the
    straight line between its edges' targets. The gradient is that of the
    exact distance, 2 w (value - its target) (an envelope argument: the
    matching is optimal, so moving it does not change the derivative), with
    the target read to within a bin; tests/test_statistics.py measures the
    difference from sorting.
    """
    directions = projected.shape[0]
    values = tf.stop_gradient(projected)
    low = tf.reduce_min(values, axis=-1, keepdims=True)
    span = tf.maximum(tf.reduce_max(values, axis=-1, keepdims=True) - low, 1e-30)
    position = (values - low) * (bins / span)  # in bins, from the direction's minimum
    index = tf.minimum(tf.cast(position, tf.int32), bins - 1)
    flat_index = index + tf.range(directions)[:, None] * bins
    mass = tf.math.unsorted_segment_sum(tf.broadcast_to(w, values.shape), flat_index, directions * bins)
    edge_levels = tf.concat([tf.zeros((directions, 1)),
                             tf.cumsum(tf.reshape(mass, (directions, bins)), axis=-1)], axis=-1)
    edge_targets = tf.reshape(_interpolate(quantiles, edge_levels), (-1,))  # (K * (bins + 1),)
    at_edge = flat_index + tf.range(directions)[:, None]  # the bin's lower edge in the flat table
    below, above = tf.gather(edge_targets, at_edge), tf.gather(edge_targets, at_edge + 1)
    target = tf.stop_gradient(below + (position - tf.cast(index, tf.float32)) * (above - below))
    return tf.reduce_sum(w * tf.square(projected - target)) / float(directions)


def _interpolate(quantiles, level):
    """`quantiles` (K, L), at levels (i + 0.5) / L, read at `level` (K, N), linearly."""
    count = quantiles.shape[-1]
    position = tf.clip_by_value(level * count - 0.5, 0.0, count - 1.0)
    low = tf.cast(tf.floor(position), tf.int32)
    high = tf.minimum(low + 1, count - 1)
    fraction = position - tf.cast(low, tf.float32)
    below, above = tf.gather(quantiles, low, batch_dims=1), tf.gather(quantiles, high, batch_dims=1)
    return below + fraction * (above - below)


def swag(features, temperature):
    """Each channel as a softmax over the positions, times their count (SWAG).

        S[p, c] = M * exp(F[p, c] / T) / sum_q exp(F[q, c] / T),   M positions

    Wang, Li and Vasconcelos (CVPR 2021) found that networks whose
    activations are peaky (ResNets) carry style poorly, and smoothed them
    this way before the Gram matrix. On hed-vgg16 it loses the painting: a
    constant added to a channel changes nothing, so its overall level, where
    this backbone keeps the colours, is unseen (docs/quality.md, "SWAG").
    The temperature `T` is in the activations' own units: far above their
    spread, every channel becomes flat (all ones); far below, one position
    takes all. Multiplying by M keeps the mean at 1 whatever the size, as
    the style statistics expect. `features` is (..., h, w, C).

    Taught in notebook 10.
    """
    features = tf.convert_to_tensor(features, tf.float32)
    logits = features / temperature
    logits -= tf.reduce_max(logits, axis=(-3, -2), keepdims=True)
    weights = tf.exp(logits)
    positions = float(features.shape[-3] * features.shape[-2])
    return positions * weights / tf.reduce_sum(weights, axis=(-3, -2), keepdims=True)
