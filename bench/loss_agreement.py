"""Does our loss agree with the judge? (docs/quality.md, "Does the loss prefer the published pictures?")

    python bench/loss_agreement.py PHOTO:PAINTING:OURS:THEIRS [...]

For each photo and painting, two pictures of them: ours, and another tool's
that the judge scores higher on style. If our style loss also scores theirs
lower, theirs is a point our optimiser could still reach (more steps, a
better path); if it scores theirs higher, no optimisation of this loss leads
there, and what is missing is in the loss itself. Each picture's style loss
is measured with `painterly`'s values for each statistic (gram, gaussian,
sliced; `nst_teach.config.PAINTERLY_BY_STATISTIC`), one style layer at a
time, at the height of THEIRS (ours is resized to it), and beside it the
content loss and the smoothness (total variation) of `painterly`. The table
gives theirs / ours for each term: above 1 on every style layer and on the
content, no weights of those terms make the loss prefer theirs. The last
column asks whether smoothness, the one term that may prefer theirs, is
what the judge rewards: ours blurred, scored again. Results go to
bench/results/loss_agreement.json; a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results" / "loss_agreement.json"
STATISTICS = ("gram", "gaussian", "sliced")
BLURS = (0.7, 2.0)  # px: the first brings our grain below the published pictures'


def blurred_styles(picture, painting):
    """The judge's style of `picture` blurred by each of `BLURS`: does smoothness buy style?"""
    from PIL import Image, ImageFilter

    from nst_teach import judge

    image = Image.fromarray(picture)
    return {str(r): judge.style_score(np.asarray(image.filter(ImageFilter.GaussianBlur(r))), painting)
            for r in BLURS}


def losses_of(photo, painting, pictures, settings):
    """Each of `pictures`' loss terms (unweighted): the style loss per layer, content, smoothness.

    The targets are computed as a run computes them (`nst_teach.features.target_draws`);
    the sliced loss is averaged over its sets of directions. Returns
    ``{picture name: {"style": [per layer], "content": float, "tv": float}}``.
    """
    from nst_teach import images
    from nst_teach.backbones import load_backbone
    from nst_teach.features import feature_extractor, target_draws
    from nst_teach.losses import content_loss, layer_style_loss, total_variation_loss
    from nst_teach.problem import prepare_images
    from nst_teach.tensorflow_setup import tf

    content, style = prepare_images(photo, painting, settings)
    model, _ = load_backbone(settings.backbone, settings.weights, settings.seed, settings.pooling)
    extractor = feature_extractor(model, settings.layers)
    sets = 1 if "sliced_draws" in settings.unused else settings.sliced_draws
    targets = target_draws(extractor, images.preprocess(content), images.preprocess(style), settings,
                           draws=sets)
    terms = {}
    for name, picture in pictures.items():
        x = tf.constant(images.preprocess(images.resize(picture, content.shape[:2], "lanczos")))
        features = extractor(x)
        terms[name] = {
            "style": [float(np.mean([layer_style_loss(t.style[layer], features[layer], content.shape[:2],
                                                      settings) for t in targets]))
                      for layer in settings.style_layers],
            "content": float(content_loss(targets[0].content, features[settings.content_layer])),
            "tv": float(total_variation_loss(x))}
    return terms


def compare(photo_path, painting_path, ours_path, theirs_path, backbone):
    """One pair's row: the judge's scores of both pictures and each statistic's layer losses."""
    from nst_teach import config, judge
    from nst_teach.data import image_or_example

    photo, painting = image_or_example(photo_path), image_or_example(painting_path)
    pictures = {"ours": image_or_example(ours_path), "theirs": image_or_example(theirs_path)}
    height = pictures["theirs"].shape[0]
    row = {"photo": Path(photo_path).stem, "painting": Path(painting_path).stem, "height": height,
           "judge": {name: judge.scores(p, photo, painting) for name, p in pictures.items()},
           "blurred": blurred_styles(pictures["ours"], painting), "losses": {}}
    for statistic in STATISTICS:
        values = config.PAINTERLY_BY_STATISTIC.get(backbone, config.PAINTERLY_BY_STATISTIC["vgg19"])
        settings = values[statistic].replace(backbone=backbone, stages=None)  # "random" is VGG19
        row["losses"][statistic] = losses_of(photo, painting, pictures, config.at_height(settings, height))
    return row


def _ratio(theirs, ours):
    """theirs / ours: two decimals near 1, where the side of 1 matters; whole numbers far from it."""
    value = theirs / ours if ours else float("inf")
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def table(rows):
    """Markdown: the judge's style of both pictures; theirs / ours for each loss term."""
    head = " | ".join(f"{s}: style per layer" for s in STATISTICS)
    blurs = " / ".join(f"{r:g}" for r in BLURS)
    lines = [f"| photo x painting | judge's style: ours / theirs | {head} | content | smoothness "
             f"| judge's style, ours blurred {blurs} px |",
             "| --- | --- | " + " | ".join("---" for _ in STATISTICS) + " | --- | --- | --- |"]
    for row in rows:
        judged, losses = row["judge"], row["losses"]
        styles = [" ".join(map(_ratio, losses[s]["theirs"]["style"], losses[s]["ours"]["style"]))
                  for s in STATISTICS]
        sliced = losses["sliced"]
        lines.append(f"| {row['photo']} x {row['painting']} | {judged['ours']['style']:.3f} / "
                     f"{judged['theirs']['style']:.3f} | " + " | ".join(styles)
                     + f" | {_ratio(sliced['theirs']['content'], sliced['ours']['content'])}"
                     f" | {_ratio(sliced['theirs']['tv'], sliced['ours']['tv'])} | "
                     + " / ".join(f"{row['blurred'][str(r)]:.3f}" for r in BLURS) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", metavar="PHOTO:PAINTING:OURS:THEIRS")
    parser.add_argument("--backbone", default="hed-vgg16")
    args = parser.parse_args(argv)
    quads = [pair.split(":") for pair in args.pairs]
    if any(len(quad) != 4 for quad in quads):
        raise SystemExit("give each pair as PHOTO:PAINTING:OURS:THEIRS (four paths)")
    rows = []
    for quad in quads:
        rows.append(compare(*quad, args.backbone))
        print(f"{rows[-1]['photo']} x {rows[-1]['painting']} done", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"backbone": args.backbone, "rows": rows}, indent=1) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
