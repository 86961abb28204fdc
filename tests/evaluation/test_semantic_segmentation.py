"""MIoUEvaluator: detectron2's SemSegEvaluator figures, without its label-map Boundary IoU."""
import numpy as np
import pytest
from detectron2.data import DatasetCatalog
from detectron2.evaluation import SemSegEvaluator
from PIL import Image

from gpa.data import register_semantic_format
from gpa.evaluation import MIoUEvaluator
from gpa.evaluation.semantic_segmentation import label_map_boundary_classes
from gpa.vocabulary import DatasetClasses
from tests.synthetic.predictions import evaluate_outputs, semantic_output

BOUNDARY_KEYS = ("BoundaryIoU-", "min(IoU, B-Iou)-")


def test_detectron2_boundary_lands_on_label_differences():
    # background class 1, a square of class 3: eroding the map as one image puts the square's rim at 3 - 1 = 2
    # and the image border at 1 - 0 = 1, so class 2, which is nowhere in the map, gets boundary pixels.
    labels = np.ones((60, 60), dtype=np.uint8)
    labels[20:40, 20:40] = 3
    assert label_map_boundary_classes(labels) == {1, 2}
    assert 2 not in np.unique(labels)


@pytest.fixture
def dataset(tmp_path):
    gt = np.ones((40, 40), dtype=np.uint8)
    gt[10:30, 10:30] = 3
    (tmp_path / "img").mkdir()
    (tmp_path / "lab").mkdir()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "img" / "a.jpg")
    Image.fromarray(gt).save(tmp_path / "lab" / "a.png")
    categories = [{"id": i, "name": n, "isthing": 0} for i, n in enumerate(["a", "b", "c", "d"])]
    classes = DatasetClasses.from_categories(categories)
    register_semantic_format("test_miou_evaluator", image_root=tmp_path / "img", sem_seg_root=tmp_path / "lab",
                             classes=classes, replace=True)
    pred = gt.astype(np.int64).copy()
    pred[10:30, 10:14] = 1  # part of the square missed
    return DatasetCatalog.get("test_miou_evaluator")[0], {"sem_seg": semantic_output(pred, 4)}


def test_same_figures_as_semseg_evaluator_without_boundary_keys(dataset):
    ours = evaluate_outputs(MIoUEvaluator("test_miou_evaluator"), [dataset])["sem_seg"]
    theirs = evaluate_outputs(SemSegEvaluator("test_miou_evaluator"), [dataset])["sem_seg"]
    assert any(k.startswith(BOUNDARY_KEYS) for k in theirs)  # detectron2 reports them (cv2 is installed)
    assert not any(k.startswith(BOUNDARY_KEYS) for k in ours)
    np.testing.assert_equal(ours, {k: v for k, v in theirs.items() if not k.startswith(BOUNDARY_KEYS)})  # NaN == NaN
    # square 400 px, 80 of them predicted as background: IoU(c) = 320 / 400, IoU(b) = 1200 / 1280
    assert ours["IoU-d"] == pytest.approx(100 * 320 / 400)
    assert ours["IoU-b"] == pytest.approx(100 * 1200 / 1280)
