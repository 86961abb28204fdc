"""Training mappers: targets equal the label files, crowds dropped, padding void, 16-bit labels exact."""
import json

import detectron2.data.transforms as T
import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from PIL import Image

import gpa.data  # noqa: F401  (registers the builtin datasets)
from gpa.config import add_gpa_config
from gpa.data.mappers import PanopticLSJDatasetMapper, SemanticDatasetMapper, build_train_mapper
from gpa.data.mappers.lsj import build_lsj_augmentation
from tests.synthetic import write_coco_panoptic


def _identity_then_pad(size):
    """Scale 1.0 of a target as large as the image's long side: the image keeps its size, then pads square."""
    return build_lsj_augmentation(size, 1.0, 1.0, "none", seg_pad_value=0)


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return write_coco_panoptic(tmp_path_factory.mktemp("d") / "coco", num_images=2)


def _record(paths, index=0):
    pan = json.loads(paths["panoptic_json"].read_text())
    ann, img = pan["annotations"][index], pan["images"][index]
    order = {c["id"]: i for i, c in enumerate(sorted(pan["categories"], key=lambda c: c["id"]))}
    segments = [dict(s, category_id=order[s["category_id"]]) for s in ann["segments_info"]]
    return {
        "file_name": str(paths["image_root"] / img["file_name"]),
        "height": img["height"],
        "width": img["width"],
        "pan_seg_file_name": str(paths["panoptic_root"] / ann["file_name"]),
        "segments_info": segments,
    }


def test_panoptic_targets_match_png_and_drop_crowds(coco):
    record = _record(coco, 0)
    mapper = PanopticLSJDatasetMapper(True, augmentations=_identity_then_pad(96), image_format="RGB")
    out = mapper(record)
    assert out["image"].dtype == torch.uint8 and tuple(out["image"].shape) == (3, 96, 96)

    rgb = np.asarray(Image.open(record["pan_seg_file_name"]), dtype=np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]  # COCO panoptic id encoding
    expected = [s for s in record["segments_info"] if not s["iscrowd"]]
    assert any(s["iscrowd"] for s in record["segments_info"]), "fixture image 0 must hold a crowd"
    assert out["instances"].gt_classes.tolist() == [s["category_id"] for s in expected]
    masks = out["instances"].gt_masks.tensor.numpy()
    assert masks.shape == (len(expected), 96, 96)
    for mask, seg in zip(masks, expected):
        np.testing.assert_array_equal(mask[:64, :96], ids == seg["id"])
        assert not mask[64:].any()  # padding is void


def test_panoptic_crop_keeps_shapes_consistent(coco):
    augs = build_lsj_augmentation(32, 1.0, 1.0, "horizontal", seg_pad_value=0)
    out = PanopticLSJDatasetMapper(True, augmentations=augs, image_format="RGB")(_record(coco, 1))
    assert tuple(out["image"].shape) == (3, 32, 32)
    assert tuple(out["instances"].gt_masks.tensor.shape[1:]) == (32, 32)
    assert len(out["instances"]) == out["instances"].gt_masks.tensor.shape[0]


def test_test_mode_returns_image_only(coco):
    out = PanopticLSJDatasetMapper(False, augmentations=[], image_format="RGB")(_record(coco, 0))
    assert "instances" not in out and "segments_info" not in out
    assert tuple(out["image"].shape) == (3, 64, 96)


def test_semantic_mapper_keeps_16_bit_ids_and_pads_with_ignore(tmp_path):
    labels = np.full((20, 30), 65535, dtype=np.uint16)
    labels[:10] = 300  # a class id that an 8-bit read would wrap to 44
    labels[10:, :15] = 846
    Image.fromarray(labels).save(tmp_path / "a.tif")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.jpg")
    augs = build_lsj_augmentation(30, 1.0, 1.0, "none", seg_pad_value=65535)  # 20x30 kept, padded to 30x30
    mapper = SemanticDatasetMapper(True, augmentations=augs, image_format="RGB", ignore_label=65535)
    out = mapper({"file_name": str(tmp_path / "a.jpg"), "sem_seg_file_name": str(tmp_path / "a.tif")})
    np.testing.assert_array_equal(out["sem_seg"][:20, :30].numpy(), labels.astype(np.int64))
    assert out["sem_seg"].shape == (30, 30) and (out["sem_seg"][20:] == 65535).all()
    assert sorted(out["instances"].gt_classes.tolist()) == [300, 846]
    for cls, mask in zip(out["instances"].gt_classes.tolist(), out["instances"].gt_masks.tensor):
        assert mask.sum().item() == int((labels == cls).sum())


def test_resize_uses_nearest_labels(tmp_path):
    labels = np.zeros((10, 10), dtype=np.uint16)
    labels[:, 5:] = 1000
    Image.fromarray(labels).save(tmp_path / "a.tif")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "a.png")
    augs = [T.Resize((20, 20))]
    mapper = SemanticDatasetMapper(True, augmentations=augs, image_format="RGB", ignore_label=65535)
    out = mapper({"file_name": str(tmp_path / "a.png"), "sem_seg_file_name": str(tmp_path / "a.tif")})
    assert set(out["sem_seg"].unique().tolist()) == {0, 1000}


def test_build_train_mapper_dispatch_and_error():
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.INPUT.IMAGE_SIZE = 64
    assert isinstance(build_train_mapper(cfg), PanopticLSJDatasetMapper)
    cfg.INPUT.DATASET_MAPPER_NAME = "coco_lsj"
    with pytest.raises(ValueError, match=r"coco_lsj.*panoptic_lsj.*semantic_lsj"):
        build_train_mapper(cfg)


def test_bad_scale_range_is_rejected():
    with pytest.raises(ValueError, match="MIN_SCALE"):
        build_lsj_augmentation(64, 2.0, 0.5, "none", 0)


def test_semantic_mapper_reads_ignore_label_of_the_training_dataset():
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.INPUT.DATASET_MAPPER_NAME = "semantic_lsj"
    cfg.DATASETS.TRAIN = ("gpa_pascal_ctx_459_sem_seg_train",)  # metadata only: nothing is read from disk
    mapper = build_train_mapper(cfg)
    assert isinstance(mapper, SemanticDatasetMapper) and mapper.ignore_label == 65535
