"""The main job (tools/run_main.sh) in its short mode: it trains, evaluates, prints the table, draws pictures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _checkpoint_overrides(tmp_path: Path) -> list[str]:
    """The shipped toy CLIP when present; otherwise a random-init stand-in (the job runs the same way)."""
    from gpa_toy import TOY_CLIP_CHECKPOINT, TOY_CLIP_MODEL, register_toy_clip

    if TOY_CLIP_CHECKPOINT.is_file():
        return []
    import open_clip
    import torch

    register_toy_clip()
    path = tmp_path / "toy_clip_random.pt"
    torch.save(open_clip.create_model(TOY_CLIP_MODEL).state_dict(), path)
    return ["MODEL.CLIP.PRETRAINED", str(path)]


@pytest.mark.slow
def test_short_main_job_prints_the_table_and_writes_visualizations(tmp_path):
    out = tmp_path / "main"
    env = {**os.environ, "GPA_MAIN_ITERS": "4", "GPA_MAIN_OUTPUT": str(out)}
    proc = subprocess.run(["bash", str(REPO / "tools" / "run_main.sh"), *_checkpoint_overrides(tmp_path)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| gpa_toy_val") and "harmonic mean" in line)
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[header:header + 7]]
    assert cells[0] == ["gpa_toy_val", "seen", "unseen", "harmonic mean", "all"]
    assert [row[0] for row in cells[2:]] == ["PQ", "mIoU", "crop zero-shot acc., pretrained CLIP",
                                              "crop zero-shot acc., after training",
                                              "change of crop acc. (after - before)"]
    for row in cells[2:6]:
        assert all(0.0 <= float(v) <= 100.0 for v in row[1:] if v != "-")
    assert "wall time: setup" in proc.stdout
    assert "visualizations of validation images with unseen classes" in proc.stdout

    report = json.loads((out / "toy_report.json").read_text())
    assert report["iterations"] == 4 and set(report["segmentation"]) == {"PQ", "mIoU"}
    pictures = sorted((out / "visualizations").glob("*.png"))
    assert len(pictures) == 8 and [str(p) for p in pictures] == sorted(report["visualizations"])
    image = np.asarray(Image.open(pictures[0]))
    assert image.shape[1] == 3 * (96 * 4) and image.shape[0] > 96 * 4  # three panels at 4x, under title bars
    assert (out / "toy_report.md").read_text().startswith("| gpa_toy_val")

    # the error analysis of the run recomputes the evaluator's mIoU from the model's own semantic maps
    proc = subprocess.run([sys.executable, str(REPO / "gpa_toy" / "tools" / "error_analysis.py"), str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    analysis = json.loads((out / "error_analysis.json").read_text())
    evaluated = json.loads((out / "inference" / "results.json").read_text())["gpa_toy_val"]["sem_seg"]
    predicted = analysis["mIoU"]["predicted"]
    for part, key in (("seen", "mIoU_seen"), ("unseen", "mIoU_unseen"), ("hm", "mIoU_hm"), ("all", "mIoU")):
        assert predicted[part] == pytest.approx(evaluated[key], abs=1e-9), part
    assert analysis["images"] == 200
    assert (out / "error_analysis.md").read_text().startswith("| gpa_toy_val")
