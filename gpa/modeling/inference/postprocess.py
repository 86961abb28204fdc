"""Turning per-query class probabilities and mask logits into semantic, panoptic and instance
results (Mask2Former's procedures, as pure functions on one image)."""

from __future__ import annotations

import torch
from detectron2.structures import BitMasks, Instances

__all__ = ["semantic_inference", "panoptic_inference", "instance_inference"]


def semantic_inference(class_probs: torch.Tensor, mask_logits: torch.Tensor) -> torch.Tensor:
    """Per-class scores [C, H, W] = sum_q p_q(c) * sigmoid(M_q). class_probs: [Q, C+1] (last = void)."""
    return torch.einsum("qc,qhw->chw", class_probs[:, :-1], mask_logits.sigmoid())


def panoptic_inference(
    class_probs: torch.Tensor,
    mask_logits: torch.Tensor,
    is_thing: torch.Tensor,
    object_mask_threshold: float,
    overlap_threshold: float,
) -> tuple[torch.Tensor, list[dict]]:
    """Panoptic id map [H, W] (int32, 0 = no segment) and its segments_info.

    Queries whose best class is not void and scores above `object_mask_threshold` compete per pixel
    by score * mask probability; a query keeps a segment only if at least `overlap_threshold` of its
    own mask (sigmoid >= 0.5) survives. Stuff segments of the same class are merged.
    """
    num_classes = class_probs.shape[-1] - 1
    scores, labels = class_probs.max(dim=-1)
    keep = (labels != num_classes) & (scores > object_mask_threshold)
    scores, labels, masks = scores[keep], labels[keep], mask_logits[keep].sigmoid()
    height, width = mask_logits.shape[-2:]
    panoptic = torch.zeros((height, width), dtype=torch.int32, device=mask_logits.device)
    segments: list[dict] = []
    if masks.shape[0] == 0:
        return panoptic, segments

    owner = (scores[:, None, None] * masks).argmax(dim=0)
    stuff_segment_of_class: dict[int, int] = {}
    for k in range(masks.shape[0]):
        category = int(labels[k])
        thing = bool(is_thing[category])
        own = masks[k] >= 0.5
        won = owner == k
        own_area, won_area = int(own.sum()), int(won.sum())
        won &= own
        if own_area == 0 or won_area == 0 or not won.any() or won_area / own_area < overlap_threshold:
            continue
        if not thing and category in stuff_segment_of_class:
            panoptic[won] = stuff_segment_of_class[category]
            continue
        segment_id = len(segments) + 1
        if not thing:
            stuff_segment_of_class[category] = segment_id
        panoptic[won] = segment_id
        segments.append({"id": segment_id, "isthing": thing, "category_id": category, "score": float(scores[k])})
    return panoptic, segments


def instance_inference(
    class_probs: torch.Tensor,
    mask_logits: torch.Tensor,
    is_thing: torch.Tensor,
    max_detections: int,
) -> Instances:
    """Top-`max_detections` (query, thing class) pairs; score = class prob * mean mask prob inside.

    Only thing classes compete; boxes are the tight boxes of the binarized masks.
    """
    thing_ids = is_thing.nonzero().flatten().to(class_probs.device)
    height, width = mask_logits.shape[-2:]
    result = Instances((height, width))
    if len(thing_ids) == 0:  # a vocabulary of stuff classes only has no instances
        result.pred_masks = mask_logits.new_zeros((0, height, width))
        result.pred_boxes = BitMasks(result.pred_masks > 0).get_bounding_boxes()
        result.scores = class_probs.new_zeros((0,))
        result.pred_classes = thing_ids
        return result
    scores = class_probs[:, thing_ids]  # [Q, T]
    k = min(max_detections, scores.numel())
    top_scores, top_index = scores.flatten().topk(k, sorted=True)
    query_index = torch.div(top_index, len(thing_ids), rounding_mode="floor")
    classes = thing_ids[top_index % len(thing_ids)]
    masks = mask_logits[query_index]
    binary = (masks > 0).float()
    mask_scores = (masks.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)

    result.pred_masks = binary
    result.pred_boxes = BitMasks(binary > 0).get_bounding_boxes()
    result.scores = top_scores * mask_scores
    result.pred_classes = classes
    return result
