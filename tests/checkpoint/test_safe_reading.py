"""No checkpoint file runs code when gpa reads it, through any entry point; broken files get errors naming them."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

from gpa.checkpoint import CheckpointReadError, read_checkpoint_file, read_restricted_pickle
from tests.checkpoint.helpers import BROKEN_FILES, MALICIOUS_FILES
from tests.inference.helpers import REPO, TEST_OPTS, TINY_CONFIG, scene_image


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"gpa_tool_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _torch_told_to_unpickle_anything(monkeypatch):
    """The environment variable that turns off torch's weights-only default must change nothing."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


@pytest.mark.parametrize("kind", sorted(MALICIOUS_FILES))
def test_reader_refuses_every_malicious_file(kind, tmp_path):
    marker = tmp_path / "marker"
    path = MALICIOUS_FILES[kind](tmp_path, marker)
    with pytest.raises(CheckpointReadError) as info:
        read_checkpoint_file(path)
    assert str(path) in str(info.value) and "run code" in str(info.value)
    assert not marker.exists()


def _predictor(path, tmp_path):
    from gpa.inference import Predictor

    Predictor(TINY_CONFIG, path, opts=TEST_OPTS)


def _demo(path, tmp_path):
    Image.fromarray(scene_image()).save(tmp_path / "photo.png")
    _tool("demo").main(["--config-file", str(TINY_CONFIG), "--weights", str(path), "--input",
                        str(tmp_path / "photo.png"), "--output", str(tmp_path / "out"), "--vocabulary", "cat;sky",
                        "--opts", *TEST_OPTS])


def _eval_only(path, tmp_path):
    train_net = _tool("train_net")
    args = train_net.default_argument_parser().parse_args(
        ["--config-file", str(TINY_CONFIG), "--eval-only", "OUTPUT_DIR", str(tmp_path / "o"), "MODEL.WEIGHTS",
         str(path)])
    train_net.main(args)


def _training_init(path, tmp_path):
    from detectron2.modeling import build_model

    from gpa.checkpoint import GPACheckpointer
    from gpa.engine import build_config

    cfg = build_config(TINY_CONFIG, ["MODEL.WEIGHTS", str(path), "OUTPUT_DIR", str(tmp_path / "o")])
    # Trainer.resume_or_load(resume=False) does exactly this with the trainer's checkpointer.
    GPACheckpointer.from_config(cfg, build_model(cfg), cfg.OUTPUT_DIR).resume_or_load(cfg.MODEL.WEIGHTS, resume=False)


ENTRY_POINTS = {"Predictor": _predictor, "tools/demo.py --weights": _demo, "train_net --eval-only": _eval_only,
                "training from MODEL.WEIGHTS": _training_init}


@pytest.mark.parametrize("kind", ["pkl inside the model zoo dict", "pth zip"])
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_entry_points_never_run_a_checkpoint(entry, kind, tmp_path):
    marker = tmp_path / "marker"
    path = MALICIOUS_FILES[kind](tmp_path, marker)
    with pytest.raises(CheckpointReadError, match=str(path)):
        ENTRY_POINTS[entry](path, tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pkl inside the model zoo dict", "pth zip"])
def test_resume_skips_a_malicious_last_checkpoint(kind, tmp_path, checkpoint_log):
    from detectron2.modeling import build_model

    from gpa.checkpoint import GPACheckpointer
    from gpa.engine import build_config

    marker = tmp_path / "marker"
    out = tmp_path / "out"
    out.mkdir()
    path = MALICIOUS_FILES[kind](out, marker)
    (out / "last_checkpoint").write_text(path.name)
    cfg = build_config(TINY_CONFIG)
    checkpointer = GPACheckpointer.from_config(cfg, build_model(cfg), str(out))
    checkpointer.resume_or_load("", resume=True)
    assert not marker.exists()
    assert checkpointer.resumed_from is None
    assert f"skipping {path}" in checkpoint_log.text and "no checkpoint in" in checkpoint_log.text


@pytest.mark.parametrize("kind", sorted(BROKEN_FILES))
def test_broken_files_are_named_with_the_reason(kind, tmp_path, tiny_weights):
    write, fragment = BROKEN_FILES[kind]
    path = write(tmp_path, tiny_weights)
    from gpa.inference import Predictor

    with pytest.raises(CheckpointReadError) as info:
        Predictor(TINY_CONFIG, path, opts=TEST_OPTS)
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert "weights_only=False" not in str(info.value)


def test_model_zoo_pickles_of_arrays_still_load(tmp_path):
    """detectron2 / Mask2Former .pkl files: numpy arrays (and scalars) in plain dicts, possibly Python-2 pickles."""
    import pickle

    state = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.int64(3), "names": ["a", "b"]}
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"zoo{protocol}.pkl"
        with open(path, "wb") as f:
            pickle.dump({"model": state, "__author__": "Mask2Former", "matching_heuristics": True}, f, protocol)
        data = read_restricted_pickle(path)
        np.testing.assert_array_equal(data["model"]["w"], state["w"])
        assert data["model"]["n"] == 3 and data["model"]["names"] == ["a", "b"]


def test_torch_files_of_tensors_and_containers_load(tmp_path):
    state = {"model": {"w": torch.ones(2)}, "iteration": 7, "trainer": {"hooks": {"x": (1, 2.0, "s")}}}
    torch.save(state, tmp_path / "ok.pth")
    loaded = read_checkpoint_file(tmp_path / "ok.pth")
    assert loaded["iteration"] == 7 and torch.equal(loaded["model"]["w"], torch.ones(2))
