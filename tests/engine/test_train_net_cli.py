"""tools/train_net.py end to end on the CPU: training, checkpoints, --eval-only, --resume, and errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TRAIN_NET = REPO / "tools" / "train_net.py"
TINY = REPO / "configs" / "tiny" / "gpa_tiny.yaml"


def _run(args, env=None, timeout=600, check=True):
    proc = subprocess.run(
        [sys.executable, str(TRAIN_NET), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=REPO.parent,  # any working directory works
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"train_net failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    return proc


def _metrics(output_dir: Path) -> list[dict]:
    lines = (output_dir / "metrics.json").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _losses(output_dir: Path) -> dict[int, float]:
    return {m["iteration"]: m["total_loss"] for m in _metrics(output_dir) if "total_loss" in m}


@pytest.mark.slow
def test_train_writes_checkpoint_and_metrics_then_eval_only_evaluates(tmp_path):
    out = tmp_path / "run"
    _run(
        [
            "--config-file",
            TINY,
            "OUTPUT_DIR",
            out,
            "SOLVER.MAX_ITER",
            6,
            "SOLVER.CHECKPOINT_PERIOD",
            3,
            "SOLVER.LOG_PERIOD",
            1,
        ]
    )
    assert (out / "model_final.pth").is_file() and (out / "model_0000002.pth").is_file()
    assert (out / "last_checkpoint").read_text().strip() == "model_final.pth"
    losses = _losses(out)
    assert sorted(losses) == list(range(6)) and all(torch.isfinite(torch.tensor(v)) for v in losses.values())

    proc = _run(
        [
            "--config-file",
            TINY,
            "--eval-only",
            "OUTPUT_DIR",
            tmp_path / "eval",
            "MODEL.WEIGHTS",
            out / "model_final.pth",
        ]
    )
    log = proc.stdout + proc.stderr
    assert "Evaluation results" in log and "gpa_toy_val" in log and "PQ" in log and "mIoU" in log


@pytest.mark.slow
def test_resume_after_kill_continues_iterations_and_loss_curve(tmp_path):
    common = ["--config-file", TINY, "SOLVER.MAX_ITER", 8, "SOLVER.CHECKPOINT_PERIOD", 4, "SOLVER.LOG_PERIOD", 1]
    full = tmp_path / "full"
    _run([*common, "OUTPUT_DIR", full])

    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, str(TRAIN_NET), *map(str, [*common, "OUTPUT_DIR", cut])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while time.time() < deadline:  # kill once iteration 5 is logged: after the checkpoint of iteration 3
        if (cut / "metrics.json").exists() and 5 in _losses(cut):
            break
        if proc.poll() is not None:
            pytest.fail("the run ended before it could be interrupted")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (cut / "model_final.pth").exists()
    assert (cut / "last_checkpoint").read_text().strip() == "model_0000003.pth"

    _run(["--resume", *common, "OUTPUT_DIR", cut])
    resumed = _losses(cut)  # metrics.json holds both runs' lines; the resumed run's come last
    reference = _losses(full)
    assert sorted(resumed) == list(range(8))
    # The resumed run continues the curve (same data order, optimizer, schedule): its losses stay close
    # to the uninterrupted run's.
    resumed_tail = sum(resumed[i] for i in range(4, 8)) / 4
    reference_tail = sum(reference[i] for i in range(4, 8)) / 4
    assert resumed_tail == pytest.approx(reference_tail, rel=0.15)
    assert (cut / "model_final.pth").is_file()


def test_missing_config_file_is_named(tmp_path):
    proc = _run(["--config-file", tmp_path / "nope.yaml"], check=False)
    assert proc.returncode != 0
    assert "nope.yaml" in proc.stderr and "does not exist" in proc.stderr


def test_unknown_dataset_name_lists_registered_ones(tmp_path):
    proc = _run(["--config-file", TINY, "DATASETS.TRAIN", '("coco_2017_panoptic_typo",)'], check=False)
    assert proc.returncode != 0
    assert "coco_2017_panoptic_typo" in proc.stderr and "gpa_toy_train" in proc.stderr
    assert "datasets/README.md" in proc.stderr


def test_dataset_root_without_the_expected_files_names_the_path(tmp_path):
    empty = tmp_path / "d2data"
    empty.mkdir()
    proc = _run(
        ["--config-file", TINY, "OUTPUT_DIR", tmp_path / "o", "DATASETS.TRAIN", '("gpa_coco_panoptic_train",)'],
        env={"DETECTRON2_DATASETS": str(empty)},
        check=False,
    )
    assert proc.returncode != 0
    assert str(empty / "coco") in proc.stderr and "datasets/README.md" in proc.stderr
