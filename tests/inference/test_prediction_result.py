"""PredictionResult from hand-made model outputs: areas, boxes, scores, maps, filtering."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from detectron2.structures import BitMasks, Instances

from gpa.inference.result import build_result, mask_box
from gpa.vocabulary import Vocabulary

VOCAB = Vocabulary.from_strings(["cat", "dog", "sky"], [True, True, False])


def test_mask_box_is_tight_with_exclusive_ends():
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:7] = True
    assert mask_box(mask) == (3.0, 2.0, 7.0, 4.0)
    assert mask_box(np.zeros((3, 3), bool)) == (0.0, 0.0, 0.0, 0.0)


def test_panoptic_segments_follow_the_id_map():
    panoptic = torch.zeros(6, 8, dtype=torch.int32)
    panoptic[:2] = 3  # sky (stuff)
    panoptic[3:5, 1:3] = 1  # cat
    panoptic[4:6, 5:8] = 2  # dog
    info = [{"id": 1, "isthing": True, "category_id": 0, "score": 0.9},
            {"id": 2, "isthing": True, "category_id": 1, "score": 0.7},
            {"id": 3, "isthing": False, "category_id": 2, "score": 0.5}]
    result = build_result("panoptic", {"panoptic_seg": (panoptic, info)}, VOCAB)
    assert result.image_size == (6, 8)
    np.testing.assert_array_equal(result.panoptic_map, panoptic.numpy())
    assert result.segmentation is result.panoptic_map
    got = [(s.id, s.class_name, s.score, s.area, s.box, s.isthing) for s in result.segments]
    assert got == [(1, "cat", 0.9, 4, (1.0, 3.0, 3.0, 5.0), True),
                   (2, "dog", 0.7, 6, (5.0, 4.0, 8.0, 6.0), True),
                   (3, "sky", 0.5, 16, (0.0, 0.0, 8.0, 2.0), False)]
    np.testing.assert_array_equal(result.segments[1].mask, panoptic.numpy() == 2)
    without_scores = [{k: v for k, v in i.items() if k != "score"} for i in info]
    assert build_result("panoptic", {"panoptic_seg": (panoptic, without_scores)}, VOCAB).segments[0].score is None


def test_semantic_segments_score_the_class_share_of_its_pixels():
    scores = torch.zeros(3, 2, 3)
    scores[0] = torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    scores[1] = torch.tensor([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    scores[2] = torch.tensor([[0.0, 0.0, 2.0], [1.0, 1.0, 1.0]])
    result = build_result("semantic", {"sem_seg": scores}, VOCAB)
    np.testing.assert_array_equal(result.semantic_map, [[0, 1, 2], [2, 2, 2]])
    got = {s.class_name: (s.id, s.area, round(s.score, 6), s.box) for s in result.segments}
    assert got == {"cat": (0, 1, 0.75, (0.0, 0.0, 1.0, 1.0)),
                   "dog": (1, 1, 0.75, (1.0, 0.0, 2.0, 1.0)),
                   "sky": (2, 4, 1.0, (0.0, 0.0, 3.0, 2.0))}


def _instances(scores, classes, boxes_xyxy, size=(6, 8)):
    masks = torch.zeros(len(scores), *size)
    for k, (x1, y1, x2, y2) in enumerate(boxes_xyxy):
        masks[k, y1:y2, x1:x2] = 1.0
    inst = Instances(size)
    inst.pred_masks, inst.scores = masks, torch.tensor(scores)
    inst.pred_classes = torch.tensor(classes)
    inst.pred_boxes = BitMasks(masks > 0).get_bounding_boxes()
    return inst


def test_instances_are_ranked_by_score_and_the_best_wins_overlaps():
    inst = _instances([0.3, 0.8, 0.6], [0, 1, 0], [(0, 0, 4, 4), (2, 2, 6, 6), (3, 0, 8, 3)])
    result = build_result("instance", {"instances": inst}, VOCAB)
    assert [(s.id, s.class_name, round(s.score, 2), s.area, s.box) for s in result.segments] == [
        (1, "dog", 0.8, 16, (2.0, 2.0, 6.0, 6.0)),
        (2, "cat", 0.6, 15, (3.0, 0.0, 8.0, 3.0)),
        (3, "cat", 0.3, 16, (0.0, 0.0, 4.0, 4.0)),
    ]
    expected = np.zeros((6, 8), np.int32)
    expected[0:4, 0:4] = 3
    expected[0:3, 3:8] = 2
    expected[2:6, 2:6] = 1
    np.testing.assert_array_equal(result.instance_map, expected)

    kept = result.filter_by_score(0.5)
    assert [s.id for s in kept.segments] == [1, 2]
    expected[expected == 3] = 0
    np.testing.assert_array_equal(kept.instance_map, expected)


def test_only_instance_results_filter_and_tasks_are_checked():
    panoptic = build_result("panoptic", {"panoptic_seg": (torch.zeros(2, 2, dtype=torch.int32), [])}, VOCAB)
    assert panoptic.segments == []
    with pytest.raises(ValueError, match="only instance results can be filtered"):
        panoptic.filter_by_score(0.5)
    with pytest.raises(ValueError, match="unknown task 'depth'; valid tasks: panoptic, semantic, instance"):
        build_result("depth", {}, VOCAB)
    with pytest.raises(KeyError, match="no 'sem_seg' for the semantic task"):
        build_result("semantic", {"instances": None}, VOCAB)
