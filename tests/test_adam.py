"""Adam on the pixels and its averaged picture (nst_teach.optimizers.Adam), per run and stage."""

import keras
import numpy as np
import pytest

from nst_teach import Evaluator, Settings, SettingError, data, images, transfer
from nst_teach.optimizers import Adam
from nst_teach.progress import Evaluation
from nst_teach.schedule import coarse_to_fine

TARGET = np.array([3.0, -2.0, 0.5, 10.0])
CURVATURE = np.array([1.0, 4.0, 0.25, 2.0])


def quadratic(x):
    """0.5 * sum(c * (x - a)^2) in the evaluator's form: (parts, gradient)."""
    loss = 0.5 * float(np.sum(CURVATURE * (x - TARGET) ** 2))
    return {"total": loss, "content": loss, "style": 0.0, "tv": 0.0}, CURVATURE * (x - TARGET)


def test_adam_steps_are_keras_adam_on_a_quadratic():
    adam = Adam(np.zeros(4), learning_rate=0.3)
    adam.run(Evaluator(quadratic), 25)
    x = keras.Variable(np.zeros(4), dtype="float64")
    reference = keras.optimizers.Adam(learning_rate=0.3, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    for _ in range(25):
        reference.apply_gradients([(keras.ops.convert_to_tensor(quadratic(np.asarray(x))[1]), x)])
    # Keras keeps its betas in float32 (0.999 is 1.3e-8 off, so 1 - 0.999^t is 1e-5 off at
    # first) and adds epsilon after the bias correction: 1e-5 apart here, 1e-1 for a wrong step
    np.testing.assert_allclose(adam.x, np.asarray(x), rtol=1e-4)


def test_the_averaged_picture_is_the_steps_mean_weighted_by_powers_of_the_decay():
    rng = np.random.default_rng(0)
    adam, steps = Adam(np.zeros(4), learning_rate=0.5, average=0.8), []
    for _ in range(12):
        adam.step(rng.normal(size=4))
        steps.append(adam.x.copy())
    weights = 0.8 ** np.arange(11, -1, -1)  # the last step weighs 1, the one before 0.8, ...
    evaluator = Evaluator(quadratic)
    image, loss = adam.shown(evaluator)
    np.testing.assert_allclose(image, np.average(steps, axis=0, weights=weights), rtol=1e-12)
    assert loss == quadratic(image)[0]["total"] and evaluator.history.n_evaluations == 0


def test_without_averaging_the_picture_is_the_best_step():
    evaluator = Evaluator(quadratic)
    adam = Adam(np.zeros(4), learning_rate=4.0)  # large steps: the loss falls, then rises again
    adam.run(evaluator, 6)
    losses = evaluator.history.evaluations["total"]
    image, loss = adam.shown(evaluator)
    assert loss == min(losses) < losses[-1] and quadratic(image)[0]["total"] == loss


def test_a_run_shows_the_average_live_or_without_averaging_the_best_step():
    for average in (0.8, 0.0):
        evaluator, shown = Evaluator(quadratic), []
        evaluator.on_evaluation = lambda n: shown.append(evaluator.shown_x().copy())  # noqa: B023
        adam = Adam(np.zeros(4), learning_rate=4.0, average=average)
        adam.run(evaluator, 6)
        if average:  # the evaluation before a step shows the average of the steps before it
            assert np.array_equal(shown[0], np.zeros(4))
            np.testing.assert_allclose(evaluator.shown_x(), adam.shown(evaluator)[0], rtol=1e-12)
            assert not np.allclose(evaluator.shown_x(), evaluator.best_x)
        else:
            assert evaluator.shown_x() is evaluator.best_x


def test_the_decay_must_be_below_one():
    with pytest.raises(SettingError, match="adam_average must be a finite number >= 0 and < 1, got 1"):
        Settings(adam_average=1)


FAST = Settings(height=48, backbone="random", resample="bicubic", optimizer="adam",
                adam_average=0.9)
STAGES = ((0.5, 6), (1.0, 6))


@pytest.fixture(scope="module")
def photo():
    return images.resize(data.example("grace_hopper"), (96, 82), "bicubic")


def test_stages_run_adam_and_spend_their_evaluations(photo):
    result = coarse_to_fine(photo, "swirls", FAST, stages=STAGES, learning_rate=8.0)
    assert [h.n_evaluations for _, h in result.stage_histories] == [6, 6]
    assert result.image.shape[0] == 48
    assert result.loss < result.history.evaluations["total"][0]  # the average beats the start


def test_stages_at_a_tiny_step_keep_the_content_image(photo):
    # L-BFGS would move the picture far in 12 evaluations; Adam's steps of 1e-6 leave it
    one_stage = ((1.0, 12),)
    result = coarse_to_fine(photo, "swirls", FAST, stages=one_stage, learning_rate=1e-6)
    content = images.resize(photo, result.image.shape[:2], "bicubic")
    assert np.abs(result.image.astype(int) - content).max() <= 1
    changed = coarse_to_fine(photo, "swirls", FAST, stages=one_stage, learning_rate=8.0)
    assert np.abs(changed.image.astype(int) - content).mean() > 4


def test_transfer_with_adam_shows_the_average_every_iteration(photo):
    result = transfer(photo, "swirls", FAST.replace(iterations=3, maxfun=4, learning_rate=8.0))
    h = result.history
    assert h.iteration_evaluations == [4, 8, 12] and h.n_evaluations == 12
    assert h.iteration_loss[-1] < h.evaluations["total"][0]


def test_a_stop_inside_an_adam_stage_keeps_the_average_so_far(photo):
    live = []

    def stop_at_third(event):
        if isinstance(event, Evaluation):
            live.append(event.image)  # drawn when called: after the run, the average at its end
            return event.count == 3

    result = coarse_to_fine(photo, "swirls", FAST, stages=STAGES, on_event=stop_at_third)
    assert result.stopped and result.n_evaluations == 3 and result.image.shape[0] == 24
    assert np.array_equal(result.image, live[-1]())
