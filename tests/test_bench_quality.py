"""bench/quality.py's reading of its --set changes (the benchmark itself is too long for tests)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import quality  # noqa: E402


def test_set_reads_values_as_the_command_line_does():
    changes = quality.parse_set(["style_weight=2e4", "style_layers=block1_conv1,block2_conv1",
                                 "style_statistic=sliced"])
    assert changes == {"style_weight": 20000.0, "style_layers": ("block1_conv1", "block2_conv1"),
                       "style_statistic": "sliced"}


def test_set_refuses_an_unknown_setting():
    with pytest.raises(SystemExit, match="no setting styleweight"):
        quality.parse_set(["styleweight=1"])
