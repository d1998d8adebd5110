"""Quality benchmark: each preset's pictures, scored by a judge that no optimisation here sees.

One command (from the repository root)::

    python bench/quality.py                       # the bundled pairs, book vs painterly
    python bench/quality.py --quick               # smoke test: two pairs, tiny sizes
    python bench/quality.py --folder my_pairs/    # your own: my_pairs/content/*, my_pairs/style/*
    python bench/quality.py --pairs chelsea:swirls --fast swirls.keras  # and a fast network
    python bench/quality.py --presets book,painterly-quick:gram,painterly-quick:sliced  # statistics

For every (photo, painting) pair and preset it runs the optimisation, then
scores the picture with `nst_teach.judge` (a style embedding from a network
that is not the backbone, SSIM of blurred luminance for the content, and the
grain ratio), next to the two ends of each scale: the photo itself and the
painting itself. It writes bench/results/quality.json, a gallery PNG and the
tables of docs/quality.md (between the ``quality:begin``/``quality:end``
markers; ``--no-doc`` leaves the doc alone).

With ``--folder DIR``, every image in DIR/content is paired with every image
in DIR/style; results go to DIR/results (the doc is not touched). ``--pairs``
names the pairs instead (example names or paths). ``--fast MODEL.keras`` adds
a style network of notebook 08 (`nst_teach.fast`) as one more column: it
stylises each pair's photo at the height of the presets' pictures, and is
judged against the pair's painting, so give pairs with the painting it was
trained on; their results go to bench/results/quality_pairs. A preset
written ``NAME:STATISTIC`` is that preset with the values chosen for that
style statistic (notebook 10, `nst_teach.config.PAINTERLY_BY_STATISTIC`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "quality.md"
GALLERY = ROOT / "docs" / "quality_gallery.jpg"  # JPEG: a fifth of the PNG's size

PAIRS = (
    ("grace_hopper", "cubist"),
    ("astronaut", "swirls"),
    ("chelsea", "mosaic"),
    ("coffee", "pointillist"),
    ("rocket", "swirls"),
)
"""The bundled pairs: every photo our dependencies ship, every drawn style."""

FAST = "fast network"  # the column of `--fast`

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def folder_pairs(folder):
    """Every (content, style) path pair of `folder`/content and `folder`/style."""
    pick = lambda sub: sorted(p for p in (Path(folder) / sub).glob("*")  # noqa: E731
                              if p.suffix.lower() in IMAGE_SUFFIXES)
    contents, styles = pick("content"), pick("style")
    if not contents or not styles:
        raise SystemExit(f"{folder} needs images in content/ and in style/ (jpg, png, ...)")
    return [(str(c), str(s)) for c in contents for s in styles]


def short(name):
    return Path(name).stem


def parse_set(items):
    """``KEY=VALUE`` strings as `Settings` changes, each value read by the field's own parser."""
    import dataclasses

    from nst_teach.config import Settings

    checks = {field.name: field.metadata["check"] for field in dataclasses.fields(Settings)}
    pairs = [item.split("=", 1) for item in items]
    unknown = [key for key, _ in pairs if key not in checks]
    if unknown:
        raise SystemExit(f"--set: no setting {', '.join(unknown)}; see nst-teach transfer --help")
    return {key: checks[key].parse(value) for key, value in pairs}  # as the command line reads it


def run_pair(content, style, presets, height, backbone, out, network=None, changes=None):
    """Ends of the scales and one scored picture per preset (and `network`), for one pair."""
    import nst_teach as nst
    from nst_teach import fast, images, judge
    from nst_teach.data import image_or_example

    photo, painting = image_or_example(content), image_or_example(style)
    row = {"content": short(content), "style": short(style), "ends": judge.ends(photo, painting),
           "presets": {}}
    pictures = []
    for name in presets:
        preset, _, statistic = name.partition(":")
        settings = nst.preset(preset, backbone=backbone, **({"height": height} if height else {}),
                              **({"style_statistic": statistic} if statistic else {}), **(changes or {}))
        began = time.perf_counter()
        result = nst.transfer(photo, painting, settings)
        pictures.append((name, result.image, time.perf_counter() - began, result.backbone))
    if network is not None:
        small = images.resize(photo, images.size_for_height(
            photo, pictures[-1][1].shape[0] if pictures else height or 256), "bicubic")
        fast.stylise(network, small[:16, :16])  # the first call traces the graph
        began = time.perf_counter()
        image = fast.stylise(network, small)
        pictures.append((FAST, image, time.perf_counter() - began,
                         network.nst_info.get("backbone", "")))
    for name, image, seconds, used in pictures:
        path = out / f"{row['content']}__{row['style']}__{name.replace(' ', '_').replace(':', '_')}.png"
        nst.save_image(image, path)
        row["presets"][name] = {**judge.scores(image, photo, painting),
                                "seconds": seconds, "height": image.shape[0],
                                "backbone": used, "image": str(path.relative_to(ROOT))
                                if path.is_relative_to(ROOT) else str(path)}
        print(f"  {name:10s} style {row['presets'][name]['style']:.3f}  content "
              f"{row['presets'][name]['content']:.3f}  grain {row['presets'][name]['grain']:.2f}  "
              f"{seconds:.0f} s", flush=True)
    return row


