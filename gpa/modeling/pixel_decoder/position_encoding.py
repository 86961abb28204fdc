"""2D sine positional encoding (DETR / Mask2Former), no parameters."""
import math

import torch
from torch import Tensor, nn

__all__ = ["PositionEmbeddingSine"]


class PositionEmbeddingSine(nn.Module):
    """Encodes each pixel's (y, x) position with sines/cosines of geometric frequencies.

    Output [B, 2 * num_pos_feats, H, W]: the first half encodes y, the second x. Channel 2i is
    sin(p / T^(2i/n)) and 2i+1 is cos(p / T^(2i/n)), p the 1-based pixel index (scaled to
    (0, scale] when `normalize`). Always float32: positions must not be quantized by autocast.
    """

    def __init__(self, num_pos_feats: int = 64, temperature: float = 10000.0, normalize: bool = False,
                 scale: float | None = None):
        super().__init__()
        if scale is not None and not normalize:
            raise ValueError("PositionEmbeddingSine: `scale` is only used with normalize=True")
        if num_pos_feats % 2 != 0:
            raise ValueError(f"PositionEmbeddingSine: num_pos_feats must be even, got {num_pos_feats}")
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x [B, C, H, W] gives the size; mask [B, H, W] is True at padding (excluded from the cumulative count)."""
        if mask is None:
            mask = torch.zeros((x.shape[0], x.shape[2], x.shape[3]), device=x.device, dtype=torch.bool)
        not_mask = ~mask
        y_embed = not_mask.cumsum(1, dtype=torch.float32)
        x_embed = not_mask.cumsum(2, dtype=torch.float32)
        if self.normalize:
            eps = 1e-6
            y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
            x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=x.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_pos_feats)

        def encode(embed: Tensor) -> Tensor:
            angles = embed[..., None] / dim_t  # [B, H, W, n]
            return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(3)

        return torch.cat((encode(y_embed), encode(x_embed)), dim=3).permute(0, 3, 1, 2)
