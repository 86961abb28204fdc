"""gpa_toy/tools/error_analysis.py: the relabelled maps, the kinds of wrong names, the accumulated figures."""
from __future__ import annotations

import math
import runpy
from pathlib import Path

import numpy as np
import pytest

from gpa_toy.world import class_by_name

REPO = Path(__file__).resolve().parents[2]
IGNORE = 255


@pytest.fixture(scope="module")
def ea():
    """The script's functions (run by path: scripts are not modules of the package)."""
    return runpy.run_path(str(REPO / "gpa_toy" / "tools" / "error_analysis.py"), run_name="error_analysis")


def test_confusion_matrix_has_semsegevaluators_layout(ea):
    gt = np.array([[0, 1], [IGNORE, 2]])
    pred = np.array([[0, 2], [1, 2]])
    conf = ea["confusion_matrix"](gt, pred, 3, IGNORE)
    expected = np.zeros((4, 4), dtype=np.int64)  # rows prediction, columns ground truth, last: ignore
    expected[0, 0] = expected[2, 1] = expected[1, 3] = expected[2, 2] = 1
    np.testing.assert_array_equal(conf, expected)
    with pytest.raises(ValueError, match="outside 0..2"):
        ea["confusion_matrix"](gt, np.array([[0, 3], [1, 2]]), 3, IGNORE)


def test_detectron2_miou_divides_by_the_classes_in_ground_truth_or_prediction(ea):
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 1, 2])  # class 2 only predicted: IoU 0 counted in SemSegEvaluator's average
    conf = ea["confusion_matrix"](gt, pred, 4, IGNORE)
    assert ea["detectron2_miou"](conf) == pytest.approx(100 * (1.0 + 0.5 + 0.0) / 3)


def test_perfect_extents_fill_each_segment_with_its_majority_prediction(ea):
    pred = np.array([[1, 1, 2, 0],
                     [1, 2, 2, 0]])
    segments = np.array([[5, 5, 5, 0],
                         [5, 7, 7, 0]])
    named = ea["name_segments_by_prediction"](pred, segments, 3)
    np.testing.assert_array_equal(named, [[1, 1, 1, 0], [1, 2, 2, 0]])
    tie = ea["name_segments_by_prediction"](np.array([2, 1]), np.array([3, 3]), 3)
    np.testing.assert_array_equal(tie, [1, 1])  # the smaller label on a tie


def test_perfect_names_label_each_connected_region_by_its_majority_ground_truth(ea):
    # two separate regions predicted 1 (4-connectivity: the diagonal does not join them) get their own names;
    # ignored pixels are not counted; a region of ignored pixels only keeps its label
    pred = np.array([[1, 0, 0],
                     [0, 1, 1],
                     [2, 0, 1]])
    gt = np.array([[3, 0, 0],
                   [0, IGNORE, 2],
                   [IGNORE, 0, 2]])
    named = ea["name_regions_by_ground_truth"](pred, gt, 4, IGNORE)
    np.testing.assert_array_equal(named, [[3, 0, 0], [0, 2, 2], [2, 0, 2]])


@pytest.mark.parametrize(("truth", "named", "kind"), [
    ("red circle", "red square", "shape"),
    ("red circle", "blue circle", "colour"),
    ("red circle", "blue square", "colour_and_shape"),
    ("red circle", "stripes", "object_as_texture"),
    ("stripes", "red circle", "texture_as_object"),
    ("stripes", "waves", "texture"),
])
def test_error_kinds(ea, truth, named, kind):
    assert ea["error_kind"](class_by_name(truth), class_by_name(named)) == kind
    assert kind in ea["ERROR_KINDS"]


def test_error_kind_refuses_a_right_name(ea):
    with pytest.raises(ValueError, match="named right"):
        ea["error_kind"](class_by_name("red circle"), class_by_name("red circle"))


CLASSES = [class_by_name(n) for n in ("red circle", "red square", "blue circle", "stripes")]  # 1 unseen


