"""mIoU averages over the classes present in the ground truth; the table says so."""
import numpy as np
import pytest
from detectron2.data import DatasetCatalog
from detectron2.evaluation import SemSegEvaluator
from PIL import Image

from gpa.data import register_semantic_format
from gpa.evaluation import MIOU_CONVENTION, format_results_table
from gpa.vocabulary import DatasetClasses
from tests.synthetic.predictions import evaluate_outputs, semantic_output


def test_class_only_predicted_is_not_in_the_average(tmp_path):
    # 3 classes; the ground truth holds classes 0 and 1 (and one ignored pixel), never class 2.
    gt = np.array([[0, 0, 1], [1, 1, 255]], dtype=np.uint8)
    pred = np.array([[0, 2, 1], [1, 2, 2]])  # class 2 predicted on two labelled pixels and the ignored one
    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(tmp_path / "img" / "a.jpg")
    Image.fromarray(gt).save(tmp_path / "lab" / "a.png")
    names = ["sky", "road", "car"]
    classes = DatasetClasses.from_categories([{"id": i, "name": n, "isthing": 0} for i, n in enumerate(names)])
    register_semantic_format("test_miou_convention", image_root=tmp_path / "img", sem_seg_root=tmp_path / "lab",
                             classes=classes, replace=True)
    records = DatasetCatalog.get("test_miou_convention")
    results = evaluate_outputs(SemSegEvaluator("test_miou_convention"),
                               [(records[0], {"sem_seg": semantic_output(pred, 3)})])
    # class 0: tp 1, gt 2, pred 1 -> IoU 1/2 ; class 1: tp 2, gt 3, pred 2 -> IoU 2/3 ;
    # class 2: tp 0, gt 0, pred 2 (the ignored pixel does not count) -> absent from the ground truth.
    assert results["sem_seg"]["mIoU"] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    # counting the predicted-only class (older detectron2) would give a different number
    assert results["sem_seg"]["mIoU"] != pytest.approx(100 * (1 / 2 + 2 / 3 + 0) / 3)


def test_table_has_one_row_per_dataset_and_states_the_convention():
    table = format_results_table({
        "gpa_ade20k_150_panoptic_val": {"panoptic_seg": {"PQ": 26.84, "PQ_th": 25.0, "PQ_st": 30.0},
                                        "sem_seg": {"mIoU": 34.12}, "segm": {"AP": 16.8}},
        "gpa_pascal_ctx_59_sem_seg_val": {"sem_seg": {"mIoU": 58.4}},
    })
    lines = table.splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == ["dataset", "PQ", "PQ_th", "PQ_st", "mIoU*", "AP"]
    ade = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert ade == ["gpa_ade20k_150_panoptic_val", "26.8", "25.0", "30.0", "34.1", "16.8"]
    pc = [c.strip() for c in lines[3].split("|")[1:-1]]
    assert pc == ["gpa_pascal_ctx_59_sem_seg_val", "-", "-", "-", "58.4", "-"]
    assert lines[-1] == MIOU_CONVENTION and "present in the ground truth" in MIOU_CONVENTION
