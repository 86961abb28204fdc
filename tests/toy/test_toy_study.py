"""gpa_toy/tools/toy_study.py: statistics, ties below the seed spread, and the written table / plot (no training)."""
from __future__ import annotations

import argparse
import json
import math
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study():
    return runpy.run_path(str(REPO / "gpa_toy" / "tools" / "toy_study.py"), run_name="toy_study")


def test_mean_and_sample_std(study):
    mean, std = study["mean_std"]([1.0, 2.0, 6.0])
    assert mean == pytest.approx(3.0) and std == pytest.approx(math.sqrt(7.0))  # ((4 + 1 + 9) / 2) ** 0.5
    mean, std = study["mean_std"]([5.0])
    assert mean == 5.0 and math.isnan(std)


def test_differences_below_the_seed_spread_are_ties(study):
    compare = study["compare"]
    assert compare([50, 52, 54], [40, 41, 42]) == (pytest.approx(11.0), "higher")  # 11 > 2 + 1
    assert compare([40, 41, 42], [50, 52, 54]) == (pytest.approx(-11.0), "lower")
    diff, verdict = compare([50, 55, 60], [48, 50, 52])  # 5 <= 5 + 2
    assert diff == pytest.approx(5.0) and verdict == "tie"
    assert compare([50.0], [10.0])[1] == "tie"  # one seed: no spread, no verdict


def _report(miou_unseen: float, crop_unseen: float) -> dict:
    part = {"seen": 70.0, "unseen": miou_unseen, "hm": 2 * 70 * miou_unseen / (70 + miou_unseen), "all": 60.0}
    crops = {"seen": 80.0, "unseen": crop_unseen, "hm": 0.0, "all": 75.0}
    return {"iterations": 600, "wall_s": 100.0,
            "segmentation": {"PQ": dict(part), "mIoU": dict(part)},
            "crop_accuracy": {"before": {"seen": 85.0, "unseen": 80.0, "hm": 0.0, "all": 84.0}, "after": crops}}


def test_written_study_has_table_verdicts_plot_and_raw_numbers(study, tmp_path):
    reports = {
        "gpa": {0: _report(50.0, 78.0), 1: _report(52.0, 79.0), 2: _report(54.0, 80.0)},
        "frozen_clip": {0: _report(40.0, 80.0), 1: _report(41.0, 80.0), 2: _report(42.0, 80.0)},
        "full_finetune": {0: _report(20.0, 30.0), 1: _report(30.0, 40.0), 2: _report(70.0, 50.0)},
    }
    args = argparse.Namespace(docs_dir=tmp_path / "docs", crops_per_class=16)
    path = study["write_study"](args, reports, "python gpa_toy/tools/toy_study.py --iters 600")
    text = path.read_text()
    assert "Command: `python gpa_toy/tools/toy_study.py --iters 600`" in text and "Machine:" in text
    assert "| GPA (adapters) | 70.0 ± 0.0 | 52.0 ± 2.0 |" in text
    assert "- mIoU unseen: GPA (adapters) - frozen CLIP = +11.0 -> GPA (adapters) higher" in text
    assert "- crop acc. unseen, after: GPA (adapters) - frozen CLIP = -1.0 -> tie" in text  # |-1| <= 1 + 0
    assert "- mIoU unseen: GPA (adapters) - full fine-tuning = +12.0 -> tie" in text  # full FT spread is 26
    assert (tmp_path / "docs" / "study.png").stat().st_size > 10_000
    raw = json.loads((tmp_path / "docs" / "study.json").read_text())
    assert raw["runs"]["gpa"]["1"]["metrics"]["miou_unseen"] == 52.0


def test_unknown_config_and_repeated_seed_fail(study):
    with pytest.raises(SystemExit):
        study["parse_args"](["--configs", "nope"])
    with pytest.raises(SystemExit):
        study["parse_args"](["--seeds", "1", "1"])


def test_every_study_config_exists_and_shares_the_base_budget():
    from gpa.engine import build_config

    cfgs = {name: build_config(REPO / "configs" / "toy" / f"{name}.yaml") for name in ("gpa", "frozen_clip",
                                                                                         "full_finetune")}
    for cfg in cfgs.values():
        assert cfg.SOLVER.MAX_ITER == cfgs["gpa"].SOLVER.MAX_ITER and cfg.MODEL.CLIP.PRETRAINED == "gpa://toy_clip"
        assert cfg.SOLVER.IMS_PER_BATCH == cfgs["gpa"].SOLVER.IMS_PER_BATCH
    assert cfgs["gpa"].MODEL.ADAPTER.ENABLED and cfgs["gpa"].MODEL.CLIP.FREEZE_ENCODER
    assert not cfgs["frozen_clip"].MODEL.ADAPTER.ENABLED and cfgs["frozen_clip"].MODEL.CLIP.FREEZE_ENCODER
    assert not cfgs["full_finetune"].MODEL.ADAPTER.ENABLED and not cfgs["full_finetune"].MODEL.CLIP.FREEZE_ENCODER
