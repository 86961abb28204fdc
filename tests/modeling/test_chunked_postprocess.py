"""Chunked mask upsampling and post-processing give the results of upsampling all queries at once.

The reference below is the post-processing as it was before chunking (all Q masks upsampled to the
padded size, `sem_seg_postprocess`, then the three procedures on [Q, H, W] tensors), kept verbatim.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from detectron2.modeling.postprocessing import sem_seg_postprocess
from detectron2.structures import BitMasks, Instances

from gpa.modeling.inference.mask_upsampling import QueryMasks, binarize_and_score
from gpa.modeling.inference.postprocess import instance_inference, panoptic_inference, semantic_inference

PADDED, IMAGE, OUTPUT = (64, 96), (60, 85), (75, 101)


# ---------------------------------------------------------------- the reference (unchunked) implementation
def reference_masks(low_res: torch.Tensor) -> torch.Tensor:
    up = F.interpolate(low_res[None], size=PADDED, mode="bilinear", align_corners=False)[0]
    return sem_seg_postprocess(up, IMAGE, *OUTPUT).float()


def reference_semantic(class_probs, mask_logits):
    return torch.einsum("qc,qhw->chw", class_probs[:, :-1], mask_logits.sigmoid())


def reference_panoptic(class_probs, mask_logits, is_thing, object_mask_threshold, overlap_threshold):
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


def reference_instance(class_probs, mask_logits, is_thing, max_detections):
    thing_ids = is_thing.nonzero().flatten()
    result = Instances(tuple(mask_logits.shape[-2:]))
    scores = class_probs[:, thing_ids]
    k = min(max_detections, scores.numel())
    top_scores, top_index = scores.flatten().topk(k, sorted=True)
    query_index = torch.div(top_index, len(thing_ids), rounding_mode="floor")
    masks = mask_logits[query_index]
    binary = (masks > 0).float()
    mask_scores = (masks.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    result.pred_masks = binary
    result.pred_boxes = BitMasks(binary > 0).get_bounding_boxes()
    result.scores = top_scores * mask_scores
    result.pred_classes = thing_ids[top_index % len(thing_ids)]
    return result


# ---------------------------------------------------------------- random predictions
def predictions(seed: int, queries: int = 30, classes: int = 12):
    g = torch.Generator().manual_seed(seed)
    h, w = PADDED[0] // 4, PADDED[1] // 4
    # blobs (random centre and radius) with noise, so queries overlap, win and lose
    centres = torch.rand(queries, 2, 1, 1, generator=g) * torch.tensor([h, w]).view(1, 2, 1, 1)
    radii = 1 + 5 * torch.rand(queries, 1, 1, generator=g)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    distance = ((ys - centres[:, 0]) ** 2 + (xs - centres[:, 1]) ** 2).sqrt()
    low_res = 3 * (radii - distance) / radii + torch.randn(queries, h, w, generator=g)
    class_probs = (3 * torch.randn(queries, classes + 1, generator=g)).softmax(-1)
    # exact ties across chunk boundaries: query 7 repeats query 2 (first one must win, as one argmax)
    low_res[7], class_probs[7] = low_res[2], class_probs[2]
    is_thing = torch.arange(classes) % 3 != 0
    return class_probs, low_res, is_thing


def chunked(low_res: torch.Tensor, queries_per_chunk: int) -> QueryMasks:
    return QueryMasks(low_res, PADDED, IMAGE, OUTPUT, chunk_pixels=queries_per_chunk * OUTPUT[0] * OUTPUT[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("per_chunk", [1, 4, 7])
def test_chunked_postprocessing_equals_the_unchunked_reference(seed, per_chunk):
    class_probs, low_res, is_thing = predictions(seed)
    full = reference_masks(low_res)
    masks = chunked(low_res, per_chunk)
    assert masks.chunk_size == per_chunk

    semantic = semantic_inference(class_probs, masks)
    want = reference_semantic(class_probs, full)
    torch.testing.assert_close(semantic, want)  # the sum over queries in another order: float rounding only
    assert torch.equal(semantic.argmax(0), want.argmax(0))

    panoptic, segments = panoptic_inference(class_probs, masks, is_thing, 0.0, 0.8)
    want_panoptic, want_segments = reference_panoptic(class_probs, full, is_thing, 0.0, 0.8)
    assert len(want_segments) >= 3 and (want_panoptic == 0).any()  # several segments and some dropped pixels
    assert segments == want_segments
    assert torch.equal(panoptic, want_panoptic)

    instances = instance_inference(class_probs, masks, is_thing, 50, selection="thing_classes")
    want_instances = reference_instance(class_probs, full, is_thing, 50)
    for field in ("pred_masks", "scores", "pred_classes"):
        assert torch.equal(instances.get(field), want_instances.get(field)), field
    assert torch.equal(instances.pred_boxes.tensor, want_instances.pred_boxes.tensor)
    assert instances.image_size == want_instances.image_size == OUTPUT
    # FC-CLIP's selection (the default): chunked masks give what the full-resolution tensor gives
    chunked_all = instance_inference(class_probs, masks, is_thing, 50)
    full_all = instance_inference(class_probs, full, is_thing, 50)
    for field in ("pred_masks", "scores", "pred_classes"):
        assert torch.equal(chunked_all.get(field), full_all.get(field)), field


def test_one_chunk_gives_the_reference_bit_for_bit():
    class_probs, low_res, is_thing = predictions(3)
    masks = QueryMasks(low_res, PADDED, IMAGE, OUTPUT, chunk_pixels=0)
    assert masks.chunk_size == len(low_res)
    want = reference_semantic(class_probs, reference_masks(low_res))
    assert torch.equal(semantic_inference(class_probs, masks), want)


def test_every_query_is_upsampled_as_when_all_are():
    _, low_res, _ = predictions(4)
    full = reference_masks(low_res)
    masks = chunked(low_res, 3)
    assert masks.shape == full.shape
    for positions, logits in masks.chunks():
        assert torch.equal(logits, full[positions])
    index = torch.tensor([5, 0, 29, 5])
    assert torch.equal(masks[index], full[index])
    binary, scores = binarize_and_score(masks, index)
    assert torch.equal(binary, (full[index] > 0).float())


def test_no_step_holds_more_than_a_chunk_of_full_resolution_masks():
    class_probs, low_res, is_thing = predictions(5)

    class Recording(QueryMasks):
        largest = 0

        def __getitem__(self, index):
            out = super().__getitem__(index)
            Recording.largest = max(Recording.largest, out.shape[0])
            return out

    masks = Recording(low_res, PADDED, IMAGE, OUTPUT, chunk_pixels=2 * OUTPUT[0] * OUTPUT[1] + 5)
    semantic_inference(class_probs, masks)
    panoptic_inference(class_probs, masks, is_thing, 0.0, 0.8)
    instance_inference(class_probs, masks, is_thing, 50)
    assert Recording.largest == 2


def test_full_resolution_tensors_and_empty_inputs_still_work():
    class_probs, low_res, is_thing = predictions(6)
    full = reference_masks(low_res)
    assert torch.equal(semantic_inference(class_probs, full), reference_semantic(class_probs, full))
    none = QueryMasks(low_res[:0], PADDED, IMAGE, OUTPUT)
    assert semantic_inference(class_probs[:0], none).shape == (class_probs.shape[1] - 1, *OUTPUT)
    panoptic, segments = panoptic_inference(class_probs[:0], none, is_thing, 0.0, 0.8)
    assert segments == [] and panoptic.shape == OUTPUT
    with pytest.raises(ValueError, match=r"MODEL.MASK_FORMER.TEST.CHUNK_PIXELS\) must be >= 0"):
        QueryMasks(low_res, PADDED, IMAGE, OUTPUT, chunk_pixels=-1)


def test_ties_go_to_the_earlier_query_across_chunks():
    low_res = torch.full((3, PADDED[0] // 4, PADDED[1] // 4), -5.0)
    low_res[1:, 4:12, 6:18] = 5.0  # queries 1 and 2: the same mask and score, different classes
    class_probs = torch.tensor([[0.9, 0.0, 0.1], [0.0, 0.8, 0.2], [0.8, 0.0, 0.2]])
    is_thing = torch.tensor([True, True])
    want = reference_panoptic(class_probs, reference_masks(low_res), is_thing, 0.0, 0.8)
    got = panoptic_inference(class_probs, chunked(low_res, 1), is_thing, 0.0, 0.8)
    assert [s["category_id"] for s in want[1]] == [1]  # query 0 has no mask; query 1 wins the tie
    assert got[1] == want[1] and torch.equal(got[0], want[0])
