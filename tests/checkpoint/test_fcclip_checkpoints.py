"""A checkpoint with FC-CLIP's exact key set, saved the way FC-CLIP's detectron2 trainer saves it, loads into gpa's
FC-CLIP-equivalent model (train_net, Predictor) with no missing or unexpected key, and into the warm-start GPA
model with exactly the adapter and CFA keys newly initialized."""

from __future__ import annotations

import open_clip
import pytest
import torch
from detectron2.modeling import build_model

from gpa.checkpoint import GPACheckpointer
from gpa.engine import build_config
from gpa.inference import Predictor
from tests.inference.helpers import TEST_OPTS, TINY_CONFIG, scene_image
from tests.modeling.fcclip_reference import fcclip_model_keys, pixel_decoder_keys, predictor_keys

FCCLIP_OPTS = ["MODEL.ADAPTER.ENABLED", "False", "MODEL.GPA.CFA.ENABLED", "False"]
WARM_OPTS = ["MODEL.GPA.CFA.START_AS_MASK_POOLING", "True", "MODEL.WEIGHTS_NEW_KEYS", '("*.adapter.*", "cfa_head.*")']


@pytest.fixture(scope="module")
def fcclip_checkpoint(tmp_path_factory):
    """{"model", "optimizer", "scheduler", "iteration"} as detectron2's Checkpointer writes FC-CLIP's files."""
    cfg = build_config(TINY_CONFIG, FCCLIP_OPTS)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    state = model.state_dict()
    state["criterion.empty_weight"] = torch.cat([torch.ones(133), torch.tensor([0.1])])  # COCO: 133 + no-object
    expected = fcclip_model_keys(
        open_clip.create_model(cfg.MODEL.CLIP.MODEL_NAME),
        pixel_decoder_keys(cfg.MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS),
        predictor_keys(cfg.MODEL.MASK_FORMER.DEC_LAYERS,
                       input_proj=cfg.MODEL.SEM_SEG_HEAD.CONVS_DIM != cfg.MODEL.MASK_FORMER.HIDDEN_DIM),
    )
    assert set(state) == expected  # exactly FC-CLIP's keys, buffers included
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    for p in trainable:
        p.grad = torch.zeros_like(p)
    optimizer.step()
    path = tmp_path_factory.mktemp("fcclip") / "fcclip_cocopan.pth"
    torch.save({"model": state, "optimizer": optimizer.state_dict(), "scheduler": {"last_epoch": 368749},
                "iteration": 368749}, path)
    return path, model


def _same(model, state, skip=()):
    ours = model.state_dict()
    return all(torch.equal(ours[k], v) for k, v in state.items() if k not in skip)


def test_fcclip_checkpoint_loads_into_the_fcclip_equivalent_model(fcclip_checkpoint, checkpoint_log):
    path, reference = fcclip_checkpoint
    cfg = build_config(TINY_CONFIG, FCCLIP_OPTS)
    torch.manual_seed(5)
    model = build_model(cfg)
    extra = GPACheckpointer.from_config(cfg, model).resume_or_load(str(path), resume=False)
    assert _same(model, reference.state_dict()) and extra["iteration"] == 368749
    assert "criterion.empty_weight" in checkpoint_log.text

    predictor = Predictor(TINY_CONFIG, path, opts=[*TEST_OPTS, *FCCLIP_OPTS], train_vocabulary="coco")
    assert _same(predictor.model, reference.state_dict())
    assert predictor.predict(scene_image(), ["cat", "sky"], stuff=["sky"]).panoptic_map.shape == (60, 80)


def test_fcclip_checkpoint_warm_starts_gpa(fcclip_checkpoint, checkpoint_log):
    path, reference = fcclip_checkpoint
    cfg = build_config(TINY_CONFIG, WARM_OPTS)
    model = build_model(cfg)
    GPACheckpointer.from_config(cfg, model).resume_or_load(str(path), resume=False)
    new = sorted(model.keys_new_over_fcclip())
    line = next(line for line in checkpoint_log.text.splitlines() if "Newly initialized" in line)
    assert f"{len(new)} keys: {', '.join(new)}" in line
    # every weight FC-CLIP has is FC-CLIP's (adapted blocks hold the pretrained block under `.block.`)
    loaded = {k.replace(".block.", "."): v for k, v in model.state_dict().items()}
    assert all(torch.equal(loaded[k], v) for k, v in reference.state_dict().items())

    without = build_config(TINY_CONFIG, ["MODEL.GPA.CFA.START_AS_MASK_POOLING", "True"])
    with pytest.raises(ValueError, match=f"checkpoint {path} does not match .*missing keys .*(adapter|cfa_head)"):
        GPACheckpointer.from_config(without, build_model(without)).resume_or_load(str(path), resume=False)


def test_mismatched_fcclip_checkpoint_names_the_file_and_keys(fcclip_checkpoint):
    path, _ = fcclip_checkpoint
    cfg = build_config(TINY_CONFIG, [*FCCLIP_OPTS, "MODEL.MASK_FORMER.NUM_OBJECT_QUERIES", "8"])
    with pytest.raises(ValueError, match=f"checkpoint {path} does not match .*shape mismatches: .*query"):
        GPACheckpointer.from_config(cfg, build_model(cfg)).resume_or_load(str(path), resume=False)


def test_unused_keys_of_another_codebase_are_dropped_only_when_declared(tmp_path, fcclip_checkpoint, checkpoint_log):
    """E.g. initializing from a Mask2Former checkpoint: its backbone and class head are not gpa's."""
    path, _ = fcclip_checkpoint
    state = torch.load(path, weights_only=True)
    state["model"]["backbone.res2.0.conv1.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "other.pth")
    cfg = build_config(TINY_CONFIG, FCCLIP_OPTS)
    with pytest.raises(ValueError, match="unexpected keys .*backbone.res2.0.conv1.weight"):
        GPACheckpointer.from_config(cfg, build_model(cfg)).resume_or_load(str(tmp_path / "other.pth"), resume=False)
    cfg = build_config(TINY_CONFIG, [*FCCLIP_OPTS, "MODEL.WEIGHTS_UNUSED_KEYS", '("backbone.res*",)'])
    GPACheckpointer.from_config(cfg, build_model(cfg)).resume_or_load(str(tmp_path / "other.pth"), resume=False)
    assert "Not used (MODEL.WEIGHTS_UNUSED_KEYS" in checkpoint_log.text
