"""The book's style transfer: `transfer`.

Taught in notebook 06 (the optimisation). The parts have their own modules:
the loss-and-gradient step and the `Evaluator` that feeds scipy
(`nst_teach.evaluator`), the set-up of images, targets and start
(`nst_teach.problem`), the optimisers (`nst_teach.optimizers`), and the run
loop around them and the `Result` it builds (`nst_teach.loop`), which
`nst_teach.schedule.coarse_to_fine` shares.
"""

from __future__ import annotations

__all__ = ["transfer"]

from .config import BOOK
from .loop import RunLoop
from .optimizers import OPTIMIZERS
from .problem import setup
from .progress import Round
from .schedule import coarse_to_fine


def transfer(content, style, settings=BOOK, *, on_event=None, save_prefix=None,
             progress=False, mask=None, init_image=None, **changes):
    """Stylise `content` with `style` by the book's restarted L-BFGS (or `settings.optimizer`).

    After each of the `settings.iterations` rounds of
    ``fmin_l_bfgs_b(maxfun=settings.maxfun)`` the image may be saved and
    `on_event` gets a `nst_teach.progress.Round`. Ctrl-C or ``event.stop()``
    end the run early: the result then holds the best image seen so far and
    ``stopped=True``. With `settings.optimizer` "lbfgs" or "adam" the same
    ``iterations x maxfun`` evaluations are spent, and every `maxfun` of them
    count as an iteration. With `settings.stages` the run goes coarse to fine
    instead (`nst_teach.schedule.coarse_to_fine`): the rounds and the saved
    images then come once per stage.

    Parameters
    ----------
    content, style
        Paths, example names (`nst_teach.data.example_names`), PIL images or
        arrays; `style` may be a list (blended by `settings.style_blend`, or
        one per region of `mask`).
    settings : Settings
        Default the book's; keyword `changes` override single fields
        (``transfer(c, s, height=256)``, aliases such as ``preserve_colour`` too).
    on_event : callable, optional
        ``on_event(event)``, called with a `nst_teach.progress.Evaluation` after
        every loss evaluation (count, losses, ``image()``: progress between
        rounds, for a live picture) and a `nst_teach.progress.Round` after every
        round (its index, loss and image); ``event.stop()`` or a truthy return
        ends the run.
    save_prefix : str or Path, optional
        Save each round's image as ``<save_prefix>_at_iteration_<i>.png`` (atomically).
    progress : bool
        Show a progress bar.
    mask, init_image
        A region for the style, or a starting image: see `nst_teach.problem.setup`.

    Returns
    -------
    nst_teach.loop.Result
        The image, its `History`, the settings, the backbone used and the
        images at their working size.

    Raises
    ------
    LossNotFinite
        When the loss becomes NaN or infinite; it carries the last finite image.
    ValueError
        For invalid settings or images, naming the problem.

    Taught in notebooks 01 and 02.
    """
    settings = settings.replace(**changes) if changes else settings
    if settings.stages is not None:
        return coarse_to_fine(content, style, settings, on_event=on_event, save_prefix=save_prefix,
                              progress=progress, mask=mask, init_image=init_image)
    problem = setup(content, style, settings, mask=mask, init_image=init_image)
    with RunLoop(settings, settings.iterations, "iteration", on_event=on_event,
                 save_prefix=save_prefix, bar=(settings.iterations, Round) if progress else None) as loop:
        evaluator = loop.start(problem)
        with loop.guard():
            OPTIMIZERS[settings.optimizer](evaluator, problem.x0, settings, loop.end_round)
    return loop.finish()
