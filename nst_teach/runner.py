"""The playground's run controller: runs in a background thread, Stop, warm-up, first look.

No ipywidgets here: the controller tells a *view* what to show, and the
view decides how (`nst_teach.widgets` draws it with widgets; the tests use
a plain recorder). A view has these methods:

- ``show_image(image)``: an RGB uint8 array, the best picture so far;
- ``show_plot(history)``: the loss curve of a `nst_teach.evaluator.History`
  (or of a staged run's stages: `nst_teach.loop.Result.loss_curve`);
- ``show_status(text)``, ``show_error(error)`` (an exception or a text);
- ``show_progress(done, total)``: rounds (or stages) finished;
- ``set_running(running)``: a run started or ended;
- ``add_result(result, names, number)``: a finished run, the `number`-th.

Why the thread only calls these: a widget's value reaches the browser as a
comm message, which ipykernel sends safely from any thread, while printing
from a thread goes to whichever cell is current (since ipykernel 7).
"""

from __future__ import annotations

__all__ = ["Prewarm", "RunController", "stages_text"]

import threading
import time
from functools import partial

from .optimize import transfer
from .problem import warm_up
from .progress import Round, Throttle
from .schedule import FIRST_LOOK, first_look


class Prewarm:
    """Runs the latest requested warm-up in one background thread, skipping stale ones.

    A slider dragged across ten heights asks ten times; only the one asked
    last (and the one already going) is done. Errors are ignored: the same
    settings fail again, visibly, when Run is pressed.

    Used by `nst_teach.runner`.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._wanted = None  # (key, job)
        self._done = None  # the key of the last warm-up done
        self._thread = None

    def request(self, key, job):
        with self._lock:
            self._wanted = None if key == self._done else (key, job)  # back to what is built
            if self._wanted is None:
                return
            if self._thread is None:  # the loop sets it to None, under the lock, as it ends
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="nst-prewarm")
                self._thread.start()

    def _loop(self):
        while True:
            with self._lock:
                if self._wanted is None:
                    self._thread = None
                    return
                key, job = self._wanted
                self._wanted = None
            try:
                job()
            except Exception:  # noqa: BLE001 -- reported by the run itself
                key = None
            with self._lock:
                self._done = key

    def wait(self, timeout=None):
        """Block until what was requested is done (the latest request is the current settings)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    @property
    def done(self):
        return self._done


