"""Deformable-attention transformer encoder over flattened multi-scale features (Deformable DETR, encoder only)."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.ms_deform_attn import MSDeformAttn

__all__ = ["MSDeformAttnEncoderLayer", "MSDeformAttnTransformerEncoder", "encoder_reference_points"]


def encoder_reference_points(spatial_shapes: list[tuple[int, int]], device: torch.device) -> Tensor:
    """Normalized (x, y) centre of every pixel of every level, repeated for each level: [1, sum(H*W), L, 2].

    Without padding every level spans the same image, so a pixel's centre is the same point on all levels.
    """
    points = []
    for h, w in spatial_shapes:
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x.reshape(-1), grid_y.reshape(-1)), -1))
    return torch.cat(points, 0)[None, :, None, :].expand(-1, -1, len(spatial_shapes), -1)


class MSDeformAttnEncoderLayer(nn.Module):
    """Post-norm layer: deformable self-attention, then a ReLU feed-forward block."""

    def __init__(self, d_model: int, d_ffn: int, dropout: float, n_levels: int, n_heads: int, n_points: int):
        super().__init__()
        self.self_attn = MSDeformAttn(d_model, n_levels, n_heads, n_points)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.dropout2 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.dropout3 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)

    def forward(
        self, src: Tensor, pos: Tensor, reference_points: Tensor, spatial_shapes: list[tuple[int, int]]
    ) -> Tensor:
        src = self.norm1(src + self.dropout1(self.self_attn(src + pos, reference_points, src, spatial_shapes)))
        ffn = self.linear2(self.dropout2(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout3(ffn))


class _LayerStack(nn.Module):
    """Holds the encoder layers (checkpoint names `encoder.layers.N.*`)."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class MSDeformAttnTransformerEncoder(nn.Module):
    """Flattens the levels, adds position + level embeddings, runs the deformable encoder layers."""

    def __init__(self, d_model: int, n_heads: int, num_layers: int, dim_feedforward: int, dropout: float,
                 num_levels: int, n_points: int):
        super().__init__()
        self.encoder = _LayerStack(
            [MSDeformAttnEncoderLayer(d_model, dim_feedforward, dropout, num_levels, n_heads, n_points)
             for _ in range(num_layers)]
        )
        self.level_embed = nn.Parameter(torch.empty(num_levels, d_model))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m.reset_parameters()
        nn.init.normal_(self.level_embed)

    def forward(self, srcs: list[Tensor], pos_embeds: list[Tensor]) -> tuple[Tensor, list[tuple[int, int]]]:
        """srcs, pos_embeds: per level [B, C, H, W]. Returns memory [B, sum(H*W), C] and the (H, W) per level."""
        if len(srcs) != self.level_embed.shape[0]:
            raise ValueError(f"encoder built for {self.level_embed.shape[0]} levels, got {len(srcs)}")
        shapes = [(int(s.shape[2]), int(s.shape[3])) for s in srcs]
        flat = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)
        pos = torch.cat(
            [p.flatten(2).transpose(1, 2) + self.level_embed[lvl][None, None] for lvl, p in enumerate(pos_embeds)], 1
        )
        reference_points = encoder_reference_points(shapes, flat.device)
        for layer in self.encoder.layers:
            flat = layer(flat, pos, reference_points, shapes)
        return flat, shapes
