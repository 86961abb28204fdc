"""Mask2Former's masked-attention transformer decoder with FC-CLIP's open-vocabulary class embeddings."""
import math

import fvcore.nn.weight_init as weight_init
import torch
import torch.nn.functional as F
from detectron2.config import CfgNode, configurable
from detectron2.layers import Conv2d
from torch import Tensor, nn

from ..ops.mask_pooling import mask_pool
from ..pixel_decoder.position_encoding import PositionEmbeddingSine
from .build import TRANSFORMER_DECODER_REGISTRY
from .decoder_layers import MLP, CrossAttentionLayer, FFNLayer, SelfAttentionLayer

__all__ = ["MultiScaleMaskedTransformerDecoder", "attention_mask_from_masks"]


def attention_mask_from_masks(mask_logits: Tensor, size: tuple[int, int], num_heads: int) -> Tensor:
    """Masked-attention mask from predicted masks: [B, Q, H, W] logits -> bool [B*num_heads, Q, h*w].

    True (blocked) where the mask resized to `size` has sigmoid < 0.5. A query whose mask is empty everywhere
    attends everywhere instead (a fully blocked row would give NaN). Detached: no gradient through the mask.
    """
    resized = F.interpolate(mask_logits.detach(), size=size, mode="bilinear", align_corners=False)
    blocked = resized.sigmoid().flatten(2) < 0.5
    blocked = blocked & ~blocked.all(dim=-1, keepdim=True)
    return blocked.repeat_interleave(num_heads, dim=0)


