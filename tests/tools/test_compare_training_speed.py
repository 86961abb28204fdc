"""tools/compare_training_speed.py: variant parsing, the alternating order, the summary, and a run."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import compare_training_speed as cts  # noqa: E402


def test_parse_variant():
    assert cts.parse_variant("default=") == ("default", [])
    assert cts.parse_variant(" one layer =MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS 1") == (
        "one layer", ["MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS", "1"])


@pytest.mark.parametrize("text, message", [
    ("default", "expected LABEL=KEY VALUE"),
    ("=SEED 1", "expected LABEL=KEY VALUE"),
    ("odd=SEED", "KEY VALUE pairs, got 1 words"),
])
def test_parse_variant_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        cts.parse_variant(text)


def test_summarize_ratios_to_the_first_median():
    rows = cts.summarize(["a", "b"], [[1.0, 3.0, 2.0], [1.0, 1.0, 4.0]])
    assert [r["median_s"] for r in rows] == [2.0, 1.0]
    assert [r["ratio"] for r in rows] == [1.0, 0.5]
    assert rows[1]["mean_s"] == 2.0 and rows[1]["seconds"] == [1.0, 1.0, 4.0]


def test_duplicate_labels_are_refused():
    with pytest.raises(SystemExit):
        cts.parse_args(["--config-file", "x.yaml", "--variant", "a=", "--variant", "a=SEED 1"])


def test_compares_two_variants_of_the_tiny_config(capsys):
    rows = cts.main(["--config-file", str(REPO / "configs/tiny/gpa_tiny.yaml"), "--rounds", "2", "--warmup", "1",
                     "--variant", "default=", "--variant", "two points=MODEL.MASK_FORMER.TRAIN_NUM_POINTS 2"])
    out = capsys.readouterr().out
    assert [r["variant"] for r in rows] == ["default", "two points"]
    assert all(len(r["seconds"]) == 2 and r["median_s"] > 0 for r in rows) and rows[0]["ratio"] == 1.0
    assert "| two points | MODEL.MASK_FORMER.TRAIN_NUM_POINTS 2 |" in out and "| default | - |" in out
