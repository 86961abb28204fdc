"""Turning per-query class probabilities and mask logits into semantic, panoptic and instance
results (Mask2Former's procedures, as pure functions on one image)."""

from __future__ import annotations

import torch
from detectron2.structures import BitMasks, Instances

__all__ = ["INSTANCE_SELECTIONS", "instance_inference", "panoptic_inference", "semantic_inference"]


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


# How instance inference picks its (query, class) pairs (MODEL.MASK_FORMER.TEST.INSTANCE_SELECTION):
# "all_classes": Mask2Former's / FC-CLIP's: the top k over every (query, class) pair, then pairs of stuff classes
#                are dropped (so fewer than k instances remain when stuff classes score high);
# "thing_classes": the top k among (query, thing class) pairs only (always k instances when Q x T >= k).
INSTANCE_SELECTIONS = ("all_classes", "thing_classes")


def instance_inference(
    class_probs: torch.Tensor,
    mask_logits: torch.Tensor,
    is_thing: torch.Tensor,
    max_detections: int,
    selection: str = "all_classes",
) -> Instances:
    """Top-`max_detections` (query, class) pairs chosen by `selection` (see INSTANCE_SELECTIONS), thing
    classes only in the result; score = class prob * mean mask prob inside the binarized mask.

    Results are sorted by class probability. Boxes are the tight boxes of the binarized masks (where
    FC-CLIP leaves them zero).
    """
    if selection not in INSTANCE_SELECTIONS:
        raise ValueError(
            f"unknown instance selection {selection!r} (MODEL.MASK_FORMER.TEST.INSTANCE_SELECTION); "
            f"valid: {', '.join(INSTANCE_SELECTIONS)}"
        )
    is_thing = is_thing.to(class_probs.device)
    candidates = (
        torch.arange(len(is_thing), device=class_probs.device)
        if selection == "all_classes"
        else is_thing.nonzero().flatten()
    )
    scores = class_probs[:, candidates]  # [Q, K], void excluded
    k = min(max_detections, scores.numel())
    top_scores, top_index = scores.flatten().topk(k, sorted=True)
    query_index = torch.div(top_index, len(candidates), rounding_mode="floor")
    classes = candidates[top_index % len(candidates)]
    keep = is_thing[classes]
    top_scores, query_index, classes = top_scores[keep], query_index[keep], classes[keep]

    masks = mask_logits[query_index]
    binary = (masks > 0).float()
    mask_scores = (masks.sigmoid().flatten(1) * binary.flatten(1)).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    result = Instances(tuple(mask_logits.shape[-2:]))
    result.pred_masks = binary
    result.pred_boxes = BitMasks(binary > 0).get_bounding_boxes()
    result.scores = top_scores * mask_scores
    result.pred_classes = classes
    return result
