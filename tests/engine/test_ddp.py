"""Two CPU processes (gloo) train the tiny model with DDP and end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from detectron2.engine import launch
    from detectron2.utils import comm

    import gpa  # noqa: F401
    from gpa.engine import Trainer, build_config

    def main(config_file, output_dir):
        cfg = build_config(config_file, ["OUTPUT_DIR", output_dir, "SOLVER.MAX_ITER", "3",
                                         "SOLVER.CHECKPOINT_PERIOD", "100"])
        trainer = Trainer(cfg)
        trainer.resume_or_load(resume=False)
        module = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
        torch.save({k: v.clone() for k, v in module.state_dict().items()}, f"{output_dir}/init{comm.get_rank()}.pth")
        trainer.train()
        model = trainer.model.module if hasattr(trainer.model, "module") else trainer.model
        assert comm.get_world_size() == 2, comm.get_world_size()
        torch.save(model.state_dict(), f"{output_dir}/rank{comm.get_rank()}.pth")

    if __name__ == "__main__":
        launch(main, 2, dist_url="tcp://127.0.0.1:" + sys.argv[3], args=(sys.argv[1], sys.argv[2]))
    """
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_training_keeps_ranks_identical(tmp_path):
    script = tmp_path / "ddp_main.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script), str(REPO / "configs/tiny/gpa_tiny.yaml"), str(out), str(_free_port())],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    a, b = torch.load(out / "rank0.pth"), torch.load(out / "rank1.pth")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    # the ranks moved together: training changed the trainable weights (else the test is void)
    initial = torch.load(out / "init0.pth")
    changed = [k for k in a if not torch.equal(a[k], initial[k])]
    assert any(k.startswith("sem_seg_head.") for k in changed)
    assert all(not k.startswith("backbone.clip_model.transformer.") for k in changed)  # text tower frozen
