import pytest
import torch

from gpa.modeling.inference.postprocess import instance_inference, panoptic_inference, semantic_inference

BIG = 20.0


def _probs(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_semantic_is_probability_weighted_sum_of_mask_probabilities():
    probs = torch.rand(3, 5).softmax(-1)
    masks = torch.randn(3, 4, 6)
    got = semantic_inference(probs, masks)
    want = torch.zeros(4, 4, 6)
    for q in range(3):
        for c in range(4):
            want[c] += probs[q, c] * masks[q].sigmoid()
    torch.testing.assert_close(got, want)


def test_panoptic_keeps_merges_and_drops_segments():
    h, w = 4, 8
    masks = torch.full((5, h, w), -BIG)
    masks[0, :, :4] = BIG  # thing class 0, left half
    masks[1, :, 4:6] = BIG  # stuff class 2
    masks[2, :, 6:] = BIG  # stuff class 2 again -> merged with query 1
    masks[3, :, :] = BIG  # void query -> dropped before competing
    masks[4, :, :2] = BIG  # class 1, beaten by query 0 everywhere -> dropped (overlap)
    probs = _probs(
        [
            [0.9, 0.0, 0.0, 0.1],
            [0.0, 0.0, 0.8, 0.2],
            [0.0, 0.1, 0.7, 0.2],
            [0.1, 0.1, 0.1, 0.7],
            [0.0, 0.6, 0.0, 0.4],
        ]
    )
    is_thing = torch.tensor([True, True, False])
    panoptic, segments = panoptic_inference(probs, masks, is_thing, object_mask_threshold=0.0, overlap_threshold=0.8)
    assert segments == [
        {"id": 1, "isthing": True, "category_id": 0, "score": pytest.approx(0.9)},
        {"id": 2, "isthing": False, "category_id": 2, "score": pytest.approx(0.8)},
    ]
    assert panoptic.dtype == torch.int32
    assert (panoptic[:, :4] == 1).all() and (panoptic[:, 4:] == 2).all()


def test_panoptic_threshold_and_empty_result():
    probs = _probs([[0.3, 0.7]])  # best class is void
    panoptic, segments = panoptic_inference(probs, torch.full((1, 2, 2), BIG), torch.tensor([True]), 0.0, 0.8)
    assert segments == [] and (panoptic == 0).all()
    probs = _probs([[0.6, 0.4]])
    _, segments = panoptic_inference(probs, torch.full((1, 2, 2), BIG), torch.tensor([True]), 0.7, 0.8)
    assert segments == []


def test_instance_topk_over_thing_classes_with_mask_scores_and_boxes():
    masks = torch.full((2, 6, 6), -BIG)
    masks[0, 1:3, 2:5] = 2.0  # sigmoid(2) inside
    masks[1, 3:6, 0:2] = BIG
    probs = _probs([[0.5, 0.1, 0.3, 0.1], [0.2, 0.6, 0.1, 0.1]])
    is_thing = torch.tensor([True, True, False])  # class 2 is stuff: never an instance
    result = instance_inference(probs, masks, is_thing, max_detections=3, selection="thing_classes")
    assert len(result) == 3
    assert result.pred_classes.tolist() == [1, 0, 0]
    expected = torch.tensor([0.6 * 1.0, 0.5 * torch.sigmoid(torch.tensor(2.0)).item(), 0.2 * 1.0])
    torch.testing.assert_close(result.scores, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(result.pred_boxes.tensor[1], torch.tensor([2.0, 1.0, 5.0, 3.0]))
    assert 2 not in result.pred_classes.tolist()


def test_instance_with_stuff_only_vocabulary_is_empty():
    result = instance_inference(_probs([[0.9, 0.1]]), torch.zeros(1, 3, 3), torch.tensor([False]), 10)
    assert len(result) == 0


def _fcclip_instances(probs, mask_logits, is_thing, topk):
    """FC-CLIP's instance_inference (panoptic on), transcribed from its source: top k over every
    (query, class) pair of the class probabilities (void dropped), query = index // num_classes,
    then pairs of stuff classes dropped; score = prob * mean sigmoid inside the (logit > 0) mask."""
    num_queries, num_classes = probs.shape[0], probs.shape[1] - 1
    labels = torch.arange(num_classes).unsqueeze(0).repeat(num_queries, 1).flatten(0, 1)
    scores, index = probs[:, :-1].flatten(0, 1).topk(topk, sorted=False)
    labels = labels[index]
    masks = mask_logits[index // num_classes]
    keep = torch.tensor([bool(is_thing[lab]) for lab in labels], dtype=torch.bool)
    scores, labels, masks = scores[keep], labels[keep], masks[keep]
    binary = (masks > 0).float()
    mask_scores = (masks.sigmoid().flatten(1) * binary.flatten(1)).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    return scores * mask_scores, labels, binary


def test_instance_selection_equals_fcclip_top_k_over_all_classes_then_stuff_dropped():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(20, 7, generator=g).softmax(-1)
    probs[:5, 5] += 2.0  # a stuff class scores high on a few queries: those pairs take top-k places
    probs = probs / probs.sum(-1, keepdim=True)
    masks = torch.randn(20, 9, 11, generator=g) * 3
    is_thing = torch.tensor([True, True, False, True, False, False])
    result = instance_inference(probs, masks, is_thing, max_detections=30)  # default: FC-CLIP's selection
    scores, labels, binary = _fcclip_instances(probs, masks, is_thing, 30)
    assert len(result) == len(labels) < 30  # stuff pairs were among the top 30 and are gone
    order = scores.argsort(descending=True)  # FC-CLIP's top-k is unsorted; compare as sorted sets
    got_order = result.scores.argsort(descending=True)
    assert torch.equal(result.scores[got_order], scores[order])
    assert torch.equal(result.pred_classes[got_order], labels[order])
    assert torch.equal(result.pred_masks[got_order], binary[order])
    thing_only = instance_inference(probs, masks, is_thing, max_detections=30, selection="thing_classes")
    assert len(thing_only) == 30


def test_instance_selection_errors_name_the_key():
    with pytest.raises(ValueError, match="INSTANCE_SELECTION.*all_classes"):
        instance_inference(_probs([[0.9, 0.1]]), torch.zeros(1, 3, 3), torch.tensor([True]), 10, selection="top")
