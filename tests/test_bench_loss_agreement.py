"""bench/loss_agreement.py on a case whose answer is known: a painting against a photo."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import loss_agreement  # noqa: E402


def test_the_loss_prefers_the_painting_in_style_and_the_photo_in_content(tmp_path):
    """Pictures: the painting ("ours") and the photo ("theirs"). Every statistic at every layer
    must score the photo's style worse, and the content loss must score the photo better."""
    from nst_teach import data, images

    photo = images.resize(data.example("chelsea"), (48, 72), "bicubic")
    painting = images.resize(data.example("swirls"), (48, 72), "bicubic")
    paths = []
    for name, image in (("photo", photo), ("painting", painting)):
        paths.append(images.save_image(image, tmp_path / f"{name}.png"))
    photo_path, painting_path = map(str, paths)
    row = loss_agreement.compare(photo_path, painting_path, painting_path, photo_path, "random")
    for statistic in loss_agreement.STATISTICS:
        terms = row["losses"][statistic]
        assert np.all(np.array(terms["theirs"]["style"]) > np.array(terms["ours"]["style"])), statistic
        assert terms["theirs"]["content"] < 0.01 * terms["ours"]["content"]
    assert row["judge"]["ours"]["style"] > row["judge"]["theirs"]["style"]
    table = loss_agreement.table([row])
    assert table.count("\n") == 2 and "chelsea" not in table and "photo x painting" in table
