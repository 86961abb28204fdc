"""Scores of classes from scores of their synonyms."""
from __future__ import annotations

import torch

__all__ = ["max_over_synonyms"]


def max_over_synonyms(logits: torch.Tensor, class_index: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[..., S] synonym logits -> [..., C] class logits: each class takes the max over its synonyms.

    `class_index[s]` is the class of synonym s; every class in 0..num_classes-1 needs at least one synonym.
    """
    if class_index.dim() != 1 or class_index.shape[0] != logits.shape[-1]:
        raise ValueError(
            f"class_index must be [S] with S = logits.shape[-1] = {logits.shape[-1]}, got {tuple(class_index.shape)}"
        )
    if class_index.dtype != torch.int64:
        raise TypeError(f"class_index must be int64, got {class_index.dtype}")
    if class_index.numel() == 0:
        raise ValueError("class_index is empty: the vocabulary has no synonyms")
    low, high = int(class_index.min()), int(class_index.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"class_index values must lie in 0..{num_classes - 1}, got the range {low}..{high}")
    counts = torch.bincount(class_index, minlength=num_classes)
    if bool((counts == 0).any()):
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"classes {missing[:10]} have no synonym in class_index; every class needs at least one")
    out = logits.new_full((*logits.shape[:-1], num_classes), float("-inf"))
    index = class_index.to(logits.device).expand_as(logits)
    return out.scatter_reduce(-1, index, logits, reduce="amax", include_self=True)
