"""The second classifier's feature head as a registry member (MODEL.GPA.MASK_CLASSIFIER / CFA.ENABLED), and the
meta-architecture's parts built by their own from_config."""

from __future__ import annotations

import pytest
import torch
from detectron2.config import configurable
from detectron2.modeling import build_model
from torch import nn

import gpa  # noqa: F401
from gpa.modeling.heads import MASK_CLASSIFIER_REGISTRY, ContextAwareAggregation, MaskPooling
from gpa.modeling.heads.mask_classifier import mask_classifier_name
from gpa.modeling.ops.mask_pooling import mask_pool
from gpa.vocabulary import Vocabulary
from tests.modeling.test_gpa_model import _inputs


@MASK_CLASSIFIER_REGISTRY.register()
class _TestMaxPooling(nn.Module):
    """A third member written as a researcher would: one class, a learned scale, a loss."""

    has_loss = True

    @configurable
    def __init__(self, *, dense_dim: int, query_dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dense_dim))

    @classmethod
    def from_config(cls, cfg, dense_dim: int, query_dim: int) -> dict:
        return {"dense_dim": dense_dim, "query_dim": query_dim}

    def forward(self, dense, mask_logits, query_features):
        return mask_pool(dense, mask_logits) * self.scale


@pytest.mark.parametrize(
    ("name", "enabled", "expected"),
    [
        ("", True, "ContextAwareAggregation"),
        ("", False, "MaskPooling"),
        ("ContextAwareAggregation", True, "ContextAwareAggregation"),
        ("MaskPooling", False, "MaskPooling"),
        ("_TestMaxPooling", False, "_TestMaxPooling"),
    ],
)
def test_name_follows_cfa_enabled(tiny_cfg, name, enabled, expected):
    tiny_cfg.MODEL.GPA.MASK_CLASSIFIER, tiny_cfg.MODEL.GPA.CFA.ENABLED = name, enabled
    assert mask_classifier_name(tiny_cfg) == expected


@pytest.mark.parametrize(("name", "enabled"), [("MaskPooling", True), ("ContextAwareAggregation", False)])
def test_contradicting_cfa_enabled_is_refused(tiny_cfg, name, enabled):
    tiny_cfg.MODEL.GPA.MASK_CLASSIFIER, tiny_cfg.MODEL.GPA.CFA.ENABLED = name, enabled
    with pytest.raises(ValueError, match=f"MASK_CLASSIFIER is '{name}' but MODEL.GPA.CFA.ENABLED is {enabled}"):
        build_model(tiny_cfg)


def test_unknown_name_lists_the_registered(tiny_cfg):
    tiny_cfg.MODEL.GPA.MASK_CLASSIFIER, tiny_cfg.MODEL.GPA.CFA.ENABLED = "AttnPool", False
    with pytest.raises(ValueError, match=r"unknown mask classifier 'AttnPool' \(MODEL.GPA.MASK_CLASSIFIER\); "
                                         r"valid: ContextAwareAggregation, MaskPooling"):
        build_model(tiny_cfg)


def test_mask_pooling_member_is_mask_pool_and_has_no_state():
    g = torch.Generator().manual_seed(0)
    dense, masks = torch.randn(2, 5, 6, 7, generator=g), torch.randn(2, 3, 12, 14, generator=g)
    head = MaskPooling(dense_dim=5, query_dim=4)
    torch.testing.assert_close(head(dense, masks, torch.randn(2, 3, 4)), mask_pool(dense, masks), rtol=0, atol=0)
    assert head.state_dict() == {} and not head.has_loss and ContextAwareAggregation.has_loss


def test_cfa_off_model_has_mask_pooling_no_cfa_keys_no_cfa_loss(tiny_cfg):
    tiny_cfg.MODEL.GPA.CFA.ENABLED = False
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    assert isinstance(model.cfa_head, MaskPooling)
    assert not any(k.startswith("cfa_head.") for k in model.state_dict())
    assert not any(k.startswith("cfa_head.") for k in model.keys_new_over_fcclip())
    assert "loss_cfa" not in model(_inputs())


def test_a_third_member_is_built_trained_and_saved_under_cfa_head(tiny_cfg):
    tiny_cfg.MODEL.GPA.MASK_CLASSIFIER, tiny_cfg.MODEL.GPA.CFA.ENABLED = "_TestMaxPooling", False
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    model.train_vocabulary = Vocabulary.from_strings(["red circle", "stripes"], [True, False])
    assert isinstance(model.cfa_head, _TestMaxPooling) and "cfa_head.scale" in model.keys_new_over_fcclip()
    losses = model(_inputs())
    losses["loss_cfa"].backward()
    assert model.cfa_head.scale.grad.abs().sum() > 0


@pytest.mark.parametrize("deep_supervision", [True, False])
def test_criterion_and_matcher_come_from_their_own_from_config(tiny_cfg, deep_supervision):
    from gpa.modeling.criterion import SetCriterion

    tiny_cfg.MODEL.MASK_FORMER.DEEP_SUPERVISION = deep_supervision
    model = build_model(tiny_cfg)
    reference = SetCriterion(tiny_cfg)
    assert model.criterion.deep_supervision is deep_supervision
    assert model.criterion.weight_dict == reference.weight_dict
    mf = tiny_cfg.MODEL.MASK_FORMER
    assert len(model.criterion.weight_dict) == 3 * (mf.DEC_LAYERS if deep_supervision else 1)
    matcher = model.criterion.matcher
    assert (matcher.cost_class, matcher.cost_mask, matcher.cost_dice, matcher.num_points) == (
        mf.CLASS_WEIGHT, mf.MASK_WEIGHT, mf.DICE_WEIGHT, mf.TRAIN_NUM_POINTS
    )
    if not deep_supervision:
        losses = model(_inputs())
        assert set(losses) == {"loss_ce", "loss_mask", "loss_dice", "loss_cfa"}
