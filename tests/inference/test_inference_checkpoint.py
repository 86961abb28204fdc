"""Loading weights for inference: key checks, and the rule for frozen CLIP weights."""

from __future__ import annotations

import pytest
import torch

from gpa.checkpoint import check_checkpoint_keys, pretrained_clip_keys
from gpa.inference import Predictor
from tests.inference.helpers import TEST_OPTS, TINY_CONFIG, build_tiny_model, scene_image

CLIP_PREFIX = "backbone.clip_model."


def test_key_check_names_the_first_keys_and_the_files():
    missing = [f"head.w{i}" for i in range(7)]
    with pytest.raises(ValueError) as info:
        check_checkpoint_keys(missing, ["extra.b", "extra.a"], [("x.w", (2, 3), (4, 3))],
                              checkpoint="ck.pth", config="cfg.yaml")
    text = str(info.value)
    assert "checkpoint ck.pth does not match the model built from cfg.yaml" in text
    assert "missing keys (in the model, not in the checkpoint): head.w0, head.w1, head.w2, head.w3, head.w4 " \
           "... (7 in all)" in text
    assert "unexpected keys (in the checkpoint, not in the model): extra.a, extra.b" in text
    assert "shape mismatches: x.w (checkpoint (2, 3), model (4, 3))" in text
    check_checkpoint_keys(["clip.a"], [], [], may_be_missing={"clip.a"})  # allowed: no error


def test_pretrained_clip_keys_are_the_frozen_clip_weights_only():
    model = build_tiny_model()
    keys = pretrained_clip_keys(model)
    state = model.state_dict()
    adapter_keys = {k for k in state if ".adapter." in k}
    assert adapter_keys and not keys & adapter_keys
    assert keys == {k for k in state if k.startswith(CLIP_PREFIX)} - adapter_keys
    assert all(not p.requires_grad for n, p in model.named_parameters() if n in keys)


def _raw(predictor: Predictor):
    return predictor.predict(scene_image(), ["cat", "sky"], task="semantic").raw["sem_seg"]


def test_checkpoint_without_clip_weights_needs_them_from_pretrained(tiny_weights, tmp_path):
    full = Predictor(TINY_CONFIG, tiny_weights, opts=TEST_OPTS)
    checkpoint = torch.load(tiny_weights, map_location="cpu")
    clip_state = {k[len(CLIP_PREFIX):]: v for k, v in checkpoint["model"].items()
                  if k.startswith(CLIP_PREFIX) and k in pretrained_clip_keys(full.model)}
    stripped = {k: v for k, v in checkpoint["model"].items() if not k.startswith(CLIP_PREFIX) or
                k[len(CLIP_PREFIX):] not in clip_state}
    torch.save({"model": stripped}, tmp_path / "heads_only.pth")

    with pytest.raises(ValueError, match=f"heads_only.pth does not match the model built from {TINY_CONFIG}: "
                                         "missing keys .*: backbone.clip_model."):
        Predictor(TINY_CONFIG, tmp_path / "heads_only.pth", opts=TEST_OPTS)  # PRETRAINED "" gives random CLIP

    # The CLIP weights saved as an open_clip checkpoint (names without the adapter wrappers' "block." level).
    open_clip_state = {k.replace(".block.", "."): v for k, v in clip_state.items()}
    torch.save(open_clip_state, tmp_path / "clip.pt")
    from_pretrained = Predictor(TINY_CONFIG, tmp_path / "heads_only.pth",
                                opts=[*TEST_OPTS, "MODEL.CLIP.PRETRAINED", str(tmp_path / "clip.pt")])
    torch.testing.assert_close(_raw(from_pretrained), _raw(full), rtol=0, atol=0)


def test_checkpoint_of_another_config_is_refused(tiny_weights):
    with pytest.raises(ValueError, match="shape mismatches: sem_seg_head.*checkpoint .*model .*Use the config"):
        Predictor(TINY_CONFIG, tiny_weights, opts=[*TEST_OPTS, "MODEL.MASK_FORMER.NUM_OBJECT_QUERIES", "8"])
    with pytest.raises(ValueError, match="unexpected keys .*: sem_seg_head.predictor.transformer_.*layers\\.1\\."):
        Predictor(TINY_CONFIG, tiny_weights, opts=[*TEST_OPTS, "MODEL.MASK_FORMER.DEC_LAYERS", "2"])


def test_unexpected_keys_and_unreadable_files_are_errors(tiny_weights, tmp_path):
    checkpoint = torch.load(tiny_weights, map_location="cpu")
    checkpoint["model"]["head_from_elsewhere.weight"] = torch.zeros(2)
    torch.save(checkpoint, tmp_path / "extra.pth")
    with pytest.raises(ValueError, match="unexpected keys .*: head_from_elsewhere.weight"):
        Predictor(TINY_CONFIG, tmp_path / "extra.pth", opts=TEST_OPTS)
    (tmp_path / "garbage.pth").write_bytes(b"definitely not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint .*garbage.pth"):
        Predictor(TINY_CONFIG, tmp_path / "garbage.pth", opts=TEST_OPTS)
    with pytest.raises(FileNotFoundError, match="checkpoint .*nothing.pth does not exist"):
        Predictor(TINY_CONFIG, tmp_path / "nothing.pth", opts=TEST_OPTS)
    with pytest.raises(ValueError, match="needs trained weights"):
        Predictor(TINY_CONFIG, opts=TEST_OPTS)
