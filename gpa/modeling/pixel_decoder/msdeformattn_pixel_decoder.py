"""Mask2Former's pixel decoder: deformable-attention encoder on the coarse levels, FPN step down to the mask stride."""
import math

import fvcore.nn.weight_init as weight_init
import torch.nn.functional as F
from detectron2.config import CfgNode, configurable
from detectron2.layers import Conv2d, ShapeSpec, get_norm
from torch import Tensor, nn

from .build import PIXEL_DECODER_REGISTRY
from .msdeformattn_encoder import MSDeformAttnTransformerEncoder
from .position_encoding import PositionEmbeddingSine

__all__ = ["MSDeformAttnPixelDecoder"]

_INPUT_PROJ_GROUPS = 32  # GroupNorm groups of the encoder input projections (as in Mask2Former checkpoints)
_NUM_OUTPUT_LEVELS = 3  # multi-scale features handed to the transformer decoder


@PIXEL_DECODER_REGISTRY.register()
class MSDeformAttnPixelDecoder(nn.Module):
    """Multi-scale deformable attention pixel decoder.

    The `transformer_in_features` levels (e.g. res3..res5) are projected to `conv_dim`, refined jointly by a
    deformable transformer encoder, then finer inputs (e.g. res2) join top-down FPN-style until `common_stride`,
    where a 1x1 conv gives the per-pixel mask features. Parameter names follow Mask2Former's checkpoints.
    """

    @configurable
    def __init__(
        self,
        input_shape: dict[str, ShapeSpec],
        *,
        transformer_in_features: list[str],
        conv_dim: int,
        mask_dim: int,
        norm: str,
        common_stride: int,
        transformer_enc_layers: int,
        transformer_nheads: int,
        transformer_n_points: int,
        transformer_dim_feedforward: int,
        transformer_dropout: float = 0.0,
    ):
        super().__init__()
        missing = [f for f in transformer_in_features if f not in input_shape]
        if not transformer_in_features or missing:
            raise ValueError(
                f"deformable encoder features {list(transformer_in_features)} must be a non-empty subset of the "
                f"input features {sorted(input_shape)} (missing: {missing})"
            )
        if conv_dim % _INPUT_PROJ_GROUPS != 0:
            raise ValueError(f"conv_dim ({conv_dim}) must be divisible by {_INPUT_PROJ_GROUPS} (GroupNorm groups)")

        by_stride = sorted(input_shape.items(), key=lambda kv: kv[1].stride)
        # Encoder levels, finest first; the encoder itself runs coarsest first.
        encoder_levels = [(k, s) for k, s in by_stride if k in transformer_in_features]
        self.transformer_in_features = [k for k, _ in encoder_levels]
        min_encoder_stride = encoder_levels[0][1].stride
        num_fpn = math.log2(min_encoder_stride / common_stride)
        if num_fpn < 0 or not num_fpn.is_integer():
            raise ValueError(
                f"common_stride ({common_stride}) must be the finest encoder stride ({min_encoder_stride}) divided by "
                "a power of 2"
            )
        self.num_fpn_levels = int(num_fpn)
        fpn_levels = [(k, s) for k, s in by_stride if k not in transformer_in_features]
        expected_strides = [common_stride * 2**i for i in range(self.num_fpn_levels)]
        if [s.stride for _, s in fpn_levels] != expected_strides:
            raise ValueError(
                f"the FPN step from stride {min_encoder_stride} to common_stride {common_stride} needs input features "
                f"of strides {expected_strides} besides the encoder features; got "
                f"{[(k, s.stride) for k, s in fpn_levels]}. Adjust MODEL.SEM_SEG_HEAD.IN_FEATURES / COMMON_STRIDE."
            )
        self.fpn_in_features = [k for k, _ in fpn_levels]  # finest first
        if len(encoder_levels) + self.num_fpn_levels < _NUM_OUTPUT_LEVELS:
            raise ValueError(
                f"the pixel decoder must produce {_NUM_OUTPUT_LEVELS} levels for the transformer decoder, got "
                f"{len(encoder_levels)} encoder + {self.num_fpn_levels} FPN levels"
            )

        # Encoder input projections, coarsest level first (checkpoint order).
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(s.channels, conv_dim, kernel_size=1), nn.GroupNorm(_INPUT_PROJ_GROUPS, conv_dim))
            for _, s in encoder_levels[::-1]
        )
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.zeros_(proj[0].bias)
        self.transformer = MSDeformAttnTransformerEncoder(
            d_model=conv_dim,
            n_heads=transformer_nheads,
            num_layers=transformer_enc_layers,
            dim_feedforward=transformer_dim_feedforward,
            dropout=transformer_dropout,
            num_levels=len(encoder_levels),
            n_points=transformer_n_points,
        )
        self.pe_layer = PositionEmbeddingSine(conv_dim // 2, normalize=True)
        self.mask_dim = mask_dim
        self.mask_features = Conv2d(conv_dim, mask_dim, kernel_size=1)
        weight_init.c2_xavier_fill(self.mask_features)

        # FPN convs named adapter_i / layer_i, i = 1 for the finest input (checkpoint names).
        use_bias = norm == ""
        for idx, (_, shape) in enumerate(fpn_levels, start=1):
            lateral = Conv2d(shape.channels, conv_dim, kernel_size=1, bias=use_bias, norm=get_norm(norm, conv_dim))
            output = Conv2d(conv_dim, conv_dim, kernel_size=3, padding=1, bias=use_bias,
                            norm=get_norm(norm, conv_dim), activation=F.relu)
            weight_init.c2_xavier_fill(lateral)
            weight_init.c2_xavier_fill(output)
            self.add_module(f"adapter_{idx}", lateral)
            self.add_module(f"layer_{idx}", output)

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: dict[str, ShapeSpec]) -> dict:
        head = cfg.MODEL.SEM_SEG_HEAD
        missing = [f for f in head.IN_FEATURES if f not in input_shape]
        if missing:
            raise ValueError(
                f"MODEL.SEM_SEG_HEAD.IN_FEATURES {list(head.IN_FEATURES)} names features the backbone does not "
                f"produce: {missing}; available: {sorted(input_shape)}"
            )
        return {
            "input_shape": {k: input_shape[k] for k in head.IN_FEATURES},
            "transformer_in_features": list(head.DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES),
            "conv_dim": head.CONVS_DIM,
            "mask_dim": head.MASK_DIM,
            "norm": head.NORM,
            "common_stride": head.COMMON_STRIDE,
            "transformer_enc_layers": head.TRANSFORMER_ENC_LAYERS,
            "transformer_nheads": head.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS,
            "transformer_n_points": head.DEFORMABLE_TRANSFORMER_ENCODER_N_POINTS,
            "transformer_dim_feedforward": head.TRANSFORMER_ENC_DIM_FEEDFORWARD,
            "transformer_dropout": cfg.MODEL.MASK_FORMER.DROPOUT,
        }

    def forward_features(self, features: dict[str, Tensor]) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Returns (mask_features [B, mask_dim, H/common_stride, W/common_stride], the coarsest encoder output,
        the 3 coarsest output levels, coarsest first)."""
        missing = [f for f in self.transformer_in_features + self.fpn_in_features if f not in features]
        if missing:
            raise KeyError(f"pixel decoder input lacks features {missing}; got {sorted(features)}")
        coarse_first = self.transformer_in_features[::-1]
        srcs = [proj(features[name]) for proj, name in zip(self.input_proj, coarse_first)]
        pos = [self.pe_layer(features[name]) for name in coarse_first]
        memory, shapes = self.transformer(srcs, pos)
        batch = memory.shape[0]
        outs = [
            level.transpose(1, 2).reshape(batch, -1, h, w)
            for level, (h, w) in zip(memory.split([h * w for h, w in shapes], dim=1), shapes)
        ]
        for idx in range(self.num_fpn_levels, 0, -1):  # coarse to fine
            lateral = getattr(self, f"adapter_{idx}")(features[self.fpn_in_features[idx - 1]])
            top_down = F.interpolate(outs[-1], size=lateral.shape[-2:], mode="bilinear", align_corners=False)
            outs.append(getattr(self, f"layer_{idx}")(lateral + top_down))
        return self.mask_features(outs[-1]), outs[0], outs[:_NUM_OUTPUT_LEVELS]

    def forward(self, features: dict[str, Tensor]) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Same as forward_features."""
        return self.forward_features(features)
