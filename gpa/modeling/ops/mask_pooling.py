"""Mask pooling: average a feature map inside each predicted (binarized) mask."""
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["mask_pool"]


def mask_pool(features: Tensor, mask_logits: Tensor, eps: float = 1e-8) -> Tensor:
    """Mean of `features` [B, C, H, W] over each mask `mask_logits > 0` [B, Q, h, w] -> [B, Q, C].

    Masks are resized (bilinear) to the feature size, binarized and detached: gradients reach the features
    only. The weights are computed in float32 (pixel counts are not exact in bf16); an empty mask pools to 0.
    """
    if features.dim() != 4 or mask_logits.dim() != 4 or features.shape[0] != mask_logits.shape[0]:
        raise ValueError(
            f"mask_pool takes features [B, C, H, W] and mask_logits [B, Q, h, w] with the same B, got "
            f"{tuple(features.shape)} and {tuple(mask_logits.shape)}"
        )
    with torch.no_grad():
        masks = mask_logits.detach().float()
        if masks.shape[-2:] != features.shape[-2:]:
            masks = F.interpolate(masks, size=features.shape[-2:], mode="bilinear", align_corners=False)
        masks = (masks > 0).float()
        weights = masks / (masks.sum(dim=(-2, -1), keepdim=True) + eps)
    return torch.einsum("bchw,bqhw->bqc", features, weights.to(features.dtype))
