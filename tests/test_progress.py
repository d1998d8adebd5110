"""Live progress: the evaluation events, the throttle and the preview file."""

import numpy as np

from nst_teach import images, optimize
from nst_teach.config import QUICK
from nst_teach.progress import Evaluation, PreviewFile, Throttle

TINY = QUICK.replace(height=32, iterations=2, maxfun=4, backbone="random")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_throttle_waits_for_both_evaluations_and_seconds():
    clock = FakeClock()
    throttle = Throttle(every=3, seconds=0.5, clock=clock)
    answers = []
    for seconds in (0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0):
        clock.now = seconds
        answers.append(throttle())
    # 3 evaluations by 0.3 s but not 0.5 s yet; then 3 more and 0.5 s more only at 2.0
    assert answers == [False, False, False, True, False, False, False, False, True]


def test_events_come_after_every_evaluation_and_leave_the_run_unchanged():
    events = []
    listened = optimize.transfer("grace_hopper", "swirls", TINY, on_event=events.append)
    events = [e for e in events if isinstance(e, Evaluation)]
    plain = optimize.transfer("grace_hopper", "swirls", TINY)
    history = listened.history
    assert [e.count for e in events] == list(range(1, history.n_evaluations + 1))
    assert [e.loss for e in events] == history.evaluations["total"]
    assert [e.losses["style"] for e in events] == history.evaluations["style"]
    assert history.evaluations == plain.history.evaluations
    assert np.array_equal(listened.image, plain.image)
    last = events[-1]
    assert last.height == 32 and last.stage == 0
    # image() is the best image so far: at the end, the result (best of the last round)
    assert np.array_equal(last.image(), listened.image)


def test_events_reach_listeners_with_every_optimiser():
    for optimizer in ("lbfgs", "adam"):
        counts = []
        result = optimize.transfer("grace_hopper", "swirls", TINY.replace(optimizer=optimizer),
                                   on_event=lambda e: counts.append(getattr(e, "count", None)))
        counts = [count for count in counts if count is not None]  # the rounds' events have none
        assert counts == list(range(1, 9)) and len(result.history.iteration_loss) == 2


def test_preview_file_is_written_at_once_then_at_most_every_two_seconds(tmp_path):
    clock = FakeClock()
    path = tmp_path / "preview.png"
    preview = PreviewFile(path, clock=clock)
    shown = iter(np.full((8, 6, 3), value, np.uint8) for value in (10, 20, 30, 40))

    event = Evaluation(1, {"total": 1.0}, 8, 0, None, lambda: next(shown))
    for seconds in (0.0, 1.0, 2.5, 3.0):
        clock.now = seconds
        preview(event)
    assert preview.written == 2
    assert np.all(images.load_image(path) == 20)  # the second image, drawn at 2.5 s


def test_the_progress_bar_grows_its_total_when_l_bfgs_passes_its_budget():
    from nst_teach.progress import ProgressBar

    bar = ProgressBar(3, Evaluation)
    for count in range(1, 6):  # two evaluations past the budget, as a line search can take
        bar(Evaluation(count, {"total": 1.0}, 8, 0, None, lambda: None))
        assert bar.bar.n == count <= bar.bar.total
    bar.close()
