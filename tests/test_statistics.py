"""The style statistics of notebook 10 against independent formulas, and their properties."""

import numpy as np
import pytest
from scipy.linalg import sqrtm

from nst_teach import statistics
from nst_teach.statistics import (gaussian_distance, gaussian_target, moments, random_directions,
                                  sliced_distance, sliced_target, sqrtm_newton_schulz, swag)

RNG = np.random.default_rng(3)


def features(h=6, w=7, c=5, scale=1.0, shift=0.0, rng=RNG):
    mixing = rng.standard_normal((c, c))
    return np.float32((rng.standard_normal((1, h, w, c)) @ mixing) * scale + shift)


def w2_reference(a, b):
    """Squared W2 between the Gaussians of two feature maps, with scipy's sqrtm, per channel."""
    fa, fb = a.reshape(-1, a.shape[-1]).astype(np.float64), b.reshape(-1, b.shape[-1]).astype(np.float64)
    ma, mb = fa.mean(0), fb.mean(0)
    ca, cb = np.cov(fa.T, bias=True), np.cov(fb.T, bias=True)
    root = sqrtm(ca).real
    cross = sqrtm(root @ cb @ root).real
    return (np.sum((ma - mb) ** 2) + np.trace(ca) + np.trace(cb) - 2 * np.trace(cross)) / fa.shape[1]


def sliced_reference(a, b, directions):
    """Squared sliced W2 with numpy sorting, equal numbers of positions, per direction."""
    pa = np.sort(a.reshape(-1, a.shape[-1]) @ directions, axis=0)
    pb = np.sort(b.reshape(-1, b.shape[-1]) @ directions, axis=0)
    return np.mean((pa - pb) ** 2) * 1.0


def test_moments_match_numpy():
    f = features()
    mean, cov = moments(f)
    flat = f.reshape(-1, 5)
    np.testing.assert_allclose(mean, flat.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cov, np.cov(flat.T, bias=True), rtol=1e-4, atol=1e-4)


def test_moments_with_a_mask_are_those_of_the_masked_positions():
    f = features()
    mask = np.zeros((1, 6, 7, 1), np.float32)
    mask[:, :3] = 1
    mean, cov = moments(f, mask)
    inside = f[:, :3].reshape(-1, 5)
    np.testing.assert_allclose(mean, inside.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cov, np.cov(inside.T, bias=True), rtol=1e-4, atol=1e-4)


