"""Time to the book's *picture*: the book's schedule against coarse to fine, judged (issue 13).

A lower loss is not a better picture, so this benchmark scores pictures with
`nst_teach.judge` (a network other than the backbone). Both routes use the
book's losses and weights on a pretrained backbone (``hed-vgg16`` offline):

- the book's 20 x 20 restarted L-BFGS at full height, its picture scored
  after every round, so we also see when the book itself got there;
- coarse to fine (`nst_teach.schedule.coarse_to_fine`) with several stage
  budgets, the picture scored at the end of each run.

A coarse-to-fine run "reaches the book's picture" when its style and content
scores are both at least those of the book's final picture. Seconds are
wall time from the call (targets, tracing and evaluations included); read
them as ratios within one invocation, since the machine may be shared::

    python bench/time_to_picture.py                          # 400 px, astronaut x swirls
    python bench/time_to_picture.py --content tubingen.jpg --style starry_night.jpg

Writes bench/results/time_to_picture/ (the pictures and a JSON record) and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGETS = (  # coarse-to-fine stages to try: ((fraction of the height, evaluations), ...)
    ((0.25, 60), (0.5, 80), (1.0, 200)),  # reaches the book's final loss (bench/speed)
    ((0.5, 60), (1.0, 60)),
    ((0.5, 30), (1.0, 30)),  # nst_teach.config.FAST_STAGES
)


def book_route(photo, painting, settings, judge, path):
    """The book's schedule, its picture saved at `path`; every round's scores, with its time."""
    from nst_teach import Evaluation, save_image, transfer

    start, judging, rounds, evaluations = time.perf_counter(), [0.0], [], [0]

    def on_event(event):
        if isinstance(event, Evaluation):
            evaluations[0] += 1
            return
        now = time.perf_counter()
        rounds.append({"iteration": event.index, "seconds": round(now - start - judging[0], 2),
                       "evaluations": evaluations[0], "loss": event.loss, **judge(event.image)})
        judging[0] += time.perf_counter() - now  # judging is not the optimisation's time

    save_image(transfer(photo, painting, settings, on_event=on_event).image, path)
    return rounds


def coarse_route(photo, painting, settings, stages, judge, path):
    """One coarse-to-fine run, its picture saved at `path`; its scores and wall time."""
    from nst_teach import save_image
    from nst_teach.schedule import coarse_to_fine

    start = time.perf_counter()
    result = coarse_to_fine(photo, painting, settings, stages=stages)
    seconds = time.perf_counter() - start
    save_image(result.image, path)
    full = result.image.shape[0]
    equivalent = sum(history.n_evaluations * (height / full) ** 2
                     for height, history in result.stage_histories)
    return {"stages": stages, "seconds": round(seconds, 2), "evaluations": round(equivalent, 1),
            "loss": result.history.evaluations["total"][-1], **judge(result.image)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="astronaut")
    parser.add_argument("--style", default="swirls")
    parser.add_argument("--height", type=int, default=400)
    parser.add_argument("--backbone", default="hed-vgg16")
    parser.add_argument("--quick", action="store_true", help="smoke test: 64 px, tiny budgets")
    args = parser.parse_args(argv)

    from nst_teach import judge as judging
    from nst_teach.config import BOOK
    from nst_teach.data import image_or_example

    photo, painting = image_or_example(args.content), image_or_example(args.style)
    settings = BOOK.replace(height=64 if args.quick else args.height, backbone=args.backbone,
                            iterations=2 if args.quick else BOOK.iterations)
    judge = lambda image: {k: round(v, 4) for k, v in  # noqa: E731
                           judging.scores(image, photo, painting).items()}
    budgets = (((0.5, 5), (1.0, 5)),) if args.quick else BUDGETS

    pictures = ROOT / "bench" / "results" / "time_to_picture"
    pictures.mkdir(parents=True, exist_ok=True)
    file_name = lambda stages: "coarse_" + "_".join(f"{f:g}x{n}" for f, n in stages) + ".png"  # noqa: E731
    book = book_route(photo, painting, settings, judge, pictures / "book.png")
    final = book[-1]
    runs = [coarse_route(photo, painting, settings, stages, judge, pictures / file_name(stages))
            for stages in budgets]
    for run in runs:
        run["reaches_book_picture"] = run["style"] >= final["style"] and run["content"] >= final["content"]
        run["share_of_book_time"] = round(run["seconds"] / final["seconds"], 3)
    out = pictures / ("quick.json" if args.quick else "time_to_picture.json")
    out.write_text(json.dumps({"args": vars(args), "book": book, "coarse_to_fine": runs}, indent=1))

    print(f"{args.content} x {args.style}, {settings.height} px, {args.backbone}, book's losses\n")
    print("| route | full-size evaluations | seconds | share of the book's time | style | content "
          "| grain | loss |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in book:
        if row["iteration"] in (0, 4, 9, len(book) - 1):
            print(f"| book, after round {row['iteration'] + 1} | {row['evaluations']} | "
                  f"{row['seconds']:.0f} | "
                  f"{row['seconds'] / final['seconds']:.0%} | {row['style']:.4f} | "
                  f"{row['content']:.3f} | {row['grain']:.2f} | {row['loss']:.4g} |")
    for run in runs:
        stages = " + ".join(f"{n} at {f:g}" for f, n in run["stages"])
        mark = " (reaches the book's picture)" if run["reaches_book_picture"] else ""
        print(f"| coarse to fine: {stages}{mark} | {run['evaluations']:g} (equivalent) | "
              f"{run['seconds']:.0f} | "
              f"{run['share_of_book_time']:.0%} | {run['style']:.4f} | {run['content']:.3f} | "
              f"{run['grain']:.2f} | {run['loss']:.4g} |")


if __name__ == "__main__":
    main()
