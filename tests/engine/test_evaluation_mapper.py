"""Evaluation inputs: the same numbers as detectron2's test DatasetMapper for 8-bit images, and 16-bit grayscale
images scaled instead of saturated."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from detectron2.data import DatasetMapper
from PIL import Image

from gpa.engine import build_config
from gpa.engine.evaluation_mapper import EvaluationMapper
from tests.inference.helpers import TINY_CONFIG, scene_image


@pytest.fixture
def cfg():
    return build_config(TINY_CONFIG, ["INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"])


def test_eight_bit_images_map_as_detectron2_maps_them(cfg, tmp_path):
    Image.fromarray(scene_image(size=(50, 70))).save(tmp_path / "a.png")
    record = {"file_name": str(tmp_path / "a.png"), "height": 50, "width": 70, "image_id": 3,
              "sem_seg_file_name": "x.png", "annotations": []}
    ours = EvaluationMapper.from_config(cfg)(dict(record))
    theirs = DatasetMapper(cfg, is_train=False)({k: v for k, v in record.items() if k != "sem_seg_file_name"})
    assert torch.equal(ours["image"], theirs["image"].float())
    assert (ours["height"], ours["width"], ours["image_id"]) == (50, 70, 3)
    assert "annotations" not in ours and "sem_seg_file_name" not in ours


def test_sixteen_bit_gray_is_scaled_not_saturated(cfg, tmp_path):
    gray = np.full((40, 60), 32768, dtype=np.uint16)  # mid-gray in 16 bits
    Image.fromarray(gray).save(tmp_path / "g.png")
    record = {"file_name": str(tmp_path / "g.png"), "height": 40, "width": 60}
    ours = EvaluationMapper.from_config(cfg)(dict(record))
    assert torch.all(ours["image"] == 128.0)
    assert torch.all(DatasetMapper(cfg, is_train=False)(dict(record))["image"] == 255)  # what detectron2 reads


def test_a_record_of_another_size_names_the_file(cfg, tmp_path):
    Image.fromarray(scene_image(size=(50, 70))).save(tmp_path / "a.png")
    with pytest.raises(Exception, match="a.png"):
        EvaluationMapper.from_config(cfg)({"file_name": str(tmp_path / "a.png"), "height": 51, "width": 70})
