"""Controls beyond the book: each checked against a property that must hold."""

import numpy as np
import pytest

from nst_teach import Settings, color, data, images, transfer
from nst_teach.problem import setup
from nst_teach.progress import Round

FAST = Settings(height=48, iterations=2, maxfun=8, backbone="random", resample="bicubic")


@pytest.fixture(scope="module")
def content():
    return images.resize(data.example("grace_hopper"), (96, 82), "bicubic")


@pytest.mark.slow
def test_blend_with_weight_one_equals_that_style_alone(content):
    alone = transfer(content, "swirls", FAST)
    blended = transfer(content, ["swirls", "cubist"], FAST, style_blend=(1.0, 0.0))
    assert blended.history.evaluations["total"] == alone.history.evaluations["total"]
    other = transfer(content, ["swirls", "cubist"], FAST, style_blend=(0.5, 0.5))
    assert other.history.evaluations["total"] != alone.history.evaluations["total"]


def test_blend_needs_one_weight_per_style(content):
    with pytest.raises(ValueError, match="3 weights for 2 style image"):
        transfer(content, ["swirls", "cubist"], FAST, style_blend=(1, 1, 1))


@pytest.mark.slow
def test_same_seed_same_trace_other_seed_other_trace(content):
    noisy = FAST.replace(init="noise", seed=3)
    a = transfer(content, "cubist", noisy).history.evaluations["total"]
    b = transfer(content, "cubist", noisy).history.evaluations["total"]
    c = transfer(content, "cubist", noisy.replace(seed=4)).history.evaluations["total"]
    assert a == b and a != c


def test_initialisations(content):
    style = data.example("cubist")
    for init, expected in (("content", None), ("style", style), ("noise", None)):
        problem = setup(content, style, FAST.replace(init=init))
        start = images.deprocess(problem.x0.reshape(problem.shape))
        if init == "content":
            np.testing.assert_array_equal(start, problem.content)
        elif init == "style":
            np.testing.assert_array_equal(start, images.resize(problem.style, start.shape[:2], "bicubic"))
        else:
            assert abs(float(start.mean()) - 127.5) < 10 and start.std() > 60
    given = np.full((10, 10, 3), 77, np.uint8)
    problem = setup(content, style, FAST, init_image=given)
    assert (images.deprocess(problem.x0.reshape(problem.shape)) == 77).all()


@pytest.mark.slow
def test_mask_keeps_style_inside(content):
    mask = np.zeros(content.shape[:2])
    mask[:, : content.shape[1] // 2] = 1.0  # style on the left half only
    settings = FAST.replace(iterations=3, maxfun=15, content_weight=0.0, tv_weight=0.0)
    result = transfer(content, "swirls", settings, mask=mask)
    change = np.abs(result.image.astype(float) - result.content.astype(float)).mean(axis=-1)
    half = change.shape[1] // 2
    inside, outside = change[:, : half - 4].mean(), change[:, half + 12:].mean()
    assert inside > 5 * outside, (inside, outside)


def test_one_mask_per_style(content):
    with pytest.raises(ValueError, match="1 mask.*2 style image"):
        setup(content, ["swirls", "cubist"], FAST, mask=np.ones((4, 4)))


@pytest.mark.slow
def test_style_layer_weights_of_one_are_the_book(content):
    book = setup(content, "swirls", FAST)
    ones = setup(content, "swirls", FAST.replace(style_layer_weights=(1,) * 5))
    first = setup(content, "swirls", FAST.replace(style_layer_weights=(1, 0, 0, 0, 0)))
    only = setup(content, "swirls", FAST.replace(style_layers=("block1_conv1",), style_weight=0.2))
    x = book.x0 + 5.0
    assert ones.loss_and_grads(x)[0] == book.loss_and_grads(x)[0]
    assert first.loss_and_grads(x)[0]["style"] == pytest.approx(only.loss_and_grads(x)[0]["style"], rel=1e-5)


@pytest.mark.slow
def test_style_scale_keeps_gram_per_position_for_a_uniform_texture(content):
    texture = np.tile(data.draw_swirls(size=(16, 16)), (12, 12, 1))  # a periodic texture
    small = setup(content, texture, FAST)
    large = setup(content, texture, FAST.replace(style_scale=2.0))
    assert large.style.shape[0] == 2 * small.style.shape[0]
    x = small.x0
    a, b = small.loss_and_grads(x)[0]["style"], large.loss_and_grads(x)[0]["style"]
    assert b == pytest.approx(a, rel=0.35)  # same texture, same statistics, finer strokes
    with pytest.raises(ValueError, match="style_scale"):
        setup(content, texture, FAST.replace(style_scale=0.1))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["post", "luminance"])
def test_colour_preservation_keeps_the_contents_chroma(content, mode):
    result = transfer(content, "swirls", FAST.replace(preserve_color=mode))
    got, want = color.rgb_to_yiq(result.image), color.rgb_to_yiq(result.content)
    plain = color.rgb_to_yiq(transfer(content, "swirls", FAST).image)
    chroma_error = np.abs(got[..., 1:] - want[..., 1:]).mean()
    assert chroma_error < 2.0
    assert np.abs(plain[..., 1:] - want[..., 1:]).mean() > 3 * chroma_error


def test_histogram_matching_recolours_the_style(content):
    problem = setup(content, "swirls", FAST.replace(preserve_color="histogram"))
    np.testing.assert_allclose(problem.style.reshape(-1, 3).mean(0),
                               problem.content.reshape(-1, 3).mean(0), atol=3)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_other_optimisers_spend_the_same_budget_and_lower_the_loss(content, tmp_path, optimizer):
    settings = FAST.replace(optimizer=optimizer, iterations=3, maxfun=6, learning_rate=8.0)
    result = transfer(content, "swirls", settings, save_prefix=tmp_path / "r")
    h = result.history
    assert h.n_evaluations == 18 and h.iteration_evaluations == [6, 12, 18]
    assert h.iteration_loss == sorted(h.iteration_loss, reverse=True)  # best so far never rises
    assert h.iteration_loss[-1] < h.evaluations["total"][0]
    assert len(list(tmp_path.iterdir())) == 3


def test_continuous_lbfgs_can_be_stopped_at_its_first_round(content):
    result = transfer(content, "swirls", FAST.replace(optimizer="lbfgs"),
                      on_event=lambda event: isinstance(event, Round))
    assert result.stopped and result.history.n_evaluations == FAST.maxfun
