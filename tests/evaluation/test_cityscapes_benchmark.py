"""Cityscapes: release layout -> cityscapesscripts prepare -> registration -> PQ / mIoU / AP."""
import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from gpa.data.preparation import cityscapes as prepare
from gpa.evaluation import build_evaluator
from tests.synthetic import write_cityscapes_raw
from tests.synthetic.predictions import (
    evaluate_outputs,
    instances_output,
    miou_if_all_predicted_as,
    panoptic_output,
    read_labels,
    semantic_outputs,
)

NAME = "gpa_cityscapes_panoptic_val"


@pytest.fixture(scope="module")
def cs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("d2")
    write_cityscapes_raw(root, num_images=2)
    prepare.main(["--root", str(root), "--splits", "val"])
    return root


def test_train_ids_follow_cityscapesscripts(cs_root, builtin_at):
    builtin_at(cs_root, NAME)
    meta = MetadataCatalog.get(NAME)
    assert meta.stuff_classes[:3] == ["road", "sidewalk", "building"] and meta.stuff_classes[13] == "car"
    assert meta.thing_dataset_id_to_contiguous_id == {24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    gt = cs_root / "cityscapes/gtFine/val/frankfurt"
    ids = np.asarray(Image.open(gt / "frankfurt_000000_000000_gtFine_labelIds.png")).astype(np.int64)
    train = np.asarray(Image.open(gt / "frankfurt_000000_000000_gtFine_labelTrainIds.png")).astype(np.int64)
    lut = np.full(256, 255)
    for dataset_id, contiguous in meta.stuff_dataset_id_to_contiguous_id.items():
        lut[dataset_id] = contiguous
    np.testing.assert_array_equal(train, lut[ids])  # label id -> trainId; ego vehicle etc. -> 255
    with Image.open(gt / "frankfurt_000000_000000_gtFine_instanceIds.png") as image:
        assert image.mode in ("I", "I;16")  # instance ids exceed 8 bits


def test_records_find_images_despite_json_file_names(cs_root, builtin_at):
    builtin_at(cs_root, NAME)
    records = DatasetCatalog.get(NAME)
    assert [r["image_id"] for r in records] == ["frankfurt_000000_000000", "frankfurt_000000_000001"]
    for r in records:
        assert r["file_name"].endswith(f"val/frankfurt/{r['image_id']}_leftImg8bit.png")
        assert any(s["iscrowd"] for s in r["segments_info"])  # the cargroup


def test_perfect_predictions_score_100(cs_root, builtin_at, eval_cfg):
    builtin_at(cs_root, NAME)
    records = DatasetCatalog.get(NAME)
    outputs = semantic_outputs(records, 19)
    for out, record in zip(outputs, records):
        out.update(panoptic_seg=panoptic_output(record), instances=instances_output(record))
    results = evaluate_outputs(build_evaluator(eval_cfg, NAME), zip(records, outputs))
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100.0)
    assert results["sem_seg"]["mIoU"] == pytest.approx(100.0)
    assert results["segm"]["AP"] == pytest.approx(100.0)


def test_all_road_prediction_hand_computed_miou(cs_root, builtin_at, eval_cfg):
    builtin_at(cs_root, NAME)
    eval_cfg.MODEL.MASK_FORMER.TEST.PANOPTIC_ON = False
    eval_cfg.MODEL.MASK_FORMER.TEST.INSTANCE_ON = False
    records = DatasetCatalog.get(NAME)
    results = evaluate_outputs(build_evaluator(eval_cfg, NAME), zip(records, semantic_outputs(records, 19, 0)))
    labels = [read_labels(r["sem_seg_file_name"]) for r in records]
    assert results["sem_seg"]["mIoU"] == pytest.approx(miou_if_all_predicted_as(labels, 0, 255))


def test_rerun_skips(cs_root):
    again = prepare.main(["--root", str(cs_root), "--splits", "val"])
    assert again.written == {} and again.skipped == {"labels": 2, "panoptic": 1}
