"""The mask generator as detectron2's `sem_seg_head`: pixel decoder + masked-attention decoder.

Attribute names (`pixel_decoder`, `predictor`) match Mask2Former / FC-CLIP checkpoints.
"""

from __future__ import annotations

import torch
from detectron2.config import CfgNode, configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import SEM_SEG_HEADS_REGISTRY
from torch import nn

from gpa.modeling.pixel_decoder.build import build_pixel_decoder
from gpa.modeling.transformer_decoder.build import build_transformer_decoder

__all__ = ["GPAHead"]


@SEM_SEG_HEADS_REGISTRY.register()
class GPAHead(nn.Module):
    """Class-agnostic masks and CLIP-space query embeddings from multi-scale encoder features."""

    @configurable
    def __init__(self, *, pixel_decoder: nn.Module, predictor: nn.Module) -> None:
        super().__init__()
        self.pixel_decoder = pixel_decoder
        self.predictor = predictor

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: dict[str, ShapeSpec], embed_dim: int) -> dict:
        return {
            "pixel_decoder": build_pixel_decoder(cfg, input_shape),
            "predictor": build_transformer_decoder(cfg, cfg.MODEL.SEM_SEG_HEAD.CONVS_DIM, embed_dim=embed_dim),
        }

    def forward(self, features: dict[str, torch.Tensor]) -> dict:
        mask_features, _, multi_scale_features = self.pixel_decoder.forward_features(features)
        return self.predictor(multi_scale_features, mask_features)
