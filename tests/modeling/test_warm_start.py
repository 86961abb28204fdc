"""Warm start from FC-CLIP: GPA built as configs/coco/gpa_from_fcclip.yaml, given the weights of the FC-CLIP-equivalent
model (configs/coco/fcclip_convnext_large.yaml), gives that model's outputs at iteration 0. Both are built at the
tiny config's sizes with the model switches of the two COCO configs; random weights stand in for FC-CLIP's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model

import gpa  # noqa: F401
from gpa.config import add_gpa_config
from gpa.modeling.backbone.spatial_adapter import SpatialAdapter
from gpa.modeling.heads import ContextAwareAggregation, MaskPooling
from tests.modeling.test_fcclip_parity import TRAIN, _inputs, _make_some_queries_void, _spread_weights

REPO = Path(__file__).resolve().parents[2]
# Keys that decide the model's structure and inference, taken from the COCO configs onto the tiny sizes.
SWITCHES = (
    "MODEL.ADAPTER.ENABLED",
    "MODEL.GPA.CFA.ENABLED",
    "MODEL.GPA.CFA.START_AS_MASK_POOLING",
    "MODEL.GPA.ENSEMBLE_FORMULA",
    "MODEL.GPA.ENSEMBLE_ON_VALID_MASK",
    "MODEL.GPA.ENSEMBLE_ALPHA",
    "MODEL.GPA.ENSEMBLE_BETA",
    "MODEL.MASK_FORMER.TEST.OBJECT_MASK_THRESHOLD",
    "MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD",
    "MODEL.MASK_FORMER.TEST.INSTANCE_SELECTION",
)


def _config(path: str):
    def load(p):
        cfg = get_cfg()
        add_gpa_config(cfg)
        cfg.merge_from_file(str(p))
        return cfg

    coco, tiny = load(REPO / path), load(REPO / "configs" / "tiny" / "gpa_tiny.yaml")
    for key in SWITCHES:
        node_path, leaf = key.rsplit(".", 1)
        source, target = coco, tiny
        for part in node_path.split("."):
            source, target = source[part], target[part]
        target[leaf] = source[leaf]
    tiny.MODEL.MASK_FORMER.TEST.DETECTIONS_PER_IMAGE = 30
    return tiny


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    fcclip = build_model(_config("configs/coco/fcclip_convnext_large.yaml")).eval()
    fcclip.train_vocabulary = TRAIN
    _spread_weights(fcclip)
    _make_some_queries_void(fcclip)
    torch.manual_seed(1)  # the warm-start model's own random init: everything loaded must overwrite it
    warm = build_model(_config("configs/coco/gpa_from_fcclip.yaml")).eval()
    warm.train_vocabulary = TRAIN
    return fcclip, warm


def test_configs_are_fcclip_and_its_warm_start(models):
    fcclip, warm = models
    assert isinstance(fcclip.cfa_head, MaskPooling) and not fcclip.backbone.adapters
    assert isinstance(warm.cfa_head, ContextAwareAggregation) and warm.cfa_head.mask_pooling_gate is not None
    assert warm.backbone.adapters


def test_only_adapter_and_cfa_keys_are_new_and_outputs_equal_at_iteration_0(models):
    fcclip, warm = models
    result = warm.load_state_dict(fcclip.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert sorted(result.missing_keys) == warm.keys_new_over_fcclip()
    adapter_owners = [n for n, m in warm.named_modules() if isinstance(m, SpatialAdapter)]
    assert all(k.startswith("cfa_head.") or any(k.startswith(f"{a}.") for a in adapter_owners)
               for k in result.missing_keys)
    assert any(k.startswith("cfa_head.") for k in result.missing_keys) and len(adapter_owners) > 0

    with torch.no_grad():
        ours, theirs = warm(_inputs()), fcclip(_inputs())
    for a, b in zip(ours, theirs):
        assert torch.equal(a["sem_seg"], b["sem_seg"])
        assert torch.equal(a["panoptic_seg"][0], b["panoptic_seg"][0]) and a["panoptic_seg"][1] == b["panoptic_seg"][1]
        for field in ("scores", "pred_classes", "pred_masks"):
            assert torch.equal(getattr(a["instances"], field), getattr(b["instances"], field))
        assert torch.equal(a["instances"].pred_boxes.tensor, b["instances"].pred_boxes.tensor)
    assert any(len(r["panoptic_seg"][1]) for r in theirs) and all(len(r["instances"]) for r in theirs)


def test_warm_start_trains_adapters_and_cfa_head(models):
    """One backward pass from the warm start reaches the new parts: the adapters' up-projections (zero-init,
    so their gradient is nonzero) and the CFA gate."""
    _, warm = models
    from tests.modeling.test_gpa_model import _inputs as training_inputs

    warm.train()
    try:
        warm.train_vocabulary = TRAIN
        losses = warm(training_inputs(vocabulary=TRAIN))
        sum(losses.values()).backward()
        assert "loss_cfa" in losses
        assert warm.cfa_head.mask_pooling_gate.grad.abs() > 0
        assert all(a.up.weight.grad.abs().sum() > 0 for a in warm.backbone.adapters)
    finally:
        warm.zero_grad()
        warm.eval()
