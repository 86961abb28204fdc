"""Evaluator dispatch: by evaluator kind and enabled tasks, with clear errors."""
import json

import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog

from gpa.data import register_coco_panoptic_format, register_semantic_format
from gpa.evaluation import (
    EVALUATOR_REGISTRY,
    InstanceAPEvaluator,
    MIoUEvaluator,
    PanopticQualityEvaluator,
    build_evaluator,
)
from tests.synthetic import write_coco_panoptic
from tests.synthetic.predictions import evaluate_outputs, instances_output


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    paths = write_coco_panoptic(tmp_path_factory.mktemp("d") / "coco", num_images=2)
    register_coco_panoptic_format(
        "test_build_toy", image_root=paths["image_root"], panoptic_root=paths["panoptic_root"],
        panoptic_json=paths["panoptic_json"], sem_seg_root=paths["sem_seg_root"],
        instances_json=paths["instances_json"], replace=True,
    )
    register_coco_panoptic_format(
        "test_build_toy_no_instances", image_root=paths["image_root"], panoptic_root=paths["panoptic_root"],
        panoptic_json=paths["panoptic_json"], replace=True,
    )
    return paths


def _kinds(evaluator):
    return [type(e) for e in evaluator._evaluators]


def test_tasks_follow_the_switches(toy, eval_cfg):
    assert _kinds(build_evaluator(eval_cfg, "test_build_toy")) == [
        PanopticQualityEvaluator, MIoUEvaluator, InstanceAPEvaluator]
    eval_cfg.MODEL.MASK_FORMER.TEST.PANOPTIC_ON = False
    eval_cfg.MODEL.MASK_FORMER.TEST.INSTANCE_ON = False
    assert _kinds(build_evaluator(eval_cfg, "test_build_toy")) == [MIoUEvaluator]


def test_semantic_benchmark_leaves_out_other_tasks_and_fails_when_none_left(toy, eval_cfg):
    register_semantic_format("test_build_semantic", image_root=toy["image_root"], sem_seg_root=toy["sem_seg_root"],
                             classes=MetadataCatalog.get("test_build_toy").classes().all_stuff(), replace=True)
    assert set(EVALUATOR_REGISTRY.get("sem_seg")) == {"semantic"}
    assert _kinds(build_evaluator(eval_cfg, "test_build_semantic")) == [MIoUEvaluator]
    eval_cfg.MODEL.MASK_FORMER.TEST.SEMANTIC_ON = False
    with pytest.raises(ValueError, match="SEMANTIC_ON"):
        build_evaluator(eval_cfg, "test_build_semantic")


def test_unknown_kind_and_missing_instances_are_explained(toy, eval_cfg):
    with pytest.raises(ValueError, match="sem_seg_root"):
        build_evaluator(eval_cfg, "test_build_toy_no_instances")
    eval_cfg.MODEL.MASK_FORMER.TEST.SEMANTIC_ON = False
    with pytest.raises(ValueError, match="instances_json"):
        build_evaluator(eval_cfg, "test_build_toy_no_instances")
    if "test_build_foreign" not in DatasetCatalog.list():
        DatasetCatalog.register("test_build_foreign", lambda: [])
    MetadataCatalog.get("test_build_foreign").evaluator_type = "lvis"
    with pytest.raises(ValueError, match="'lvis'.*coco_panoptic_seg"):
        build_evaluator(eval_cfg, "test_build_foreign")


def test_instance_ap_rejects_stuff_class_predictions_and_accepts_json_without_info(toy, tmp_path):
    data = json.loads(toy["instances_json"].read_text())
    data.pop("info")
    no_info = tmp_path / "instances.json"
    no_info.write_text(json.dumps(data))
    register_coco_panoptic_format(
        "test_build_no_info", image_root=toy["image_root"], panoptic_root=toy["panoptic_root"],
        panoptic_json=toy["panoptic_json"], instances_json=no_info, replace=True,
    )
    records = DatasetCatalog.get("test_build_no_info")
    results = evaluate_outputs(InstanceAPEvaluator("test_build_no_info"),
                               [(r, {"instances": instances_output(r)}) for r in records])
    assert results["segm"]["AP"] == pytest.approx(100.0)
    bad = instances_output(records[0])
    bad.pred_classes = torch.full_like(bad.pred_classes, 4)  # "tree-merged", a stuff class
    with pytest.raises(ValueError, match=r"classes \[4\].*not thing classes"):
        evaluate_outputs(InstanceAPEvaluator("test_build_no_info"), [(records[0], {"instances": bad})])