def test_newton_schulz_square_root_matches_scipy():
    a = features(10, 10, 6).reshape(-1, 6)
    spd = np.cov(a.T) + 0.1 * np.eye(6)
    root = sqrtm_newton_schulz(np.float32(spd), steps=30).numpy()
    np.testing.assert_allclose(root, sqrtm(spd).real, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(root @ root, spd, rtol=1e-3, atol=1e-3)


def test_gaussian_distance_matches_scipy():
    a, b = features(), features(scale=2.0, shift=1.0)
    ours = gaussian_distance(gaussian_target([a]), b, steps=40).numpy()
    assert ours == pytest.approx(w2_reference(a, b), rel=2e-3)


def test_gaussian_distance_default_steps_are_close_on_real_like_features():
    """ReLU features are sparse, their covariance nearly singular: the default steps stay close."""
    rng = np.random.default_rng(0)
    a = np.maximum(features(16, 16, 32, rng=rng) - 1, 0)
    b = np.maximum(features(16, 16, 32, scale=1.5, rng=rng) - 1, 0)
    reference = w2_reference(a, b)
    assert gaussian_distance(gaussian_target([a]), b).numpy() == pytest.approx(reference, rel=0.02)


def test_gaussian_distance_properties():
    a, b = features(), features(scale=0.5, shift=-1.0)
    assert gaussian_distance(gaussian_target([a]), a).numpy() == pytest.approx(0, abs=1e-3)
    ab = gaussian_distance(gaussian_target([a]), b, steps=40).numpy()
    ba = gaussian_distance(gaussian_target([b]), a, steps=40).numpy()
    assert ab == pytest.approx(ba, rel=2e-3)
    shuffled = RNG.permutation(b.reshape(-1, 5)).reshape(b.shape)
    assert gaussian_distance(gaussian_target([a]), shuffled, steps=40).numpy() == pytest.approx(ab, rel=1e-4)


def test_a_blend_of_gaussians_is_their_mixture():
    a, b = features(6, 7), features(6, 7, shift=3.0)
    both = np.concatenate([a, a, a, b], axis=1)  # three quarters a, one quarter b
    target = gaussian_target([a, b], blend=(3, 1))
    mean, cov = moments(both)
    np.testing.assert_allclose(target.mean, mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(target.cov_sqrt.numpy() @ target.cov_sqrt.numpy(), cov, rtol=1e-3, atol=1e-3)


def quantiles_reference(parts, blend, levels, directions):
    """The blend's quantiles by numpy: each style's positions share its weight, np.interp per direction."""
    projected = np.concatenate([p.reshape(-1, p.shape[-1]) @ directions for p in parts])
    weights = np.concatenate([np.full(p[0, ..., 0].size, b / sum(blend)) / p[0, ..., 0].size
                              for p, b in zip(parts, blend)])
    order = np.argsort(projected, axis=0, kind="stable")
    level = np.cumsum(weights[order], axis=0) - weights[order] / 2
    at = (np.arange(levels) + 0.5) / levels
    return np.stack([np.interp(at, level[:, k], np.take_along_axis(projected, order, 0)[:, k])
                     for k in range(projected.shape[1])], axis=1)


@pytest.mark.parametrize("shapes, blend, levels", [
    ([(6, 7)], (1.0,), 42),  # one style at the combination's size: a sort
    ([(6, 7)], (1.0,), 30),  # another number of levels
    ([(6, 7), (3, 4)], (3.0, 1.0), 42),  # a blend of two sizes
])
def test_sliced_target_is_the_blends_quantiles(shapes, blend, levels):
    parts = [features(h, w, scale=1 + i, shift=i) for i, (h, w) in enumerate(shapes)]
    directions = random_directions(5, 8, seed=9)
    target = sliced_target(parts, levels, directions, blend)
    np.testing.assert_allclose(target.values.numpy(),
                               quantiles_reference(parts, blend, levels, directions.numpy()),
                               rtol=1e-5, atol=1e-5)


def test_sliced_distance_matches_numpy_sorting():
    a, b = features(), features(scale=2.0, shift=1.0)
    directions = random_directions(5, 8, seed=1)
    target = sliced_target([a], 42, directions)
    assert sliced_distance(target, b).numpy() == pytest.approx(
        sliced_reference(a, b, directions.numpy()), rel=1e-4)


def test_sliced_distance_properties():
    a, b = features(), features(scale=0.5, shift=-1.0)
    d = random_directions(5, seed=2)
    assert sliced_distance(sliced_target([a], 42, d), a).numpy() == pytest.approx(0, abs=1e-6)
    ab = sliced_distance(sliced_target([a], 42, d), b).numpy()
    assert ab > 0
    assert sliced_distance(sliced_target([b], 42, d), a).numpy() == pytest.approx(ab, rel=1e-4)
    shuffled = RNG.permutation(b.reshape(-1, 5)).reshape(b.shape)
    assert sliced_distance(sliced_target([a], 42, d), shuffled).numpy() == pytest.approx(ab, rel=1e-5)


def test_sliced_sees_what_the_gram_matrix_cannot():
    """Same Gram matrix, different distributions: +-1 against 0 or +-sqrt(2)."""
    signs = np.float32(np.tile([1, -1], 8).reshape(1, 4, 4, 1))
    spread = np.float32(np.tile([0, np.sqrt(2), 0, -np.sqrt(2)], 4).reshape(1, 4, 4, 1))
    gram = lambda f: f.reshape(-1, 1).T @ f.reshape(-1, 1)  # noqa: E731
    np.testing.assert_allclose(gram(signs), gram(spread), rtol=1e-6)
    d = random_directions(1, seed=0)
    assert sliced_distance(sliced_target([signs], 16, d), spread).numpy() > 0.1


def test_sliced_target_of_another_size_compares_by_quantiles():
    """A style twice as large (every value twice) has the same quantiles: distance 0."""
    a = features(4, 5)
    twice = np.concatenate([a, a], axis=1)
    d = random_directions(5, seed=4)
    assert sliced_distance(sliced_target([twice], 20, d), a).numpy() == pytest.approx(0, abs=1e-6)


def test_sliced_distance_with_a_mask_counts_the_masked_positions_only():
    a, b = features(), features(scale=2.0)
    d = random_directions(5, seed=5)
    mask = np.zeros((1, 6, 7, 1), np.float32)
    mask[:, :3] = 1
    inside = b[:, :3]
    target = sliced_target([a], 21, d)  # the masked region has 21 positions
    assert sliced_distance(target, b, mask).numpy() == pytest.approx(
        sliced_distance(target, inside).numpy(), rel=1e-4)
    assert sliced_distance(target, b, mask).numpy() != pytest.approx(sliced_distance(target, b).numpy(), rel=1e-2)


def _value_and_gradient(target, b, mask=None, rank_bins=statistics.RANK_BINS):
    import tensorflow as tf

    b = tf.Variable(b)
    with tf.GradientTape() as tape:
        value = sliced_distance(target, b, mask, rank_bins)
    return value.numpy(), tape.gradient(value, b).numpy()


@pytest.mark.parametrize("levels, masked", [(2304, False), (1000, False), (2304, True)])
def test_large_maps_read_levels_from_a_histogram_as_close_as_sorting(levels, masked):
    """48 x 48 positions (over RANK_BINS): within a fraction of a percent of the sorted distance."""
    a, b = features(48, 48, 8), features(48, 48, 8, scale=2.0, shift=1.0)
    d = random_directions(8, seed=6)
    mask = np.float32(RNG.uniform(size=(1, 48, 48, 1)) > 0.3) if masked else None
    target = sliced_target([a], levels, d)
    value, gradient = _value_and_gradient(target, b, mask)
    sorted_value, sorted_gradient = _value_and_gradient(target, b, mask, rank_bins=None)
    assert value == pytest.approx(sorted_value, rel=2e-3)
    assert np.linalg.norm(gradient - sorted_gradient) < 0.02 * np.linalg.norm(sorted_gradient)
    if levels == 2304 and not masked:
        assert value == pytest.approx(sliced_reference(a, b, d.numpy()), rel=2e-3)


def test_a_large_maps_target_table_of_fewer_levels_reads_the_same():
    """TABLE_LEVELS instead of a level per position: the same distance and gradient, nearly."""
    a, b = features(48, 48, 8), features(48, 48, 8, scale=2.0, shift=1.0)
    d = random_directions(8, seed=8)
    bins = 64  # and a table 16 times finer than the bins, as TABLE_LEVELS is than RANK_BINS
    full, few = sliced_target([a], 2304, d), sliced_target([a], 16 * bins, d)
    value, gradient = _value_and_gradient(full, b, rank_bins=bins)
    few_value, few_gradient = _value_and_gradient(few, b, rank_bins=bins)
    assert few_value == pytest.approx(value, rel=2e-3)
    assert np.linalg.norm(few_gradient - gradient) < 0.02 * np.linalg.norm(gradient)
    assert statistics.target_levels(1000) == 1000  # compared one to one
    assert statistics.target_levels(10 ** 6) == statistics.TABLE_LEVELS
    assert statistics.TABLE_LEVELS == 16 * statistics.RANK_BINS


def test_random_directions_of_another_draw_are_other_unit_directions():
    first, again, other = (random_directions(6, 9, seed) for seed in (3, 3, (3, 1, 2)))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    np.testing.assert_allclose(np.linalg.norm(other.numpy(), axis=0), 1.0, rtol=1e-6)
    assert np.abs(first.numpy() - other.numpy()).max() > 0.1


def test_large_maps_keep_the_distance_properties():
    a, b = features(48, 48, 8), features(48, 48, 8, scale=0.5, shift=-1.0)
    d = random_directions(8, seed=7)
    ab = sliced_distance(sliced_target([a], 2304, d), b).numpy()
    assert sliced_distance(sliced_target([a], 2304, d), a).numpy() < 1e-3 * ab
    shuffled = RNG.permutation(b.reshape(-1, 8)).reshape(b.shape)
    assert sliced_distance(sliced_target([a], 2304, d), shuffled).numpy() == pytest.approx(ab, rel=1e-5)
    assert sliced_distance(sliced_target([b], 2304, d), a).numpy() == pytest.approx(ab, rel=2e-3)


@pytest.mark.parametrize("distance, target", [
    (gaussian_distance, lambda a: gaussian_target([a])),
    (sliced_distance, lambda a: sliced_target([a], 42, random_directions(5, seed=0))),
])
def test_the_distances_have_gradients_that_lower_them(distance, target):
    import tensorflow as tf

    a, b = features(), tf.Variable(features(scale=2.0, shift=1.0))
    goal = target(a)
    before = float(distance(goal, b))
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = distance(goal, b)
        b.assign_sub(5.0 * tape.gradient(loss, b))  # the distances are averages over 42 positions
    assert float(distance(goal, b)) < 0.5 * before


def test_statistics_are_the_settings_choices():
    from nst_teach.config import Settings

    assert statistics.STATISTICS == ("gram", "gaussian", "sliced")
    assert Settings().style_statistic == "gram"
    with pytest.raises(ValueError, match="style_statistic"):
        Settings(style_statistic="moments")


def test_quantiles_at_other_levels_are_read_by_interpolation():
    """Quantiles at 40 levels of a set with every value twice, read at the set's 20 levels: exact."""
    a = features(4, 5)
    twice = np.concatenate([a, a], axis=1)
    d = random_directions(5, seed=6)
    at_40 = sliced_target([twice], 40, d)
    assert sliced_distance(at_40, a).numpy() == pytest.approx(0, abs=1e-6)
    assert sliced_distance(at_40, 2 * a).numpy() == pytest.approx(
        sliced_distance(sliced_target([a], 20, d), 2 * a).numpy(), rel=1e-5)


def test_swag_is_a_softmax_over_positions_per_channel():
    from scipy.special import softmax

    f = features(scale=20.0)
    expected = softmax(f.reshape(-1, 5) / 7.0, axis=0).reshape(f.shape) * (6 * 7)
    np.testing.assert_allclose(swag(f, 7.0).numpy(), expected, rtol=1e-5)


def test_swag_properties():
    f = features(scale=20.0)
    smoothed = swag(f, 5.0).numpy()
    np.testing.assert_allclose(smoothed.mean(axis=(1, 2)), 1.0, rtol=1e-5)  # mean 1 per channel
    shifted = f + np.arange(5, dtype=np.float32) * 30  # a constant per channel changes nothing
    np.testing.assert_allclose(swag(shifted, 5.0).numpy(), smoothed, rtol=1e-4)
    order = RNG.permutation(42)  # moving positions moves their values, nothing else
    moved = f.reshape(42, 5)[order].reshape(f.shape)
    np.testing.assert_allclose(swag(moved, 5.0).numpy().reshape(42, 5), smoothed.reshape(42, 5)[order],
                               rtol=1e-5)
    np.testing.assert_allclose(swag(f, 1e9).numpy(), 1.0, rtol=1e-5)  # hot: flat
    cold = swag(f, 1e-3).numpy().reshape(42, 5)  # cold: the largest position takes all
    np.testing.assert_allclose(cold.max(axis=0), 42.0, rtol=1e-5)


# The statistic through the run: blends, masks, style scale, coarse to fine, the fast network.

def small_settings(statistic, swag_temperature=None):
    from nst_teach import Settings

    return Settings(height=48, iterations=1, maxfun=6, backbone="random", resample="bicubic",
                    style_statistic=statistic, style_weight=1e3, swag_temperature=swag_temperature)


WITH_SWAG = [("gaussian", None), ("sliced", None), ("gram", 5.0), ("sliced", 5.0)]


@pytest.fixture(scope="module")
def photo():
    from nst_teach import data, images

    return images.resize(data.example("grace_hopper"), (64, 55), "bicubic")


@pytest.mark.parametrize("statistic", ["gaussian", "sliced"])
def test_a_blend_weighted_one_zero_is_that_style_alone(photo, statistic):
    from nst_teach.optimize import setup

    settings = small_settings(statistic)
    alone = setup(photo, "swirls", settings)
    blended = setup(photo, ["swirls", "cubist"], settings.replace(style_blend=(1.0, 0.0)))
    parts_alone, _ = alone.loss_and_grads(alone.x0)
    parts_blend, _ = blended.loss_and_grads(blended.x0)
    assert parts_blend["style"] == pytest.approx(parts_alone["style"], rel=1e-4)
    other = setup(photo, ["swirls", "cubist"], settings.replace(style_blend=(0.5, 0.5)))
    assert other.loss_and_grads(other.x0)[0]["style"] != pytest.approx(parts_alone["style"], rel=1e-3)


@pytest.mark.parametrize("optimizer, period", [("adam", 3), ("lbfgs", 1)])
def test_adam_takes_the_sliced_draws_in_turn(photo, optimizer, period):
    """Each evaluation the next set of directions, the first the usual one; L-BFGS keeps it."""
    from nst_teach.optimize import setup

    settings = small_settings("sliced").replace(optimizer=optimizer)
    one = setup(photo, "swirls", settings)
    drawn = setup(photo, "swirls", settings.replace(sliced_draws=3))
    styles = [drawn.loss_and_grads(drawn.x0)[0]["style"] for _ in range(7)]
    assert styles[0] == pytest.approx(one.loss_and_grads(one.x0)[0]["style"], rel=1e-6)
    assert styles[period:] == pytest.approx(styles[:-period], rel=1e-6)  # repeats with the period
    assert (len(set(styles)) > 1) == (period > 1)
    masked = setup(photo, "swirls", settings.replace(sliced_draws=3), mask=np.ones(photo.shape[:2]))
    assert [masked.loss_and_grads(masked.x0)[0]["style"] for _ in range(7)] == pytest.approx(styles, rel=1e-4)


@pytest.mark.parametrize("statistic, swag_temperature", WITH_SWAG)
def test_a_mask_of_ones_is_no_mask(photo, statistic, swag_temperature):
    from nst_teach.optimize import setup

    settings = small_settings(statistic, swag_temperature)
    plain = setup(photo, "swirls", settings)
    masked = setup(photo, "swirls", settings, mask=np.ones(photo.shape[:2]))
    half = np.ones(photo.shape[:2])
    half[:, : photo.shape[1] // 2] = 0
    halved = setup(photo, "swirls", settings, mask=half)
    style = lambda problem: problem.loss_and_grads(problem.x0)[0]["style"]  # noqa: E731
    assert style(masked) == pytest.approx(style(plain), rel=2e-3)
    assert style(halved) != pytest.approx(style(plain), rel=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize("statistic, swag_temperature", WITH_SWAG)
def test_every_control_runs_with_the_statistic_and_lowers_its_loss(photo, statistic, swag_temperature):
    from nst_teach import transfer

    settings = small_settings(statistic, swag_temperature).replace(
        style_scale=1.5, preserve_color="luminance", stages=((0.5, 6), (1.0, 6)))
    result = transfer(photo, ["swirls", "cubist"], settings, style_blend=(0.7, 0.3))
    assert result.image.shape[:2] == (48, 41)
    plain = transfer(photo, "swirls", small_settings(statistic, swag_temperature).replace(iterations=3))
    losses = plain.history.iteration_loss
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("statistic", ["gaussian", "sliced"])
def test_fast_network_style_term_is_one_for_all_zero_features(statistic):
    import tensorflow as tf

    from nst_teach import data, fast, images

    settings = fast.FastSettings(size=32, batch_size=1, backbone="random", style_size=32,
                                 style_layers=("block1_conv2", "block2_conv2"),
                                 style_statistic=statistic)
    loss, _ = fast.make_loss(images.resize(data.example("swirls"), (48, 48), "bicubic"), settings)
    zeros = tf.zeros((1, 32, 32, 64))
    assert float(loss._relative_style("block1_conv2", zeros)) == pytest.approx(1.0, rel=1e-4)
    outputs = tf.random.uniform((1, 32, 32, 3), 0, 255, seed=1)
    some = loss.features(fast.vgg_input(outputs))["block1_conv2"]
    assert 0 < float(loss._relative_style("block1_conv2", some)) < 10


@pytest.mark.parametrize("statistic", ["gram", "sliced"])
def test_swag_smooths_the_target_and_the_combination_alike(photo, statistic):
    from nst_teach.optimize import setup

    def style(settings):
        problem = setup(photo, "swirls", settings)
        return problem.loss_and_grads(problem.x0)[0]["style"]

    assert style(small_settings(statistic, 5.0)) > 0
    # So hot that every channel is flat on both sides: nothing left to match.
    assert style(small_settings(statistic, 1e9)) == pytest.approx(0, abs=1e-6 * style(small_settings(statistic)))


def test_fast_network_trains_on_swag_smoothed_features():
    import tensorflow as tf

    from nst_teach import data, fast, images

    settings = fast.FastSettings(size=32, batch_size=1, backbone="random", style_size=32,
                                 style_layers=("block1_conv2", "block2_conv2"), swag_temperature=1e9)
    loss, _ = fast.make_loss(images.resize(data.example("swirls"), (48, 48), "bicubic"), settings)
    outputs = tf.random.uniform((1, 32, 32, 3), 0, 255, seed=1)
    some = loss.features(fast.vgg_input(outputs))["block1_conv2"]
    assert float(loss._relative_style("block1_conv2", some)) == pytest.approx(0, abs=1e-6)
    warm = fast.make_loss(images.resize(data.example("swirls"), (48, 48), "bicubic"),
                          settings.replace(swag_temperature=5.0))[0]
    assert float(warm._relative_style("block1_conv2", some)) > 1e-3


def test_the_memory_estimate_counts_the_sliced_tables_that_are_built():
    """`memory.sliced_tables_gb` against the bytes of real targets, past TABLE_LEVELS in block 1."""
    from nst_teach import data, images, memory
    from nst_teach.backbones import load_backbone
    from nst_teach.features import feature_extractor, target_draws

    settings = small_settings("sliced").replace(height=160, optimizer="adam", sliced_draws=3)
    content = images.resize(data.example("grace_hopper"), (160, 137), "bicubic")
    style = images.resize(data.example("swirls"), (160, 137), "bicubic")
    model, _ = load_backbone("random")
    extractor = feature_extractor(model, settings.layers)
    targets = target_draws(extractor, images.preprocess(content), images.preprocess(style), settings,
                           draws=settings.sliced_draws)
    assert targets[0].style["block1_conv1"].values.shape[0] == statistics.TABLE_LEVELS  # capped
    built = sum(4 * (np.size(q.directions) + np.size(q.values)) for t in targets for q in t.style.values())
    estimate = memory.sliced_tables_gb(160, 137, settings) * 1e9
    assert built <= estimate <= 1.05 * built  # never less; more only by rounding the maps' sizes up
    assert memory.sliced_tables_gb(160, 137, settings.replace(optimizer="lbfgs")) == pytest.approx(estimate / 3e9)
    assert memory.sliced_tables_gb(160, 137, settings.replace(style_statistic="gram")) == 0
