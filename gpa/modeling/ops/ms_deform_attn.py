"""Multi-scale deformable attention (Deformable DETR) in pure PyTorch: no compiled extension."""
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MSDeformAttn", "multi_scale_deformable_attention", "as_shape_list"]

SpatialShapes = Tensor | Sequence[tuple[int, int]]


def as_shape_list(spatial_shapes: SpatialShapes) -> list[tuple[int, int]]:
    """(H, W) per level as Python ints, from a [L, 2] tensor or a sequence of pairs."""
    if isinstance(spatial_shapes, Tensor):
        if spatial_shapes.dim() != 2 or spatial_shapes.shape[1] != 2:
            raise ValueError(
                f"spatial_shapes must be a [levels, 2] tensor of (H, W), got shape {tuple(spatial_shapes.shape)}"
            )
        spatial_shapes = spatial_shapes.tolist()
    shapes = [(int(h), int(w)) for h, w in spatial_shapes]
    if not shapes or any(h <= 0 or w <= 0 for h, w in shapes):
        raise ValueError(f"spatial_shapes must list at least one level of positive (H, W), got {shapes}")
    return shapes


def _check_level_start_index(level_start_index: Tensor | Sequence[int], shapes: list[tuple[int, int]]) -> None:
    starts = [0]
    for h, w in shapes[:-1]:
        starts.append(starts[-1] + h * w)
    given = level_start_index.tolist() if isinstance(level_start_index, Tensor) else list(level_start_index)
    if [int(s) for s in given] != starts:
        raise ValueError(f"level_start_index {given} does not match spatial_shapes {shapes} (expected {starts})")


