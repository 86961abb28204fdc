"""With several processes, each rank's generator states are checkpointed and each rank gets its own back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from tests.engine.test_ddp import _free_port

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from detectron2.engine import launch
    from detectron2.utils import comm

    import gpa  # noqa: F401
    from gpa.engine import Trainer, build_config

    def main(config_file, output_dir, resume):
        torch.manual_seed(100 + comm.get_rank())  # as detectron2's default_setup: SEED + rank
        cfg = build_config(config_file, ["OUTPUT_DIR", output_dir, "SOLVER.MAX_ITER", "2",
                                         "SOLVER.CHECKPOINT_PERIOD", "1", "DATASETS.TEST", "()"])
        trainer = Trainer(cfg)
        trainer.resume_or_load(resume=resume)
        if resume:
            torch.save(torch.get_rng_state(), f"{output_dir}/resumed_rng{comm.get_rank()}.pth")
        else:
            trainer.train()

    if __name__ == "__main__":
        launch(main, 2, dist_url="tcp://127.0.0.1:" + sys.argv[3], args=(sys.argv[1], sys.argv[2], sys.argv[4] == "1"))
    """
)


def _launch(script: Path, out: Path, resume: bool) -> None:
    proc = subprocess.run(
        [sys.executable, str(script), str(REPO / "configs/tiny/gpa_tiny.yaml"), str(out), str(_free_port()),
         "1" if resume else "0"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-6000:]


@pytest.mark.slow
def test_each_rank_resumes_its_own_generators(tmp_path):
    script = tmp_path / "ddp_rng.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    _launch(script, out, resume=False)
    state = torch.load(out / "model_final.pth", weights_only=True)["trainer"]["hooks"]["TrainingStateHook"]
    ranks = state["ranks"]
    assert len(ranks) == 2 and not torch.equal(ranks[0]["torch"], ranks[1]["torch"])

    _launch(script, out, resume=True)
    for rank in (0, 1):
        assert torch.equal(torch.load(out / f"resumed_rng{rank}.pth", weights_only=True), ranks[rank]["torch"])
