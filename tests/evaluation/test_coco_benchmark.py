"""COCO panoptic: official layout -> semantic prepare -> builtin registration -> PQ / mIoU / AP."""
import json
from pathlib import Path

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets.builtin_meta import COCO_CATEGORIES
from PIL import Image

from gpa.data import register_coco_panoptic_format
from gpa.data.datasets.class_sources import coco_panoptic_classes
from gpa.data.preparation import coco as prepare_coco
from gpa.evaluation import PanopticQualityEvaluator, build_evaluator
from tests.synthetic import write_coco_panoptic
from tests.synthetic.predictions import (
    evaluate_outputs,
    instances_output,
    panoptic_output,
    read_segment_ids,
    semantic_output,
)

NAME = "gpa_coco_panoptic_val"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "coco_panoptic"


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("d2")
    # all 133 categories in the JSONs, as in the official files (the scenes draw a few of them)
    write_coco_panoptic(root / "coco", num_images=4, semantic=False, categories=COCO_CATEGORIES)
    prepare_coco.main(["--root", str(root), "--splits", "val"])
    return root


def test_prepared_semantic_matches_panoptic_and_reruns_skip(coco_root):
    pan = json.loads((coco_root / "coco/annotations/panoptic_val2017.json").read_text())
    order = {d: i for i, d in enumerate(coco_panoptic_classes().dataset_ids)}  # the 133-class order
    for ann in pan["annotations"]:
        ids = read_segment_ids(str(coco_root / "coco/panoptic_val2017" / ann["file_name"]))
        sem = np.asarray(Image.open(coco_root / "coco/panoptic_semseg_val2017" / ann["file_name"]))
        assert sem.dtype == np.uint8
        assert (sem[ids == 0] == 255).all()
        for seg in ann["segments_info"]:
            assert (sem[ids == seg["id"]] == order[seg["category_id"]]).all()
    again = prepare_coco.main(["--root", str(coco_root), "--splits", "val"])
    assert again.written == {} and again.skipped == {"labels": 4}


def test_perfect_predictions_score_100(coco_root, builtin_at, eval_cfg):
    builtin_at(coco_root, NAME)
    meta = MetadataCatalog.get(NAME)
    records = DatasetCatalog.get(NAME)
    outputs = [
        {
            "sem_seg": semantic_output(np.asarray(Image.open(r["sem_seg_file_name"])), len(meta.stuff_classes)),
            "panoptic_seg": panoptic_output(r),
            "instances": instances_output(r),
        }
        for r in records
    ]
    results = evaluate_outputs(build_evaluator(eval_cfg, NAME), zip(records, outputs))
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100.0)
    assert results["sem_seg"]["mIoU"] == pytest.approx(100.0)
    assert results["segm"]["AP"] == pytest.approx(100.0)


def test_missing_one_segment_gives_hand_computed_pq(coco_root, builtin_at):
    builtin_at(coco_root, NAME)
    records = DatasetCatalog.get(NAME)
    segments = [s for r in records for s in r["segments_info"] if not s["iscrowd"]]
    dropped = next(s for s in records[1]["segments_info"] if not s["isthing"])
    outputs = [{"panoptic_seg": panoptic_output(r, keep=lambda s: s["id"] != dropped["id"])} for r in records]
    results = evaluate_outputs(PanopticQualityEvaluator(NAME), zip(records, outputs))

    # Every other segment is matched with IoU 1. The dropped segment's class c has n_c - 1 true positives and
    # one false negative: PQ_c = (n_c - 1) / (n_c - 1 + 0.5); every other class present scores 1.
    classes = {s["category_id"] for s in segments}
    n_c = sum(s["category_id"] == dropped["category_id"] for s in segments)
    expected = 100 * ((len(classes) - 1) + (n_c - 1) / (n_c - 0.5)) / len(classes)
    assert results["panoptic_seg"]["PQ"] == pytest.approx(expected)
    assert results["panoptic_seg"]["PQ_th"] == pytest.approx(100.0)


def test_instance_ap_without_one_class_is_hand_computed(coco_root, builtin_at, eval_cfg):
    builtin_at(coco_root, NAME)
    records = DatasetCatalog.get(NAME)
    things = {s["category_id"] for r in records for s in r["segments_info"] if s["isthing"] and not s["iscrowd"]}
    removed = min(things)
    eval_cfg.MODEL.MASK_FORMER.TEST.PANOPTIC_ON = False
    eval_cfg.MODEL.MASK_FORMER.TEST.SEMANTIC_ON = False
    outputs = [{"instances": instances_output(r, keep=lambda s: s["category_id"] != removed)} for r in records]
    results = evaluate_outputs(build_evaluator(eval_cfg, NAME), zip(records, outputs))
    # AP averages over classes with ground truth: the removed class scores 0, the others 100.
    assert results["segm"]["AP"] == pytest.approx(100.0 * (len(things) - 1) / len(things))


def test_max_eval_images_subset(coco_root, builtin_at, eval_cfg):
    builtin_at(coco_root, NAME)
    records = DatasetCatalog.get(NAME)[:2]
    outputs = [{"panoptic_seg": panoptic_output(r), "instances": instances_output(r)} for r in records]
    eval_cfg.MODEL.MASK_FORMER.TEST.SEMANTIC_ON = False
    results = evaluate_outputs(build_evaluator(eval_cfg, NAME), zip(records, outputs))
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100.0)
    assert results["segm"]["AP"] == pytest.approx(100.0)


def test_builtin_class_ids_match_the_official_category_list():
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} not present")
    official = json.loads((SAMPLES / "panoptic_coco_categories.json").read_text())
    classes = coco_panoptic_classes()
    assert list(classes.dataset_ids) == [c["id"] for c in official]
    assert list(classes.vocabulary.is_thing) == [bool(c["isthing"]) for c in official]


def test_real_samples_load_and_score_100():
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} not present")
    register_coco_panoptic_format(
        "test_coco_real_samples", image_root=SAMPLES / "images", panoptic_root=SAMPLES / "panoptic",
        panoptic_json=SAMPLES / "panoptic_examples.json", replace=True,
    )
    records = DatasetCatalog.get("test_coco_real_samples")
    assert [r["image_id"] for r in records] == [142238, 439180]
    for record in records:
        ids = read_segment_ids(record["pan_seg_file_name"])
        assert ids.shape == (record["height"], record["width"])
        assert Image.open(record["file_name"]).size == (record["width"], record["height"])
        assert set(np.unique(ids)) - {0} == {s["id"] for s in record["segments_info"]}
        for seg in record["segments_info"]:
            assert int((ids == seg["id"]).sum()) == seg["area"]
    outputs = [{"panoptic_seg": panoptic_output(r)} for r in records]
    results = evaluate_outputs(PanopticQualityEvaluator("test_coco_real_samples"), zip(records, outputs))
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100.0)