def multi_scale_deformable_attention(
    value: Tensor,
    spatial_shapes: SpatialShapes,
    level_start_index: Tensor | Sequence[int] | None,
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Attention-weighted sum of bilinear samples of a multi-level value map.

    value: [B, sum(H*W), heads, head_dim], levels flattened row-major and concatenated.
    spatial_shapes: (H, W) per level. level_start_index: offsets of the levels in `value` (checked; None = derived).
    sampling_locations: [B, Lq, heads, levels, points, 2] as (x, y) in [0, 1] (outside the map samples zeros).
    attention_weights: [B, Lq, heads, levels, points].
    Returns [B, Lq, heads * head_dim] in value's dtype. Sampling runs in float32 (float64 stays float64) with
    autocast off, so mixed-precision callers get no dtype mismatch and no low-precision coordinates.
    """
    shapes = as_shape_list(spatial_shapes)
    if level_start_index is not None:
        _check_level_start_index(level_start_index, shapes)
    if value.dim() != 4:
        raise ValueError(f"value must be [B, sum(H*W), heads, head_dim], got shape {tuple(value.shape)}")
    if sampling_locations.dim() != 6 or sampling_locations.shape[-1] != 2:
        raise ValueError(
            f"sampling_locations must be [B, Lq, heads, levels, points, 2], got shape {tuple(sampling_locations.shape)}"
        )
    batch, num_values, heads, head_dim = value.shape
    _, num_queries, loc_heads, levels, points, _ = sampling_locations.shape
    if attention_weights.shape != sampling_locations.shape[:-1]:
        raise ValueError(
            f"attention_weights shape {tuple(attention_weights.shape)} must equal sampling_locations shape without "
            f"its last dim {tuple(sampling_locations.shape[:-1])}"
        )
    if loc_heads != heads or levels != len(shapes) or sampling_locations.shape[0] != batch:
        raise ValueError(
            f"sampling_locations (batch, heads, levels) = {(sampling_locations.shape[0], loc_heads, levels)} must "
            f"match value (batch, heads) = {(batch, heads)} and len(spatial_shapes) = {len(shapes)}"
        )
    sizes = [h * w for h, w in shapes]
    if sum(sizes) != num_values:
        raise ValueError(f"value has {num_values} positions but spatial_shapes {shapes} sum to {sum(sizes)}")

    out_dtype = value.dtype
    dtype = torch.promote_types(value.dtype, torch.float32)
    with torch.autocast(device_type=value.device.type, enabled=False):
        # One grid_sample per level over [B*heads, head_dim, H, W]; grids in [-1, 1].
        grids = (2.0 * sampling_locations.to(dtype) - 1.0).transpose(1, 2).flatten(0, 1)  # [B*h, Lq, L, P, 2]
        weights = attention_weights.to(dtype).transpose(1, 2).flatten(0, 1)  # [B*h, Lq, L, P]
        out = value.new_zeros((batch * heads, head_dim, num_queries), dtype=dtype)
        for lvl, (level_value, (h, w)) in enumerate(zip(value.to(dtype).split(sizes, dim=1), shapes)):
            level_value = level_value.permute(0, 2, 3, 1).reshape(batch * heads, head_dim, h, w)
            sampled = F.grid_sample(
                level_value, grids[:, :, lvl], mode="bilinear", padding_mode="zeros", align_corners=False
            )  # [B*h, head_dim, Lq, P]
            out = out + (sampled * weights[:, None, :, lvl]).sum(-1)
        out = out.view(batch, heads * head_dim, num_queries).transpose(1, 2)
    return out.to(out_dtype)


class MSDeformAttn(nn.Module):
    """Multi-scale deformable attention module (Deformable DETR), parameter names as in its checkpoints."""

    def __init__(self, d_model: int = 256, n_levels: int = 4, n_heads: int = 8, n_points: int = 4):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"MSDeformAttn: d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Deformable DETR init: offsets start on rays (one direction per head, point k at distance k+1),
        uniform attention, xavier projections."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        directions = torch.stack([angles.cos(), angles.sin()], -1)
        directions = directions / directions.abs().max(-1, keepdim=True).values
        grid = directions[:, None, None, :].repeat(1, self.n_levels, self.n_points, 1)
        grid = grid * torch.arange(1, self.n_points + 1, dtype=torch.float32)[None, None, :, None]
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(
        self,
        query: Tensor,
        reference_points: Tensor,
        input_flatten: Tensor,
        spatial_shapes: SpatialShapes,
        level_start_index: Tensor | Sequence[int] | None = None,
        padding_mask: Tensor | None = None,
    ) -> Tensor:
        """query [B, Lq, C]; reference_points [B, Lq, levels, 2] as (x, y) in [0, 1]; input_flatten
        [B, sum(H*W), C]; padding_mask [B, sum(H*W)] True at padding. Returns [B, Lq, C]."""
        if reference_points.shape[-1] != 2:
            raise ValueError(
                f"MSDeformAttn takes reference points as (x, y) pairs (last dim 2), got {reference_points.shape[-1]}"
            )
        shapes = as_shape_list(spatial_shapes)
        batch, num_queries, _ = query.shape
        value = self.value_proj(input_flatten)
        if padding_mask is not None:
            value = value.masked_fill(padding_mask[..., None], 0.0)
        value = value.view(batch, input_flatten.shape[1], self.n_heads, self.d_model // self.n_heads)
        offsets = self.sampling_offsets(query).view(batch, num_queries, self.n_heads, self.n_levels, self.n_points, 2)
        weights = self.attention_weights(query).view(batch, num_queries, self.n_heads, self.n_levels * self.n_points)
        weights = weights.softmax(-1).view(batch, num_queries, self.n_heads, self.n_levels, self.n_points)
        # Offsets are in pixels of each level: normalize by (W, H).
        normalizer = torch.tensor([[w, h] for h, w in shapes], dtype=torch.float32, device=query.device)
        locations = reference_points[:, :, None, :, None, :] + offsets / normalizer[None, None, None, :, None, :]
        out = multi_scale_deformable_attention(value, shapes, level_start_index, locations, weights)
        return self.output_proj(out)
