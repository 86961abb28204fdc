"""The trainer's checkpoints: retention, resume over broken files, and no saved checkpoint of diverged weights."""

from __future__ import annotations

import pytest
import torch

from gpa.engine import Trainer, build_config
from tests.inference.helpers import TINY_CONFIG


def _trainer(out, *opts):
    cfg = build_config(TINY_CONFIG, ["OUTPUT_DIR", str(out), "SOLVER.LOG_PERIOD", "1", "DATASETS.TEST", "()",
                                     *map(str, opts)])
    return Trainer(cfg)


@pytest.mark.slow
def test_retention_and_resume_over_broken_checkpoints(tmp_path, checkpoint_log):
    out = tmp_path / "run"
    trainer = _trainer(out, "SOLVER.MAX_ITER", 6, "SOLVER.CHECKPOINT_PERIOD", 2, "SOLVER.CHECKPOINT_KEEP_LAST", 2)
    trainer.resume_or_load(resume=False)
    trainer.train()
    assert sorted(p.name for p in out.glob("*.pth")) == ["model_0000003.pth", "model_0000005.pth", "model_final.pth"]

    for name in ("model_final.pth", "model_0000005.pth"):  # as a kill during a non-atomic write left them
        path = out / name
        path.write_bytes(path.read_bytes()[:4096])
    resumed = _trainer(out, "SOLVER.MAX_ITER", 6, "SOLVER.CHECKPOINT_PERIOD", 2)
    resumed.resume_or_load(resume=True)
    assert resumed.start_iter == 4
    assert "skipping" in checkpoint_log.text and "model_final.pth" in checkpoint_log.text
    resumed.train()
    assert torch.load(out / "model_final.pth", weights_only=True)["iteration"] == 5

    for path in out.glob("*.pth"):
        path.write_bytes(b"")
    fresh = _trainer(out, "SOLVER.MAX_ITER", 6)
    fresh.resume_or_load(resume=True)
    assert fresh.start_iter == 0 and "could be read; starting from MODEL.WEIGHTS" in checkpoint_log.text


@pytest.mark.slow
def test_divergence_stops_before_a_destroyed_checkpoint_becomes_the_last(tmp_path):
    out = tmp_path / "run"
    trainer = _trainer(out, "SOLVER.MAX_ITER", 6, "SOLVER.CHECKPOINT_PERIOD", 1, "SOLVER.BASE_LR", 1e30,
                       "SOLVER.CLIP_GRADIENTS.ENABLED", False)
    trainer.resume_or_load(resume=False)
    with pytest.raises(FloatingPointError, match="iteration [0-9]+: .*lower SOLVER.BASE_LR"):
        trainer.train()
    # AdamW at lr 1e30 destroys the weights in one step (finite, about 1e30): they are saved after iteration 0 and
    # give NaN at iteration 1, so that checkpoint is renamed and nothing points to it.
    assert [p.name for p in out.glob("*.diverged")] == ["model_0000000.pth.diverged"]
    assert not list(out.glob("*.pth")) and not (out / "last_checkpoint").exists()
