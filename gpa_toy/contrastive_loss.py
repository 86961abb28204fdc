"""CLIP's contrastive loss when a batch may hold identical captions: all of them count as positives."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["caption_group_ids", "multi_positive_contrastive_loss"]


def caption_group_ids(captions: Sequence[str]) -> torch.Tensor:
    """int64 [N]: equal ids for identical captions (numbered by first appearance)."""
    first: dict[str, int] = {}
    return torch.tensor([first.setdefault(c, len(first)) for c in captions], dtype=torch.int64)


def multi_positive_contrastive_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor | float,
    group_ids: torch.Tensor,
) -> torch.Tensor:
    """Symmetric InfoNCE with soft targets spread evenly over every pair whose captions are identical.

    With distinct captions this is CLIP's loss. Features are [N, D] and L2-normalized; `logit_scale` multiplies
    the cosine similarities; `group_ids` [N] marks identical captions (`caption_group_ids`). Plain CLIP would
    push an image away from a caption identical to its own; here image i's target is uniform over the texts
    j with group_ids[j] == group_ids[i], and likewise for texts.
    """
    if image_features.shape != text_features.shape or image_features.dim() != 2:
        raise ValueError(f"image and text features must both be [N, D], got {tuple(image_features.shape)} and "
                         f"{tuple(text_features.shape)}")
    if group_ids.shape != image_features.shape[:1]:
        raise ValueError(f"group_ids must be [N] = [{image_features.shape[0]}], got {tuple(group_ids.shape)}")
    logits = logit_scale * image_features.float() @ text_features.float().T
    positives = (group_ids[:, None] == group_ids[None, :]).float()
    targets = positives / positives.sum(dim=1, keepdim=True)  # symmetric positives: one target for both ways
    image_to_text = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    text_to_image = -(targets * F.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return (image_to_text + text_to_image) / 2