class RunController:
    """Starts, watches and stops style-transfer runs for a view (see the module's docstring).

    `image_of(name)` turns a picker's name into an RGB array (an example or
    an upload). Finished runs are kept in `results`, the latest in `result`.
    With `first_look`, a run first shows a small quick picture
    (`nst_teach.schedule.first_look`, `first_look_height` px) and starts from it.

    Used by `nst_teach.widgets`.
    """

    def __init__(self, view, image_of):
        self.view, self.image_of = view, image_of
        self.results, self.result = [], None
        self.first_look_height = FIRST_LOOK[0]
        self.prewarm = Prewarm()
        self._thread = None
        self._stop_run = None  # the latest event's stop(): ends the run going now
        self._stop_requested = False
        self._unit, self._total = "iteration", 1
        self._throttle = Throttle()

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def prepare(self, settings, names, first_look=False):
        """Build the network and trace the step for these settings, in the background.

        A run then reuses what it built (`nst_teach.problem.warm_up`).
        """
        if self.running:
            return
        graph = settings.replace(iterations=1, maxfun=1)  # these two change no graph
        key = (graph, *names, first_look, self.first_look_height)
        self.prewarm.request(key, partial(self._warm_up, names, settings, first_look))

    def _warm_up(self, names, settings, wanted):
        content, style = map(self.image_of, names)  # drawing an example style takes a second
        look = self._look(settings, content, wanted)
        for each in (look, settings) if look else (settings,):
            warm_up(content, style, each)

    def _look(self, settings, content, wanted):
        """The settings of the quick first look, or None (off, or the run is as small)."""
        wanted = wanted and settings.height > 1.5 * self.first_look_height
        return first_look(settings, content, self.first_look_height) if wanted else None

    def run(self, settings, names, first_look=False):
        """Start a run of `settings` on the pictures `names` (content, style) in a thread.

        Returns True if it started; otherwise the view was told why.
        """
        if self.running:
            self.view.show_error("a run is already going: press Stop first")
            return False
        try:
            content, style = map(self.image_of, names)
        except ValueError as error:  # ImageError is a ValueError
            self.view.show_error(error)
            return False
        self._stop_requested, self._stop_run = False, None
        self._unit = "stage" if settings.stages else "iteration"
        self._total = len(settings.stages) if settings.stages else settings.iterations
        self.view.show_progress(0, self._total)
        self.view.show_status("loading the network and computing the targets…")
        self.view.set_running(True)
        self._thread = threading.Thread(target=self._work,
                                        args=(content, style, settings, names, first_look),
                                        daemon=True, name="nst-playground")
        self._thread.start()
        return True

    def stop(self):
        """End the run at its next loss evaluation; the best image so far is kept."""
        self._stop_requested = True
        if self._stop_run is not None:
            self._stop_run()
        if self.running:
            self.view.show_status("stopping…")

    def wait(self, timeout=None):
        """Block until the current run has finished (for scripts and tests); the result."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _work(self, content, style, settings, names, wanted):
        start = time.perf_counter()
        try:
            self.prewarm.wait()  # it builds what this run needs: not twice at once
            look = self._first_look(content, style, settings, wanted)
            if look is not None and self._stop_requested:
                result = look
            else:
                self._throttle.start()
                result = transfer(content, style, settings, on_event=self._on_event,
                                  init_image=None if look is None else look.image)
        except Exception as error:  # shown in the view: the thread has no one else to tell
            self.view.show_error(error)
        else:
            self._finish(result, names, time.perf_counter() - start)
        finally:
            self.view.set_running(False)

    def _first_look(self, content, style, settings, wanted):
        """A small quick run whose picture shows at once; the full run starts from it."""
        look_settings = self._look(settings, content, wanted)
        if look_settings is None:
            return None
        self._throttle.start()
        look = transfer(content, style, look_settings,  # its one round is not the run's progress
                        on_event=partial(self._on_event, rounds=False))
        self.view.show_image(look.image)
        self.view.show_status(f"first look at {look.image.shape[0]} px; "
                              f"now at {settings.height} px…")
        return look

    def _on_event(self, event, rounds=True):
        """Every event of a run (`nst_teach.progress`): keep its stop(), show it."""
        self._stop_run = event.stop
        if self._stop_requested:
            event.stop()
        if not isinstance(event, Round):
            self._on_evaluation(event)
        elif rounds:
            self._on_round(event)

    def _on_evaluation(self, event):
        """Show the best image and the loss curve so far, every few evaluations."""
        if not self._throttle():
            return
        self.view.show_image(event.image())
        self.view.show_plot(event.history)
        stage = f"stage {event.stage + 1}, " if self._unit == "stage" else ""
        self.view.show_status(f"{stage}height {event.height} · evaluation {event.count} · "
                              f"loss {event.loss:.4g}"
                              f"{' · stopping…' if self._stop_requested else ''}")

    def _on_round(self, event):
        """Show a finished round (or stage): its image, the loss curve and the progress."""
        self.view.show_image(event.image)
        self.view.show_plot(event.history)
        self.view.show_progress(event.index + 1, event.total)
        self.view.show_status(
            f"{event.unit} {event.index + 1}/{event.total} · "
            f"{event.history.iteration_seconds[-1]:.2f} s per iteration · loss {event.loss:.4g}"
        )

    def _finish(self, result, names, seconds):
        self.result = result
        self.results.append(result)
        self.view.show_image(result.image)
        self.view.show_plot(result.loss_curve)
        stages = len(result.stage_histories)
        done = f"{stages} stages" if stages else f"{len(result.history.iteration_loss)} iterations"
        how = "stopped" if result.stopped else "done"
        self.view.show_status(f"{how} after {done} ({result.n_evaluations} "
                              f"evaluations) in {seconds:.1f} s")
        self.view.add_result(result, names, len(self.results))


def stages_text(stages):
    """``((0.5, 80), (1.0, 200))`` in words. Used by `nst_teach.widgets`."""
    return ", ".join(f"{evaluations} evaluations at {fraction:g}" for fraction, evaluations in stages)
