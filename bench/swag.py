"""Does SWAG's smoothing help hed-vgg16 carry a style? (docs/quality.md, "SWAG")

    python bench/swag.py [--pairs astronaut:swirls,grace_hopper:cubist] [--height 128]

For each pair, `painterly-quick`'s sliced and Gram values at a small height,
with one stage of 60 evaluations, first as they are, then with the style
layers smoothed (`nst_teach.statistics.swag`) at several temperatures. A
smoothed loss has another scale, so its style weight is set to give the
same style loss at the start as the plain run has (and ten times that, to
see whether more weight buys style). Each picture is scored by the judge;
results go to bench/results/swag.json and the pictures beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results" / "swag"


def run(photo, painting, settings):
    """The picture, its judge scores and its style loss at the first evaluation."""
    import nst_teach
    from nst_teach import judge

    result = nst_teach.transfer(photo, painting, settings, progress=False)
    return result.image, judge.scores(result.image, photo, painting), result.history.evaluations["style"][0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="astronaut:swirls,grace_hopper:cubist")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--temperatures", default="20,60,200")
    args = parser.parse_args(argv)

    import nst_teach
    from nst_teach.config import PAINTERLY_QUICK_BY_STATISTIC
    from nst_teach.data import image_or_example

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for pair in args.pairs.split(","):
        photo, painting = (image_or_example(name) for name in pair.split(":"))
        for statistic in ("sliced", "gram"):
            plain = PAINTERLY_QUICK_BY_STATISTIC["hed-vgg16"][statistic].replace(
                height=args.height, stages=((1.0, 60),))
            image, scores, start = run(photo, painting, plain)
            nst_teach.save_image(image, OUT / f"{pair.replace(':', '_')}_{statistic}_plain.png")
            rows.append({"pair": pair, "statistic": statistic, "temperature": None,
                         "style_weight": plain.style_weight, **scores})
            print(json.dumps(rows[-1]), flush=True)
            for temperature in map(float, args.temperatures.split(",")):
                smoothed = plain.replace(swag_temperature=temperature)
                probe = run(photo, painting, smoothed.replace(stages=((1.0, 1),)))[2]
                for factor in (1, 10):
                    weight = plain.style_weight * start / probe * factor
                    image, scores, _ = run(photo, painting, smoothed.replace(style_weight=weight))
                    name = f"{pair.replace(':', '_')}_{statistic}_T{temperature:g}_x{factor}.png"
                    nst_teach.save_image(image, OUT / name)
                    rows.append({"pair": pair, "statistic": statistic, "temperature": temperature,
                                 "style_weight": weight, **scores})
                    print(json.dumps(rows[-1]), flush=True)
    (OUT.parent / "swag.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
