"""The second (out-of-vocabulary) classifier's feature head, chosen by name: MODEL.GPA.MASK_CLASSIFIER.

A mask classifier turns the dense CLIP map and the mask generator's predictions into one CLIP-space vector per
query, which GPA classifies with CLIP's own pooling head. Members: `ContextAwareAggregation` (CFA, gpa's head;
gpa/modeling/heads/context_aggregation.py) and `MaskPooling` (FC-CLIP's plain mask pooling). A third is one class:

    @MASK_CLASSIFIER_REGISTRY.register()
    class MyPooling(nn.Module):
        has_loss = True  # GPA adds its cross-entropy on matched queries (weight MODEL.GPA.CFA.LOSS_WEIGHT)

        @configurable
        def __init__(self, *, dense_dim: int, query_dim: int): ...

        @classmethod
        def from_config(cls, cfg, dense_dim, query_dim): ...

        def forward(self, dense, mask_logits, query_features):  # [B, D, h, w], [B, Q, H, W], [B, Q, Cq]
            ...  # -> [B, Q, D]

selected with `MODEL.GPA.MASK_CLASSIFIER MyPooling` and `MODEL.GPA.CFA.ENABLED False`.
"""
from __future__ import annotations

import torch
from detectron2.config import CfgNode, configurable
from torch import nn

from gpa.modeling.ops.mask_pooling import mask_pool
from gpa.registry import NamedRegistry

__all__ = ["MASK_CLASSIFIER_REGISTRY", "MaskPooling", "build_mask_classifier", "mask_classifier_name"]

MASK_CLASSIFIER_REGISTRY = NamedRegistry("MASK_CLASSIFIER", "mask classifier")
MASK_CLASSIFIER_REGISTRY.__doc__ = """Heads mapping (dense [B, D, h, w], mask_logits [B, Q, H, W], query_features
[B, Q, Cq]) to per-query CLIP-space features [B, Q, D]; built as `cls(cfg, dense_dim=..., query_dim=...)`, with a
class attribute `has_loss` (True: trained by GPA's matched cross-entropy)."""

CFA_NAME = "ContextAwareAggregation"  # the member MODEL.GPA.CFA.ENABLED True selects
MASK_POOLING_NAME = "MaskPooling"  # the member MODEL.GPA.CFA.ENABLED False selects by default


def mask_classifier_name(cfg: CfgNode) -> str:
    """The registered name MODEL.GPA.MASK_CLASSIFIER and MODEL.GPA.CFA.ENABLED select together.

    MASK_CLASSIFIER "" follows CFA.ENABLED (True: CFA, False: mask pooling). A name must agree with CFA.ENABLED:
    True means the classifier is CFA, so any other name needs CFA.ENABLED False.
    """
    name, cfa_enabled = cfg.MODEL.GPA.MASK_CLASSIFIER, cfg.MODEL.GPA.CFA.ENABLED
    if not name:
        return CFA_NAME if cfa_enabled else MASK_POOLING_NAME
    if cfa_enabled != (name == CFA_NAME):
        raise ValueError(
            f"MODEL.GPA.MASK_CLASSIFIER is {name!r} but MODEL.GPA.CFA.ENABLED is {cfa_enabled}: CFA.ENABLED True "
            f"selects {CFA_NAME!r}; set MODEL.GPA.CFA.ENABLED {not cfa_enabled} or MODEL.GPA.MASK_CLASSIFIER \"\""
        )
    return name


def build_mask_classifier(cfg: CfgNode, dense_dim: int, query_dim: int) -> nn.Module:
    """The mask classifier the config selects (see `mask_classifier_name`)."""
    head = MASK_CLASSIFIER_REGISTRY.get_for(mask_classifier_name(cfg), "MODEL.GPA.MASK_CLASSIFIER")
    return head(cfg, dense_dim=dense_dim, query_dim=query_dim)


@MASK_CLASSIFIER_REGISTRY.register()
class MaskPooling(nn.Module):
    """FC-CLIP's out-of-vocabulary features: the dense map averaged inside each binarized mask (no parameters,
    no loss; gradients reach the dense map only, see `mask_pool`)."""

    has_loss = False

    @configurable
    def __init__(self, *, dense_dim: int = 0, query_dim: int = 0) -> None:
        """The widths are accepted for the registry's common signature; mask pooling needs neither."""
        super().__init__()

    @classmethod
    def from_config(cls, cfg: CfgNode, dense_dim: int, query_dim: int) -> dict:
        return {"dense_dim": dense_dim, "query_dim": query_dim}

    def forward(self, dense: torch.Tensor, mask_logits: torch.Tensor, query_features: torch.Tensor) -> torch.Tensor:
        return mask_pool(dense, mask_logits)
