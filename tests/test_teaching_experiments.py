"""Noise reconstruction (notebooks 03, 04) and the optimiser race (notebook 06)."""

import numpy as np
import pytest

from nst_teach import Settings, optimizers
from nst_teach.reconstruct import noise_image, reconstruct

TINY = Settings(height=32, maxfun=5, backbone="random", resample="bicubic")


def test_noise_image_is_faint_grey_noise_and_seeded():
    noise = noise_image((20, 30, 3), seed=1, amplitude=10)
    assert noise.dtype == np.uint8 and noise.shape == (20, 30, 3)
    assert noise.min() >= 118 and noise.max() <= 138 and noise.std() > 3
    assert np.array_equal(noise, noise_image((20, 30, 3), seed=1, amplitude=10))


def test_content_reconstruction_from_a_shallow_layer_approaches_the_target(photo):
    rebuilt, losses = reconstruct(photo, "block1_conv1", "content", 40, backbone="random")
    assert rebuilt.shape == photo.shape and rebuilt.dtype == np.uint8
    assert losses[-1] < 0.01 * losses[0]
    start_error = np.abs(noise_image(photo.shape).astype(float) - photo).mean()
    assert np.abs(rebuilt.astype(float) - photo).mean() < 0.5 * start_error


def test_style_reconstruction_lowers_the_style_loss(photo):
    _, losses = reconstruct(photo, ["block1_conv1", "block2_conv1"], "style", 20,
                            backbone="random")
    assert len(losses) >= 20 and losses[-1] < 0.3 * losses[0]


def test_reconstruct_rejects_an_unknown_kind(photo):
    with pytest.raises(ValueError, match="kind must be"):
        reconstruct(photo, "block1_conv1", "texture", 5, backbone="random")


@pytest.fixture(scope="module")
def race():
    from nst_teach import data, images

    photo = images.resize(data.example("grace_hopper"), (40, 34), "bicubic")
    return optimizers.compare(photo, data.example("cubist"), TINY, budget=12, learning_rate=5.0)


def test_every_optimiser_gets_exactly_the_budget(race):
    assert len(race) == 3
    for run in race.values():
        assert run.history.n_evaluations == 12
        assert run.image.dtype == np.uint8 and run.image.shape[0] == 32


def test_restarted_and_continuous_lbfgs_agree_until_the_first_restart(race):
    book, continuous, adam = (run.history.evaluations["total"] for run in race.values())
    assert book[:5] == pytest.approx(continuous[:5], rel=1e-5)
    assert book[5:] != pytest.approx(continuous[5:], rel=1e-5)
    assert adam[0] == pytest.approx(book[0], rel=1e-5)  # the same starting point
    assert min(adam) < adam[0]


@pytest.mark.parametrize("maxfun", [3, 4, 6])
def test_the_book_restarts_lbfgs_after_every_maxfun_evaluations(maxfun):
    """Each restart begins where the last run ended and forgets the curvature learnt.

    On an ill-conditioned quadratic (independent of nst-teach: loss sum(a x^2),
    gradient 2 a x), a restart shows twice: L-BFGS evaluates its starting point
    again, which a continuous run never does, and its first step is plain
    steepest descent, along -gradient. scipy ends a run at the first iteration
    past `maxfun` evaluations, so runs are at least maxfun + 1 evaluations long.
    """
    a = np.array([1.0, 10.0, 100.0, 1000.0])
    calls = []

    def loss_and_grads(x):
        calls.append(x.copy())
        loss = float(np.sum(a * x**2))
        return {name: loss for name in ("total", "content", "style", "tv")}, 2 * a * x

    evaluator = optimizers.race(loss_and_grads, np.ones(4), Settings(maxfun=maxfun), budget=30)
    assert evaluator.history.n_evaluations == len(calls) == 30
    restarts = [i for i in range(1, len(calls))
                if any(np.array_equal(calls[i], earlier) for earlier in calls[:i])]
    starts = [0, *restarts]
    assert len(restarts) >= 30 // (maxfun + 3)  # several restarts within the budget
    assert all(later - earlier >= maxfun + 1 for earlier, later in zip(starts, starts[1:]))
    for start in (s for s in starts if s + 1 < len(calls)):
        step, downhill = calls[start + 1] - calls[start], -2 * a * calls[start]
        cosine = step @ downhill / (np.linalg.norm(step) * np.linalg.norm(downhill))
        assert cosine == pytest.approx(1.0, abs=1e-9)  # curvature forgotten: steepest descent
    totals = evaluator.history.evaluations["total"]
    for start in restarts:  # each run starts from the best image of the run before
        assert totals[start] == min(totals[:start])


def test_feature_map_grid_shows_the_most_active_channels():
    import matplotlib

    matplotlib.use("Agg")
    from nst_teach.plotting import feature_map_grid, most_active_channels

    maps = np.zeros((1, 4, 4, 10), np.float32)
    means = [0, 5, 0, 1, 0, 9, 0, 3, 0, 0]  # most channels silent, as after ReLU deep in VGG
    maps[0] += np.float32(means)
    assert most_active_channels(maps[0], 3).tolist() == [5, 1, 7]
    axes = feature_map_grid({"block4_conv1": maps}, channels=3)
    assert [ax.get_title() for ax in axes[0]] == ["channel 5", "channel 1", "channel 7"]
