"""Context-aware feature aggregation (CFA): mask features aligned with CLIP's feature space.

Decoupled context modeling: one object-agnostic contextualized map per image (Fc = F + g(F), g
zero-initialized so Fc = F at the start), and K object-specific classification maps per query,
attention over Fc biased by the query's mask so every map starts as soft mask pooling and can then
reach discriminative parts and context. The aggregated vector lives in the dense CLIP space and is
classified by CLIP's own pooling head.

Warm start from FC-CLIP (`start_as_mask_pooling`): the output is mask pooling of Fc (FC-CLIP's
average inside the binarized mask) plus gate * (attention pooling - mask pooling), the scalar gate
initialized to zero. At initialization the head is exactly FC-CLIP's out-of-vocabulary pooling; the
gate gets a gradient at once (attention minus mask pooling), and the attention maps get theirs as
soon as the gate leaves zero, so the head can still learn to look outside the mask.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from detectron2.config import CfgNode, configurable
from detectron2.layers.batch_norm import LayerNorm
from torch import nn

from gpa.modeling.ops.mask_pooling import mask_pool

from .mask_classifier import MASK_CLASSIFIER_REGISTRY

__all__ = ["ContextAwareAggregation", "mask_biased_attention_pool"]


def mask_biased_attention_pool(
    features: torch.Tensor,
    queries: torch.Tensor,
    keys: torch.Tensor,
    mask_logits: torch.Tensor,
    eps: float,
) -> torch.Tensor:
    """Pool `features` with K attention maps per query, biased by log(sigmoid(mask) + eps).

    features: [B, D, P]; queries: [B, Q, K, d]; keys: [B, K, d, P]; mask_logits: [B, Q, P].
    A_q^k = softmax_p(<q_q^k, k^k(p)> / sqrt(d) + log(sigmoid(M_q(p)) + eps));
    returns mean_k sum_p A_q^k(p) features(p): [B, Q, D].
    """
    scale = 1.0 / math.sqrt(queries.shape[-1])
    scores = torch.einsum("bqkd,bkdp->bqkp", queries, keys) * scale
    scores = scores + torch.log(mask_logits.sigmoid() + eps)[:, :, None, :]
    attention = scores.softmax(dim=-1).mean(dim=2)  # mean over the K maps commutes with pooling
    return torch.einsum("bqp,bdp->bqd", attention, features)


class _SeparableBlock(nn.Module):
    """Residual depthwise 3x3 -> channel LayerNorm -> pointwise 1x1 -> GELU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.norm = LayerNorm(channels)
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.gelu(self.pointwise(self.norm(self.depthwise(x))))


@MASK_CLASSIFIER_REGISTRY.register()
class ContextAwareAggregation(nn.Module):
    """Aggregates dense CLIP features into one vector per query (see module docstring)."""

    has_loss = True  # trained by GPA's matched cross-entropy (MODEL.GPA.CFA.LOSS_WEIGHT)

    @configurable
    def __init__(
        self,
        *,
        dense_dim: int,
        query_dim: int,
        context_dim: int = 256,
        num_context_blocks: int = 2,
        num_maps: int = 4,
        key_dim: int = 64,
        mask_bias_eps: float = 1e-4,
        start_as_mask_pooling: bool = False,
    ) -> None:
        super().__init__()
        if num_maps < 1 or key_dim < 1:
            raise ValueError(f"CFA needs NUM_MAPS >= 1 and KEY_DIM >= 1, got {num_maps} and {key_dim}")
        if mask_bias_eps <= 0:
            raise ValueError(f"MODEL.GPA.CFA.MASK_BIAS_EPS must be > 0 (log of the mask prior), got {mask_bias_eps}")
        self.num_maps, self.key_dim, self.mask_bias_eps = num_maps, key_dim, mask_bias_eps
        self.context_in = nn.Conv2d(dense_dim, context_dim, 1)
        self.context_blocks = nn.Sequential(*[_SeparableBlock(context_dim) for _ in range(num_context_blocks)])
        self.context_out = nn.Conv2d(context_dim, dense_dim, 1)
        self.key_proj = nn.Conv2d(dense_dim, num_maps * key_dim, 1)
        self.query_proj = nn.Linear(query_dim, num_maps * key_dim)
        # Zero init: Fc = F and every map is the soft mask, i.e. the head starts as mask pooling of CLIP.
        for layer in (self.context_out, self.query_proj):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        # Gate between FC-CLIP's mask pooling (0) and the attention; only built for the warm start.
        self.mask_pooling_gate = nn.Parameter(torch.zeros(())) if start_as_mask_pooling else None

    @classmethod
    def from_config(cls, cfg: CfgNode, dense_dim: int, query_dim: int) -> dict:
        c = cfg.MODEL.GPA.CFA
        return {
            "dense_dim": dense_dim,
            "query_dim": query_dim,
            "context_dim": c.CONTEXT_DIM,
            "num_context_blocks": c.NUM_CONTEXT_BLOCKS,
            "num_maps": c.NUM_MAPS,
            "key_dim": c.KEY_DIM,
            "mask_bias_eps": c.MASK_BIAS_EPS,
            "start_as_mask_pooling": c.START_AS_MASK_POOLING,
        }

    def context(self, dense: torch.Tensor) -> torch.Tensor:
        """Object-agnostic contextualized map Fc = F + g(F): [B, D, h, w]."""
        return dense + self.context_out(self.context_blocks(self.context_in(dense)))

    def forward(self, dense: torch.Tensor, mask_logits: torch.Tensor, query_features: torch.Tensor) -> torch.Tensor:
        """dense: [B, D, h, w]; mask_logits: [B, Q, H, W] (resized to h x w, not back-propagated
        into); query_features: [B, Q, Cq]. Returns aggregated features [B, Q, D]."""
        batch, _, height, width = dense.shape
        num_queries = mask_logits.shape[1]
        context = self.context(dense)
        masks = F.interpolate(mask_logits.detach(), size=(height, width), mode="bilinear", align_corners=False)
        keys = self.key_proj(context).view(batch, self.num_maps, self.key_dim, height * width)
        queries = self.query_proj(query_features).view(batch, num_queries, self.num_maps, self.key_dim)
        attended = mask_biased_attention_pool(context.flatten(2), queries, keys, masks.flatten(2), self.mask_bias_eps)
        if self.mask_pooling_gate is None:
            return attended
        pooled = mask_pool(context, masks)
        return pooled + self.mask_pooling_gate * (attended - pooled)
