"""A process killed (SIGKILL) at any point of a checkpoint write leaves loadable files and a resume that continues."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from gpa.checkpoint import GPACheckpointer

# The child saves model_0000001 (weights 1), then is killed while saving model_0000002 (weights 2) at `point`.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from torch import nn
    from gpa.checkpoint import GPACheckpointer

    folder, point = sys.argv[1], sys.argv[2]
    model = nn.Linear(64, 64)
    checkpointer = GPACheckpointer(model, folder)
    with torch.no_grad():
        model.weight.fill_(1.0)
    checkpointer.save("model_0000001", iteration=1)
    with torch.no_grad():
        model.weight.fill_(2.0)

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "while writing the checkpoint":
        real_save = torch.save
        def half_save(obj, f):
            real_save(obj, f)
            f.truncate(f.tell() // 2)
            die()
        torch.save = half_save
    else:
        real_replace, calls = os.replace, []
        def replace(src, dst):
            calls.append(dst)
            if (point == "before the checkpoint's rename" and len(calls) == 1) or (
                    point == "before last_checkpoint's rename" and len(calls) == 2):
                die()
            real_replace(src, dst)
        os.replace = replace
    checkpointer.save("model_0000002", iteration=2)
    """
)

POINTS = {  # point -> the weights --resume must continue from
    "while writing the checkpoint": 1.0,
    "before the checkpoint's rename": 1.0,
    "before last_checkpoint's rename": 1.0,
    "after every rename": 2.0,
}


@pytest.mark.parametrize("point", sorted(POINTS))
def test_kill_during_save_leaves_a_resumable_folder(point, tmp_path):
    folder = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(folder), point], capture_output=True, text=True,
                          timeout=120)
    killed = point != "after every rename"
    assert (proc.returncode == -9) == killed, proc.stderr[-2000:]

    for path in folder.glob("*.pth"):  # whatever carries a checkpoint's name is complete
        assert torch.load(path, weights_only=True)["model"]["weight"].shape == (64, 64)
    assert (folder / "last_checkpoint").read_text() in {"model_0000001.pth", "model_0000002.pth"}

    model = nn.Linear(64, 64)
    checkpointer = GPACheckpointer(model, str(folder))
    extra = checkpointer.resume_or_load("", resume=True)
    assert float(model.weight[0, 0]) == POINTS[point]
    assert extra["iteration"] == int(POINTS[point])
