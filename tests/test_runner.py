"""The playground's run controller without any widget: a recorder view is enough."""

import subprocess
import sys

import numpy as np
import pytest

from nst_teach import QUICK, data, transfer
from nst_teach.runner import RunController

TINY = QUICK.replace(backbone="random", height=32, iterations=2, maxfun=3)
NAMES = ("grace_hopper", "cubist")


class Recorder:
    """A view that keeps every call, in order."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, method):
        return lambda *args: self.calls.append((method, *args))

    def last(self, method):
        return [args for name, *args in self.calls if name == method][-1]


def test_the_controller_imports_no_widgets():
    code = "import sys, nst_teach.runner; print('ipywidgets' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.stdout.split()[-1] == "False", run.stderr[-2000:]


def test_a_run_tells_the_view_everything_and_gives_transfers_result():
    view = Recorder()
    controller = RunController(view, data.example)
    assert controller.run(TINY, NAMES)
    result = controller.wait(timeout=120)
    assert np.array_equal(result.image, transfer(*NAMES, TINY).image)  # the same run
    methods = [name for name, *_ in view.calls]
    assert methods[:3] == ["show_progress", "show_status", "set_running"]
    assert view.calls[0] == ("show_progress", 0, 2) and view.calls[2] == ("set_running", True)
    assert ("show_progress", 2, 2) in view.calls  # after the second round
    assert view.calls[-1] == ("set_running", False)
    assert view.last("add_result") == [result, NAMES, 1]
    assert view.last("show_status")[0].startswith(
        f"done after 2 iterations ({result.history.n_evaluations} evaluations)")
    assert np.array_equal(view.last("show_image")[0], result.image)
    assert controller.results == [result] and "show_error" not in methods


def test_a_staged_run_ends_with_every_stage_in_its_curve_and_count():
    view = Recorder()
    controller = RunController(view, data.example)
    assert controller.run(TINY.replace(stages=((0.5, 3), (1.0, 4))), NAMES)
    result = controller.wait(timeout=120)
    heights = [height for height, _ in result.stage_histories]
    assert len(heights) == 2 and heights[0] < heights[1] == 32
    assert view.last("show_plot")[0] is result.stage_histories
    evaluations = sum(history.n_evaluations for _, history in result.stage_histories)
    assert evaluations > result.history.n_evaluations  # the small stage counts too
    assert view.last("show_status")[0].startswith(f"done after 2 stages ({evaluations} evaluations)")


def test_stop_before_the_first_evaluation_keeps_the_start_and_says_so():
    view = Recorder()
    controller = RunController(view, data.example)
    controller.run(TINY.replace(iterations=50), NAMES)
    controller.stop()
    result = controller.wait(timeout=120)
    assert result.stopped and len(result.history.iteration_loss) <= 1
    assert view.last("show_status")[0].startswith("stopped after")


def test_errors_and_a_second_run_are_reported_to_the_view(monkeypatch):
    view = Recorder()
    controller = RunController(view, data.example)
    assert not controller.run(TINY, ("no_such_picture", "cubist"))
    assert "no_such_picture" in str(view.last("show_error")[0])

    def broken(*args, **kwargs):
        raise RuntimeError("the network is on fire")

    monkeypatch.setattr("nst_teach.runner.transfer", broken)
    controller.run(TINY, NAMES)
    controller.wait(timeout=30)
    assert str(view.last("show_error")[0]) == "the network is on fire"
    assert view.calls[-1] == ("set_running", False) and controller.result is None


@pytest.mark.parametrize("wanted, heights", [(False, [48]), (True, [19, 48])])
def test_the_first_look_runs_first_only_when_wanted(wanted, heights, monkeypatch):
    from nst_teach import optimize

    seen, original = [], optimize.setup
    monkeypatch.setattr(optimize, "setup", lambda c, s, settings, **kw: (
        seen.append(settings.height), original(c, s, settings, **kw))[1])
    controller = RunController(Recorder(), data.example)
    controller.first_look_height = 16
    controller.run(TINY.replace(height=48, iterations=1), NAMES, first_look=wanted)
    assert controller.wait(timeout=120).image.shape[0] == 48
    assert seen == heights