@TRANSFORMER_DECODER_REGISTRY.register()
class MultiScaleMaskedTransformerDecoder(nn.Module):
    """Learnable queries refined by masked cross-attention over 3 feature levels (round-robin), self-attention and
    an FFN per layer. Every layer (and the initial queries) predicts masks and an L2-normalized CLIP-space class
    embedding per query: mask-pooled mask features, projected and added to the query, through an MLP.

    Parameter names follow the Mask2Former / FC-CLIP checkpoints (`sem_seg_head.predictor.*`).
    """

    NUM_FEATURE_LEVELS = 3

    @configurable
    def __init__(
        self,
        in_channels: int,
        mask_classification: bool = True,
        *,
        hidden_dim: int,
        num_queries: int,
        nheads: int,
        dim_feedforward: int,
        dec_layers: int,
        pre_norm: bool,
        mask_dim: int,
        enforce_input_project: bool,
        embed_dim: int,
        dropout: float = 0.0,
    ):
        """dec_layers: masked-attention layers (the config's DEC_LAYERS minus the initial prediction)."""
        super().__init__()
        if not mask_classification:
            raise ValueError("MultiScaleMaskedTransformerDecoder always predicts class embeddings: mask_classification "
                             "must be True")
        if dec_layers < 0:
            raise ValueError(f"dec_layers must be >= 0, got {dec_layers}")
        if hidden_dim % 2 != 0 or hidden_dim % nheads != 0:
            raise ValueError(f"hidden_dim ({hidden_dim}) must be even and divisible by nheads ({nheads})")
        self.mask_classification = mask_classification
        self.in_channels = in_channels
        self.mask_dim = mask_dim
        self.num_heads = nheads
        self.num_layers = dec_layers
        self.num_queries = num_queries
        self.pe_layer = PositionEmbeddingSine(hidden_dim // 2, normalize=True)
        self.transformer_self_attention_layers = nn.ModuleList(
            SelfAttentionLayer(hidden_dim, nheads, dropout, pre_norm) for _ in range(dec_layers)
        )
        self.transformer_cross_attention_layers = nn.ModuleList(
            CrossAttentionLayer(hidden_dim, nheads, dropout, pre_norm) for _ in range(dec_layers)
        )
        self.transformer_ffn_layers = nn.ModuleList(
            FFNLayer(hidden_dim, dim_feedforward, dropout, pre_norm) for _ in range(dec_layers)
        )
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.level_embed = nn.Embedding(self.NUM_FEATURE_LEVELS, hidden_dim)
        self.input_proj = nn.ModuleList()
        for _ in range(self.NUM_FEATURE_LEVELS):
            if in_channels != hidden_dim or enforce_input_project:
                proj = Conv2d(in_channels, hidden_dim, kernel_size=1)
                weight_init.c2_xavier_fill(proj)
                self.input_proj.append(proj)
            else:
                self.input_proj.append(nn.Sequential())
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, 3)
        self._mask_pooling_proj = nn.Sequential(nn.LayerNorm(mask_dim), nn.Linear(mask_dim, hidden_dim))
        self.class_embed = MLP(hidden_dim, hidden_dim, embed_dim, 3)
        # Temperature of the in-vocabulary classifier (applied by the head, CLIP's initial value).
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    @classmethod
    def from_config(cls, cfg: CfgNode, in_channels: int, mask_classification: bool, *, embed_dim: int) -> dict:
        mf = cfg.MODEL.MASK_FORMER
        if mf.DEC_LAYERS < 1:
            raise ValueError(f"MODEL.MASK_FORMER.DEC_LAYERS counts the initial prediction and must be >= 1, "
                             f"got {mf.DEC_LAYERS}")
        return {
            "in_channels": in_channels,
            "mask_classification": mask_classification,
            "hidden_dim": mf.HIDDEN_DIM,
            "num_queries": mf.NUM_OBJECT_QUERIES,
            "nheads": mf.NHEADS,
            "dim_feedforward": mf.DIM_FEEDFORWARD,
            "dec_layers": mf.DEC_LAYERS - 1,
            "pre_norm": mf.PRE_NORM,
            "mask_dim": cfg.MODEL.SEM_SEG_HEAD.MASK_DIM,
            "enforce_input_project": mf.ENFORCE_INPUT_PROJ,
            "embed_dim": embed_dim,
            "dropout": mf.DROPOUT,
        }

    def forward(self, x: list[Tensor], mask_features: Tensor, mask: Tensor | None = None) -> dict:
        """x: 3 feature maps [B, in_channels, h_i, w_i], coarsest first; mask_features [B, mask_dim, H, W].

        Returns {"pred_masks": [B, Q, H, W], "pred_embeds": [B, Q, E] (unit norm), "query_features": [B, Q, hidden],
        "aux_outputs": [{"pred_masks", "pred_embeds"}, ...] for the earlier predictions, first to last}.
        """
        if mask is not None:
            raise NotImplementedError("MultiScaleMaskedTransformerDecoder does not use padding masks; pass mask=None")
        if len(x) != self.NUM_FEATURE_LEVELS:
            raise ValueError(f"expected {self.NUM_FEATURE_LEVELS} feature levels, got {len(x)}")
        channels = [int(feat.shape[1]) for feat in x]
        if channels != [self.in_channels] * self.NUM_FEATURE_LEVELS or mask_features.shape[1] != self.mask_dim:
            raise ValueError(
                f"decoder built for {self.in_channels}-channel features and {self.mask_dim}-channel mask features, "
                f"got {channels} and {mask_features.shape[1]}"
            )
        sizes, srcs, pos = [], [], []
        for i, feat in enumerate(x):
            sizes.append(tuple(feat.shape[-2:]))
            pos.append(self.pe_layer(feat).flatten(2).transpose(1, 2))
            src = self.input_proj[i](feat).flatten(2) + self.level_embed.weight[i][None, :, None]
            srcs.append(src.transpose(1, 2))

        batch = x[0].shape[0]
        query_pos = self.query_embed.weight.unsqueeze(0).expand(batch, -1, -1)
        output = self.query_feat.weight.unsqueeze(0).expand(batch, -1, -1)

        predictions = [self._predict(output, mask_features)]
        for i in range(self.num_layers):
            level = i % self.NUM_FEATURE_LEVELS
            attn_mask = attention_mask_from_masks(predictions[-1]["pred_masks"], sizes[level], self.num_heads)
            output = self.transformer_cross_attention_layers[i](
                output, srcs[level], memory_mask=attn_mask, pos=pos[level], query_pos=query_pos
            )
            output = self.transformer_self_attention_layers[i](output, query_pos=query_pos)
            output = self.transformer_ffn_layers[i](output)
            predictions.append(self._predict(output, mask_features))

        out = dict(predictions[-1])
        out["aux_outputs"] = [
            {"pred_masks": p["pred_masks"], "pred_embeds": p["pred_embeds"]} for p in predictions[:-1]
        ]
        return out

    def _predict(self, output: Tensor, mask_features: Tensor) -> dict[str, Tensor]:
        """Masks and class embeddings from the current queries [B, Q, hidden]."""
        query_features = self.decoder_norm(output)
        pred_masks = torch.einsum("bqc,bchw->bqhw", self.mask_embed(query_features), mask_features)
        pooled = self._mask_pooling_proj(mask_pool(mask_features, pred_masks))
        pred_embeds = F.normalize(self.class_embed(pooled + query_features), dim=-1)
        return {"pred_masks": pred_masks, "pred_embeds": pred_embeds, "query_features": query_features}
