"""Writing results: the segmentation PNG decodes to the result's map, the JSON matches it, drawings are images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from detectron2.structures import BitMasks, Instances
from panopticapi.utils import rgb2id
from PIL import Image

from gpa.inference.result import build_result
from gpa.inference.result_files import save_outputs, segmentation_image
from gpa.inference.visualization import draw_result, vocabulary_metadata
from gpa.vocabulary import Vocabulary
from tests.inference.helpers import scene_image

VOCAB = Vocabulary.from_strings(["cat", "dog", "sky"], [True, True, False])


def _panoptic_result():
    panoptic = torch.zeros(60, 80, dtype=torch.int32)
    panoptic[:30] = 3
    panoptic[35:50, 10:30] = 1
    panoptic[40:60, 50:70] = 300  # ids above 255 need the G channel
    info = [{"id": 1, "isthing": True, "category_id": 0}, {"id": 300, "isthing": True, "category_id": 1},
            {"id": 3, "isthing": False, "category_id": 2}]
    return build_result("panoptic", {"panoptic_seg": (panoptic, info)}, VOCAB)


def test_panoptic_files_agree_with_each_other(tmp_path):
    result = _panoptic_result()
    paths = save_outputs(result, scene_image(), tmp_path, "scene", image_name="in/scene.jpg")
    assert {k: p.name for k, p in paths.items()} == {
        "visualization": "scene_visualization.png", "segmentation": "scene_panoptic.png",
        "segments": "scene_segments.json"}
    ids = rgb2id(np.asarray(Image.open(paths["segmentation"])))
    np.testing.assert_array_equal(ids, result.panoptic_map)
    record = json.loads(paths["segments"].read_text(encoding="utf-8"))
    assert record["image"] == "in/scene.jpg" and record["task"] == "panoptic"
    assert (record["height"], record["width"]) == (60, 80)
    assert record["classes"] == ["cat", "dog", "sky"] and record["segmentation_png"] == "scene_panoptic.png"
    assert {s["id"] for s in record["segments"]} == set(np.unique(ids).tolist()) - {0}
    for segment in record["segments"]:
        assert segment["area"] == int((ids == segment["id"]).sum())
        assert segment["class_name"] == VOCAB.names[segment["class_id"]]
    drawing = np.asarray(Image.open(paths["visualization"]))
    assert drawing.shape == (60, 80, 3) and not np.array_equal(drawing, scene_image())


def test_semantic_png_holds_class_ids_in_8_or_16_bits(tmp_path):
    scores = torch.zeros(3, 4, 5)
    scores[2, :2] = 1.0
    scores[1, 2:] = 1.0
    result = build_result("semantic", {"sem_seg": scores}, VOCAB)
    image = segmentation_image(result)
    assert image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), result.semantic_map)

    many = Vocabulary.from_strings([f"class {i}" for i in range(300)])
    scores = torch.zeros(300, 4, 5)
    scores[299, :, :2] = 1.0
    scores[257, :, 2:] = 1.0
    result = build_result("semantic", {"sem_seg": scores}, many)
    segmentation_image(result).save(tmp_path / "labels.png")
    labels = np.asarray(Image.open(tmp_path / "labels.png"))
    assert labels.dtype == np.uint16
    np.testing.assert_array_equal(labels, result.semantic_map)
    assert set(np.unique(labels).tolist()) == {257, 299}


def test_instance_outputs_and_drawing(tmp_path):
    masks = torch.zeros(2, 60, 80)
    masks[0, 10:30, 10:40] = 1.0
    masks[1, 20:50, 30:60] = 1.0
    instances = Instances((60, 80))
    instances.pred_masks, instances.scores = masks, torch.tensor([0.4, 0.9])
    instances.pred_classes = torch.tensor([0, 1])
    instances.pred_boxes = BitMasks(masks > 0).get_bounding_boxes()
    result = build_result("instance", {"instances": instances}, VOCAB)
    paths = save_outputs(result, scene_image(), tmp_path, "x")
    ids = rgb2id(np.asarray(Image.open(paths["segmentation"])))
    np.testing.assert_array_equal(ids, result.instance_map)
    assert ids[25, 35] == 1  # the overlap shows the best-scoring instance (dog, 0.9)
    record = json.loads(paths["segments"].read_text(encoding="utf-8"))
    assert [(s["id"], s["class_name"], s["box"]) for s in record["segments"]] == [
        (1, "dog", [30.0, 20.0, 60.0, 50.0]), (2, "cat", [10.0, 10.0, 40.0, 30.0])]
    drawing = draw_result(scene_image(), result, vocabulary_metadata(VOCAB))
    assert drawing.shape == (60, 80, 3) and drawing.dtype == np.uint8
    assert draw_result(scene_image(), result, scale=2.0).shape == (120, 160, 3)
    with pytest.raises(ValueError, match="scale must be > 0"):
        draw_result(scene_image(), result, scale=0.0)
    with pytest.raises(ValueError, match=r"the image is \(30, 80\) but the result is for \(60, 80\)"):
        draw_result(scene_image()[:30], result)


def test_metadata_names_every_class_and_is_not_registered():
    from detectron2.data import MetadataCatalog

    metadata = vocabulary_metadata(VOCAB)
    assert metadata.thing_classes == metadata.stuff_classes == ["cat", "dog", "sky"]
    assert len(metadata.stuff_colors) == 3 and len(set(metadata.stuff_colors)) == 3
    assert metadata.name not in MetadataCatalog.list()
