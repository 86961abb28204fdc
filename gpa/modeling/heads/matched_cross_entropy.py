"""Cross-entropy on Hungarian-matched queries (the CFA head's training loss), as a pure function."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["matched_cross_entropy"]


def matched_cross_entropy(
    logits: torch.Tensor,
    indices: list[tuple[torch.Tensor, torch.Tensor]],
    target_labels: list[torch.Tensor],
) -> torch.Tensor:
    """Mean cross-entropy over matched queries.

    logits: [B, Q, C]; indices[b] = (query ids, target ids) of image b; target_labels[b]: [N_b].
    With no matched query in the batch the loss is 0 (still connected to the graph).
    """
    picked, labels = [], []
    for b, (query_ids, target_ids) in enumerate(indices):
        picked.append(logits[b, query_ids.to(logits.device)])
        labels.append(target_labels[b].to(logits.device)[target_ids.to(logits.device)])
    picked_logits, picked_labels = torch.cat(picked), torch.cat(labels)
    if picked_labels.numel() == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(picked_logits.float(), picked_labels)
