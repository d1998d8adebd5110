"""One event interface: `transfer`, `coarse_to_fine` and `fast.train` all call ``on_event``.

Each run's events are checked against what the run itself recorded (its
`History`, its saved images), and stopping from an event must end each run
with the best image (or the network trained so far) kept.
"""

import numpy as np
import pytest

from nst_teach import QUICK, fast, images
from nst_teach.optimize import transfer
from nst_teach.progress import Evaluation, Round, TrainingStep, combine
from nst_teach.schedule import coarse_to_fine

TINY = QUICK.replace(height=32, iterations=2, maxfun=4, backbone="random")
STAGES = ((0.5, 4), (1.0, 4))
TRAINING = dict(size=32, batch_size=2, backbone="random", style_size=32, checkpoint_every=1000,
                filters=(4, 8, 8), residual_blocks=1, style_layers=("block1_conv2",), steps=3)


def test_transfer_gives_every_evaluation_then_each_round_in_order(photo, tmp_path):
    events = []
    result = transfer(photo, "swirls", TINY, on_event=events.append, save_prefix=tmp_path / "r")
    history = result.history
    rounds = [e for e in events if isinstance(e, Round)]
    evaluations = [e for e in events if isinstance(e, Evaluation)]
    assert len(rounds) + len(evaluations) == len(events)
    # each round comes right after the evaluation that ended it
    ends = [events.index(r) - rounds.index(r) for r in rounds]
    assert ends == history.iteration_evaluations
    assert [e.count for e in evaluations] == list(range(1, history.n_evaluations + 1))
    assert [e.loss for e in evaluations] == history.evaluations["total"]
    assert [(r.index, r.total, r.unit) for r in rounds] == [(0, 2, "iteration"), (1, 2, "iteration")]
    assert [r.loss for r in rounds] == history.iteration_loss
    for r, saved in zip(rounds, result.saved):
        assert np.array_equal(r.image, images.load_image(saved))
    assert np.array_equal(rounds[-1].image, result.image) and not result.stopped


def test_coarse_to_fine_gives_each_stages_evaluations_then_the_stage(photo):
    events = []
    result = coarse_to_fine(photo, "swirls", TINY, stages=STAGES, on_event=events.append)
    expected = []
    for stage, (height, history) in enumerate(result.stage_histories):
        expected += [("Evaluation", stage, height, n) for n in range(1, history.n_evaluations + 1)]
        expected.append(("Round", stage, height, history.n_evaluations))
    got = [(type(e).__name__, e.stage if isinstance(e, Evaluation) else e.index, e.height,
            e.count if isinstance(e, Evaluation) else e.history.n_evaluations) for e in events]
    assert got == expected and [h for h, _ in result.stage_histories][-1] == 32
    last = events[-1]
    assert last.unit == "stage" and last.total == 2 and np.array_equal(last.image, result.image)
    assert last.loss == result.loss


def test_training_gives_every_step_in_order(photo):
    events = []
    result = fast.train(photo, {"a": photo}, fast.FastSettings(**TRAINING), on_event=events.append)
    assert all(isinstance(e, TrainingStep) for e in events)
    assert [(e.step, e.total) for e in events] == [(1, 3), (2, 3), (3, 3)]
    assert [e.loss for e in events] == result.history.losses["total"]
    assert all(e.model is result.model for e in events) and not result.stopped


def stop_at(count, seen):
    """A listener that stops its run at the `count`-th evaluation, keeping that event."""

    def on_event(event):
        if isinstance(event, Evaluation) and event.count == count and not seen:
            seen.append((event, event.image()))  # the best image at that moment
            event.stop()

    return on_event


@pytest.mark.parametrize("stages", [None, STAGES], ids=["transfer", "coarse_to_fine"])
def test_stopping_from_an_evaluation_keeps_the_best_image(photo, stages):
    seen = []
    result = transfer(photo, "swirls", TINY.replace(iterations=5, stages=stages),
                      on_event=stop_at(3, seen))
    (event, best), = seen
    assert result.stopped and event.history.n_evaluations == 3  # the fourth was refused
    assert np.array_equal(result.image, best)
    assert len(result.stage_histories) == (1 if stages else 0)


def test_stopping_training_from_a_step_keeps_the_network_trained_so_far(photo, tmp_path):
    out = tmp_path / "net.keras"
    result = fast.train(photo, {"a": photo}, fast.FastSettings(**TRAINING), output=out,
                        on_event=lambda event: event.step == 2 and event.stop())
    assert result.stopped and result.step == 2 and result.history.steps == [1, 2]
    saved = fast.load_model(out)
    assert saved.nst_info["step"] == 2
    for mine, theirs in zip(result.model.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_combined_listeners_each_see_every_event_and_either_can_stop():
    seen = []
    listener = combine(None, seen.append, lambda event: event == "stop")
    assert listener("go") is False and listener("stop") is True and seen == ["go", "stop"]
    assert combine(None, None) is None
