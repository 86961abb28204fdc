"""Turning per-query class probabilities and mask logits into semantic, panoptic and instance
results (Mask2Former's procedures, as pure functions on one image).

Mask logits are full-resolution [Q, H, W] tensors or `QueryMasks` (mask_upsampling.py), which upsample
a chunk of queries at a time so that all Q never exist at full resolution at once; results are the same.
"""

from __future__ import annotations

import torch
from detectron2.structures import BitMasks, Instances

from .mask_upsampling import QueryMasks, as_query_masks, binarize_and_score

__all__ = ["INSTANCE_SELECTIONS", "instance_inference", "panoptic_inference", "semantic_inference"]


def semantic_inference(class_probs: torch.Tensor, mask_logits: torch.Tensor | QueryMasks) -> torch.Tensor:
    """Per-class scores [C, H, W] = sum_q p_q(c) * sigmoid(M_q). class_probs: [Q, C+1] (last = void).

    Accumulated in place chunk by chunk of queries (one chunk: the same numbers as one product over all
    queries; several: equal up to float rounding of the sum's order)."""
    masks = as_query_masks(mask_logits)
    height, width = masks.shape[-2:]
    scores = class_probs.new_zeros((class_probs.shape[-1] - 1, height * width))  # stays zero without queries
    for positions, logits in masks.chunks():
        probs = class_probs[positions, :-1].t()
        if positions.start == 0:
            torch.mm(probs, logits.sigmoid().flatten(1), out=scores)
        else:
            scores.addmm_(probs, logits.sigmoid().flatten(1))
    return scores.view(-1, height, width)


def panoptic_inference(
    class_probs: torch.Tensor,
    mask_logits: torch.Tensor | QueryMasks,
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
    masks = as_query_masks(mask_logits)
    kept = keep.nonzero().flatten().to(masks.device)
    scores, labels = scores[keep], labels[keep]
    height, width = masks.shape[-2:]
    panoptic = torch.zeros((height, width), dtype=torch.int32, device=masks.device)
    segments: list[dict] = []
    if len(kept) == 0:
        return panoptic, segments

    owner = _owner(scores, masks, kept)
    # a query that wins no pixel makes no segment: only the winners' masks are upsampled again
    winners = (torch.bincount(owner.flatten(), minlength=len(kept)) > 0).nonzero().flatten()
    stuff_segment_of_class: dict[int, int] = {}
    for positions, logits in masks.chunks(kept[winners]):
        for k, probability in zip(winners[positions].tolist(), logits.sigmoid()):
            category = int(labels[k])
            thing = bool(is_thing[category])
            own = probability >= 0.5
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


def _owner(scores: torch.Tensor, masks: QueryMasks, kept: torch.Tensor) -> torch.Tensor:
    """argmax over the kept queries k of scores[k] * sigmoid(M_kept[k]) per pixel [H, W] (int64), the first
    maximum on ties, as one argmax over all of them would give; computed chunk by chunk."""
    best_value = best_index = None
    for positions, logits in masks.chunks(kept):
        weighted = scores[positions, None, None] * logits.sigmoid()
        index = weighted.argmax(dim=0, keepdim=True)
        value = weighted.gather(0, index)[0]
        index = index[0] + positions.start
        if best_value is None:
            best_value, best_index = value, index
        else:  # strictly greater: an earlier query keeps a tie
            better = value > best_value
            best_value = torch.where(better, value, best_value)
            best_index = torch.where(better, index, best_index)
    return best_index


# How instance inference picks its (query, class) pairs (MODEL.MASK_FORMER.TEST.INSTANCE_SELECTION):
# "all_classes": Mask2Former's / FC-CLIP's: the top k over every (query, class) pair, then pairs of stuff classes
#                are dropped (so fewer than k instances remain when stuff classes score high);
# "thing_classes": the top k among (query, thing class) pairs only (always k instances when Q x T >= k).
INSTANCE_SELECTIONS = ("all_classes", "thing_classes")


def instance_inference(
    class_probs: torch.Tensor,
    mask_logits: torch.Tensor | QueryMasks,
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
    query_index = torch.div(top_index, max(len(candidates), 1), rounding_mode="floor")
    classes = candidates[top_index % max(len(candidates), 1)]
    keep = is_thing[classes]
    top_scores, query_index, classes = top_scores[keep], query_index[keep], classes[keep]

    binary, mask_scores = binarize_and_score(as_query_masks(mask_logits), query_index.to(mask_logits.device))
    result = Instances(tuple(mask_logits.shape[-2:]))
    result.pred_masks = binary
    result.pred_boxes = BitMasks(binary > 0).get_bounding_boxes()
    result.scores = top_scores * mask_scores
    result.pred_classes = classes
    return result
