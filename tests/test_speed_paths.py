"""The speed features give the same numbers as the plain path (no timings here)."""

import numpy as np
import pytest

from nst_teach import BOOK, data, images
from nst_teach.backbones import load_backbone
from nst_teach.features import compute_targets, feature_extractor
from nst_teach.evaluator import make_loss_and_grads, traced_step
from nst_teach.optimize import transfer
from nst_teach.progress import Round
from nst_teach.schedule import coarse_to_fine, upsample
from nst_teach.stages import stage_heights

SMALL = BOOK.replace(height=32, backbone="random")


def small_problem(rng, settings=SMALL, shape=(1, 32, 28, 3)):
    model, _ = load_backbone("random")
    extractor = feature_extractor(model, settings.layers)
    content_x, style_x, x = rng.normal(scale=40, size=(3, *shape)).astype(np.float32)
    return extractor, compute_targets(extractor, content_x, style_x, settings), x


def test_xla_step_gives_the_same_loss_and_gradient(rng):
    extractor, targets, x = small_problem(rng)
    plain = make_loss_and_grads(extractor, targets, SMALL, x.shape)
    xla = make_loss_and_grads(extractor, targets, SMALL, x.shape, jit_compile=True)
    (p_parts, p_grad), (x_parts, x_grad) = plain(x.ravel()), xla(x.ravel())
    for name in p_parts:
        assert x_parts[name] == pytest.approx(p_parts[name], rel=1e-4)
    np.testing.assert_allclose(x_grad, p_grad, rtol=1e-3, atol=1e-4 * np.abs(p_grad).max())


def test_extractor_and_traced_step_are_reused_but_targets_are_not_stale(rng):
    model, _ = load_backbone("random")
    extractor = feature_extractor(model, SMALL.layers)
    assert feature_extractor(model, SMALL.layers) is extractor
    assert traced_step(extractor, SMALL, (1, 32, 28, 3)) is traced_step(extractor, SMALL, (1, 32, 28, 3))
    assert traced_step(extractor, SMALL, (1, 32, 28, 3)) is not traced_step(
        extractor, SMALL.replace(normalization="paper"), (1, 32, 28, 3))

    _, targets_a, x = small_problem(rng)
    _, targets_b, _ = small_problem(rng)
    first = make_loss_and_grads(extractor, targets_a, SMALL, x.shape)(x.ravel())[0]["total"]
    second = make_loss_and_grads(extractor, targets_b, SMALL, x.shape)(x.ravel())[0]["total"]
    assert second != pytest.approx(first, rel=1e-3)  # new targets, same traced graph
    again = make_loss_and_grads(extractor, targets_a, SMALL, x.shape)(x.ravel())[0]["total"]
    assert again == pytest.approx(first, rel=1e-6)


def test_upsample_and_stage_heights():
    x = np.zeros((1, 10, 8, 3), np.float32)
    assert upsample(x, (20, 16)).shape == (1, 20, 16, 3)
    assert stage_heights(400, ((0.5, 1), (1.0, 1)), BOOK.layers) == [200, 400]
    assert stage_heights(20, ((0.25, 1), (1.0, 1)), BOOK.layers) == [16, 20]  # block5 needs 16
    assert stage_heights(48, ((0.25, 1), (1.0, 1)), BOOK.layers, aspect=0.5) == [32, 48]  # and wide 16


def test_coarse_to_fine_returns_full_size_and_lowers_the_books_loss(photo):
    settings = SMALL.replace(height=48)
    seen = []
    result = coarse_to_fine(photo, data.example("swirls"), settings, stages=((0.5, 8), (1.0, 8)),
                           on_event=lambda event: seen.append(event.height))
    assert result.image.shape == (48, 41, 3) and result.image.dtype == np.uint8
    assert result.content.shape == (48, 41, 3)
    assert [h for h, _ in result.stage_histories] == [24, 48]
    assert set(seen) == {24, 48}
    full = result.history.evaluations["total"]
    assert len(full) + 1 == seen.count(48) and result.loss < full[0]  # and the stage's Round
    # the full-size losses are the book's loss of that image at that size
    model, _ = load_backbone("random")
    extractor = feature_extractor(model, settings.layers)
    content_x = images.preprocess(result.content)
    targets = compute_targets(extractor, content_x, images.preprocess(result.style), settings)
    loss = make_loss_and_grads(extractor, targets, settings, content_x.shape)(
        images.preprocess(result.image).ravel())[0]["total"]
    assert loss == pytest.approx(result.loss, rel=0.05)  # uint8 rounding of the image


def test_coarse_to_fine_stops_at_the_target_loss(photo):
    settings = SMALL.replace(height=48)
    result = coarse_to_fine(photo, photo, settings, stages=((1.0, 30),), target_loss=np.inf)
    assert result.history.n_evaluations == 1


def test_settings_stages_are_checked():
    assert SMALL.replace(stages=[[0.5, 4], [1, 4]]).stages == ((0.5, 4), (1.0, 4))
    for bad in (((1.0, 0),), ((0.5, 4),), ((1.0, 4), (0.5, 4)), ((0, 3), (1, 3)), "fast", ((1.0, 2.5),)):
        with pytest.raises(ValueError, match="stage"):
            SMALL.replace(stages=bad)


def test_transfer_with_stages_goes_coarse_to_fine(photo, tmp_path):
    settings = SMALL.replace(height=48, stages=((0.5, 3), (1.0, 3)))
    seen = []
    result = transfer(photo, data.example("swirls"), settings, save_prefix=tmp_path / "run",
                      on_event=lambda event: isinstance(event, Round)
                      and seen.append((event.index, event.image.shape)))
    assert [h for h, _ in result.stage_histories] == [24, 48]
    assert seen == [(0, (24, 20, 3)), (1, (48, 41, 3))]
    assert [p.name for p in result.saved] == ["run_at_iteration_0.png", "run_at_iteration_1.png"]
    assert images.load_image(result.saved[1]).shape == (48, 41, 3) and not result.stopped


def test_a_staged_run_stops_when_asked(photo):
    settings = SMALL.replace(height=48, stages=((0.5, 20), (1.0, 20)))
    result = transfer(photo, data.example("swirls"), settings, on_event=lambda event: event.stop())
    assert result.stopped and len(result.stage_histories) == 1
    assert result.stage_histories[0][1].n_evaluations == 1  # stopped at its first evaluation


def test_smaller_stages_keep_the_contents_share_of_the_loss(photo):
    from nst_teach.stages import settings_per_stage

    settings = SMALL.replace(height=48)
    half, full = settings_per_stage(settings, ((0.5, 1), (1.0, 1)), photo)
    assert (half.height, full) == (24, settings)
    assert half.content_weight == pytest.approx(4 * settings.content_weight)  # a quarter of the area