def calibrated(value, low, high):
    """Where `value` sits between the two ends of a scale: 0 at `low`, 1 at `high`."""
    return (value - low) / (high - low) if high != low else float("nan")


def table(rows, presets):
    """The markdown tables: per pair and preset, the raw and calibrated scores."""
    lines = ["| photo | painting | preset | style | style (0 photo, 1 painting) | content "
             "| content (0 painting, 1 photo) | grain | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        photo, painting = row["ends"]["photo"], row["ends"]["painting"]
        lines.append(f"| {row['content']} | {row['style']} | *the photo* | {photo['style']:.3f} | 0 "
                     f"| {photo['content']:.3f} | 1 | {photo['grain']:.2f} | |")
        lines.append(f"| | | *the painting* | {painting['style']:.3f} | 1 | {painting['content']:.3f} "
                     f"| 0 | {painting['grain']:.2f} | |")
        for name in presets:
            s = row["presets"][name]
            lines.append(
                f"| | | **{name}** | {s['style']:.3f} "
                f"| {calibrated(s['style'], photo['style'], painting['style']):.2f} "
                f"| {s['content']:.3f} "
                f"| {calibrated(s['content'], painting['content'], photo['content']):.2f} "
                f"| {s['grain']:.2f} | {s['seconds']:.{0 if s['seconds'] >= 10 else 2}f} |")
    return "\n".join(lines)


def gallery(rows, presets, path):
    """One row per pair: photo, painting, then each preset's picture with its scores."""
    from matplotlib.figure import Figure
    from PIL import Image

    from nst_teach.data import image_or_example

    columns = 2 + len(presets)
    figure = Figure(figsize=(2.6 * columns, 2.6 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for ax_row, row in zip(axes, rows):
        pictures = [(image_or_example(row["source"][0]), "photo"),
                    (image_or_example(row["source"][1]), "painting")]
        for name in presets:
            s = row["presets"][name]
            pictures.append((Image.open(ROOT / s["image"] if not Path(s["image"]).is_absolute()
                                        else s["image"]),
                             f"{name}: style {s['style']:.3f}\ncontent {s['content']:.2f}, "
                             f"grain {s['grain']:.2f}"))
        for ax, (picture, title) in zip(ax_row, pictures):
            ax.imshow(picture)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    figure.savefig(path, dpi=90, **({"pil_kwargs": {"quality": 85}} if path.suffix == ".jpg" else {}))
    return path


def write_doc(text):
    doc = DOC.read_text()
    begin, end = "<!-- quality:begin -->", "<!-- quality:end -->"
    head, rest = doc.split(begin)
    _, tail = rest.split(end)
    DOC.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="book,painterly",
                        help="comma-separated preset names; NAME:STATISTIC for a style statistic")
    parser.add_argument("--height", type=int, help="working height (default: each preset's own)")
    parser.add_argument("--backbone", default="auto", help="auto, vgg19, hed-vgg16 (default auto)")
    parser.add_argument("--folder", help="your own pairs: FOLDER/content/* x FOLDER/style/*")
    parser.add_argument("--pairs", help="PHOTO:PAINTING,... (example names or paths)")
    parser.add_argument("--fast", metavar="MODEL", help="a style network (.keras) as one more column")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a setting of every preset, e.g. --set style_weight=2e4")
    parser.add_argument("--quick", action="store_true", help="smoke test: two pairs at 64 px")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/quality.md")
    args = parser.parse_args(argv)

    presets = [name for name in args.presets.split(",") if name]
    from nst_teach import backbones

    backbone = backbones.resolve(args.backbone)  # the painterly presets' values depend on it
    pairs = (folder_pairs(args.folder) if args.folder else
             [tuple(pair.split(":", 1)) for pair in args.pairs.split(",")] if args.pairs else
             PAIRS[:2] if args.quick else PAIRS)
    height = 64 if args.quick else args.height
    out = (Path(args.folder) / "results" if args.folder else
           ROOT / "bench" / "results" / ("quality_pairs" if args.pairs else "quality"))
    out.mkdir(parents=True, exist_ok=True)
    network = None
    if args.fast:
        from nst_teach import fast

        network = fast.load_model(args.fast)
    rows = []
    for content, style in pairs:
        print(f"{short(content)} x {short(style)}", flush=True)
        rows.append({**run_pair(content, style, presets, height, backbone, out, network,
                                parse_set(args.set)),
                     "source": (content, style)})
    presets = presets + [FAST] * (network is not None)
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               "presets": presets, "height": height, "rows": rows}
    (out / "quality.json").write_text(json.dumps(results, indent=1))
    to_doc = not (args.folder or args.pairs or args.fast or args.quick or args.no_doc or args.set)
    gallery_path = gallery(rows, presets, GALLERY if to_doc else out / "gallery.png")
    text = (f"Measured by `python bench/quality.py{' ' + ' '.join(argv or sys.argv[1:])}` on "
            f"{results['machine']}, {time.strftime('%Y-%m-%d')}; seconds are wall time per run, "
            f"height {height or 'of each preset'}.\n\n" + table(rows, presets)
            + f"\n\n![gallery]({gallery_path.name if to_doc else gallery_path})")
    print(text)
    if to_doc:
        write_doc(text)


if __name__ == "__main__":
    main()