def _image():
    """A 6 x 6 image: stripes (class 3) with a red square (1, unseen, 9 px) and a red circle (0, 4 px)."""
    gt = np.full((6, 6), 3)
    segments = np.ones((6, 6), dtype=np.int64)
    gt[0:3, 0:3], segments[0:3, 0:3] = 1, 2
    gt[4:6, 4:6], segments[4:6, 4:6] = 0, 3
    pred = gt.copy()
    pred[0:3, 0:3] = 0           # the square is named a red circle (wrong shape) ...
    pred[0, 0] = 1               # ... but for one pixel
    pred[4, 4] = 3               # one pixel of the circle is stripes (extent)
    pred[5, 0] = 2               # one stripes pixel is a blue circle (extent of the stripes)
    return gt, pred, segments


def test_accumulated_figures_of_one_image(ea):
    analysis = ea["ErrorAnalysis"](CLASSES, [1], IGNORE)
    gt, pred, segments = _image()
    analysis.add(gt, pred, segments)
    summary = analysis.summary()

    assert summary["images"] == 1
    assert summary["segments"] == {"seen": {"total": 2, "named_right": 2}, "unseen": {"total": 1, "named_right": 0}}
    assert summary["segments_named_right"]["seen"] == 100.0 and summary["segments_named_right"]["unseen"] == 0.0
    assert summary["segments_named_right"]["all"] == pytest.approx(200 / 3)
    assert summary["wrong_pixels"]["seen"]["extent"] == 2  # the circle's stripes pixel, the stripes' blue pixel
    assert summary["wrong_pixels"]["unseen"]["shape"] == 8  # the square named a circle, but its right pixel
    assert sum(summary["wrong_pixels"]["unseen"].values()) == 8
    assert summary["wrong_pixel_shares"]["unseen"]["shape"] == 100.0
    assert summary["misnamed"] == [{"class": "red square", "named": "red circle", "segments": 1, "unseen": True}]
    sizes = summary["objects_by_size"]  # both objects under 200 px; stuff is not counted
    assert sizes["< 200 px"] == {"total": 2, "named_right": 1} and sum(s["total"] for s in sizes.values()) == 2

    # mIoU as predicted, from the pixel counts by hand (IoU = tp / union): the circle 3 of 4 + 11 - 3, the square
    # 1 of 9, stripes 22 of 23 + 23 - 22; class 2, only predicted, counts in "all" alone (SemSegEvaluator)
    iou = {0: 3 / 12, 1: 1 / 9, 2: 0.0, 3: 22 / 24}
    predicted = summary["mIoU"]["predicted"]
    assert predicted["seen"] == pytest.approx(100 * (iou[0] + iou[3]) / 2)
    assert predicted["unseen"] == pytest.approx(100 * iou[1])
    assert predicted["all"] == pytest.approx(100 * sum(iou.values()) / 4)
    # perfect extents: every segment takes its majority prediction (the square becomes all circle)
    extents = summary["mIoU"]["perfect_extents"]
    assert extents["unseen"] == 0.0 and extents["seen"] == pytest.approx(100 * (4 / 13 + 1.0) / 2)
    # perfect names: the predicted regions take their majority ground truth (the blue pixel becomes stripes,
    # the 8-pixel circle region becomes square, the lone square pixel stays square, the stripes pixel in
    # the circle is part of the stripes region)
    names = summary["mIoU"]["perfect_names"]
    assert names["unseen"] == 100.0 and names["seen"] == pytest.approx(100 * (3 / 4 + 23 / 24) / 2)


def test_segments_must_cover_the_labelled_pixels(ea):
    analysis = ea["ErrorAnalysis"](CLASSES, [1], IGNORE)
    gt, pred, segments = _image()
    segments[5, 5] = 0
    with pytest.raises(ValueError, match="outside every ground-truth segment"):
        analysis.add(gt, pred, segments)


def test_tables(ea):
    analysis = ea["ErrorAnalysis"](CLASSES, [1], IGNORE)
    analysis.add(*_image())
    text = ea["format_tables"](analysis.summary(), "toy")
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "toy"
    row = next(line for line in lines if line.startswith("| mIoU as predicted"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == f"{100 / 9:.1f}"
    assert "| red square*" in text and "| < 200 px" in text
    assert not math.isnan(analysis.summary()["mIoU"]["perfect_names"]["hm"])


def test_the_tool_names_a_missing_run(ea, tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        ea["main"]([str(tmp_path)])
    with pytest.raises(SystemExit):
        ea["main"]([str(tmp_path), "--opts", "INPUT.MIN_SIZE_TEST", "128"])  # --opts needs --output
