"""Seen / unseen / harmonic-mean metrics: hand-computed numbers, detectron2 equivalence, toy-dataset evaluation."""
from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluators, SemSegEvaluator
from panopticapi.evaluation import PQStat
from PIL import Image

from gpa.config import add_gpa_config
from gpa.evaluation import MIoUEvaluator, PanopticQualityEvaluator, build_evaluator, format_results_table
from gpa.evaluation.class_split import (
    ClassSplitPanopticEvaluator,
    ClassSplitSemSegEvaluator,
    class_split_masks,
    format_class_split_table,
    harmonic_mean,
    per_class_iou,
    split_miou,
    split_pq,
)
from gpa_toy import ToySplit, register_toy_datasets
from tests.synthetic.predictions import evaluate_outputs, panoptic_output, semantic_output


def test_harmonic_mean():
    assert harmonic_mean(60.0, 40.0) == pytest.approx(48.0)
    assert harmonic_mean(50.0, 50.0) == pytest.approx(50.0)
    assert harmonic_mean(0.0, 90.0) == 0.0 and harmonic_mean(0.0, 0.0) == 0.0
    assert math.isnan(harmonic_mean(float("nan"), 10.0))
    with pytest.raises(ValueError, match="non-negative"):
        harmonic_mean(-1.0, 10.0)


def test_class_split_masks_and_their_errors():
    seen, unseen = class_split_masks(4, [1, 3])
    assert seen.tolist() == [True, False, True, False] and unseen.tolist() == [False, True, False, True]
    with pytest.raises(ValueError, match=r"\[4\] are not contiguous class ids 0..3"):
        class_split_masks(4, [1, 4])
    with pytest.raises(ValueError, match="twice"):
        class_split_masks(4, [1, 1])
    with pytest.raises(ValueError, match="some but not all"):
        class_split_masks(4, [])
    with pytest.raises(ValueError, match="some but not all"):
        class_split_masks(2, [0, 1])


# A confusion matrix in SemSegEvaluator's layout: rows = prediction, columns = ground truth, last = ignore.
# class 0: 10 ground-truth pixels, 8 predicted 0 and 2 predicted 1; class 1: 5 pixels, 4 predicted 1, 1 predicted
# 2; class 2: absent from the ground truth; 3 ignore pixels predicted 2 (not counted).
CONF = np.array([
    [8, 0, 0, 0],
    [2, 4, 0, 0],
    [0, 1, 0, 3],
    [0, 0, 0, 0],
])  # fmt: skip


def test_per_class_iou_by_hand():
    iou = per_class_iou(CONF)
    assert iou[0] == pytest.approx(8 / 10)  # tp 8, gt 10, predicted 8
    assert iou[1] == pytest.approx(4 / 7)  # tp 4, gt 5, predicted 6
    assert math.isnan(iou[2])  # absent from the ground truth: not averaged


def test_split_miou_by_hand():
    result = split_miou(CONF, unseen_classes=[1, 2])
    assert result["mIoU_seen"] == pytest.approx(80.0)
    assert result["mIoU_unseen"] == pytest.approx(100 * 4 / 7)  # class 2 is absent: only class 1 counts
    assert result["mIoU_hm"] == pytest.approx(100 * 2 / 3)  # 2 * 0.8 * 4/7 / (0.8 + 4/7) = 2/3


def _stat(entries: dict[int, tuple[float, int, int, int]]) -> PQStat:
    stat = PQStat()
    for category, (iou, tp, fp, fn) in entries.items():
        stat[category].iou, stat[category].tp, stat[category].fp, stat[category].fn = iou, tp, fp, fn
    return stat


CATEGORIES = {1: {"id": 1, "isthing": 1}, 2: {"id": 2, "isthing": 1}, 3: {"id": 3, "isthing": 0},
              4: {"id": 4, "isthing": 1}}


def test_split_pq_by_hand():
    # 1: two matches of IoU 0.8 -> PQ 0.8; 2: one match of IoU 0.6, one FP, one FN -> 0.6 / 2 = 0.3;
    # 3: one match of IoU 0.9 -> 0.9; 4: neither in the ground truth nor predicted -> not averaged.
    stat = _stat({1: (1.6, 2, 0, 0), 2: (0.6, 1, 1, 1), 3: (0.9, 1, 0, 0)})
    result = split_pq(stat, CATEGORIES, unseen_category_ids={2, 4})
    assert result["PQ_seen"] == pytest.approx(100 * (0.8 + 0.9) / 2)
    assert result["PQ_unseen"] == pytest.approx(30.0)
    assert result["PQ_hm"] == pytest.approx(2 * 85 * 30 / 115)


def test_split_pq_of_a_part_that_never_occurs_is_nan_and_unknown_ids_fail():
    stat = _stat({1: (1.0, 1, 0, 0)})
    result = split_pq(stat, CATEGORIES, unseen_category_ids={4})
    assert result["PQ_seen"] == pytest.approx(100.0) and math.isnan(result["PQ_unseen"])
    assert math.isnan(result["PQ_hm"])
    with pytest.raises(ValueError, match=r"unseen category ids \[9\]"):
        split_pq(stat, CATEGORIES, unseen_category_ids={9})


@pytest.fixture
def sem_seg_datasets():
    """Registers empty three-class datasets (classes a, b, c) with the given metadata; removed afterwards."""
    names = []

    def register(**metadata) -> str:
        name = f"test_class_split_sem_{uuid.uuid4().hex[:8]}"
        DatasetCatalog.register(name, lambda: [])
        MetadataCatalog.get(name).set(stuff_classes=["a", "b", "c"], ignore_label=255, **metadata)
        names.append(name)
        return name

    yield register
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_sem_seg_evaluator_adds_the_split_and_keeps_detectron2_scores(sem_seg_datasets):
    sem_seg_dataset = sem_seg_datasets(unseen_classes=[1, 2])
    evaluator = ClassSplitSemSegEvaluator(sem_seg_dataset, distributed=False)
    reference = SemSegEvaluator(sem_seg_dataset, distributed=False)
    for e in (evaluator, reference):
        e.reset()
        e._conf_matrix = CONF.astype(np.int64).copy()
    ours, theirs = evaluator.evaluate()["sem_seg"], reference.evaluate()["sem_seg"]
    boundary = ("BoundaryIoU-", "min(IoU, B-Iou)-")  # detectron2's label-map Boundary IoU, left out by gpa
    assert not any(key.startswith(boundary) for key in ours)
    for key, value in theirs.items():
        if not key.startswith(boundary):
            assert ours[key] == pytest.approx(value, nan_ok=True)
    assert [theirs[f"IoU-{n}"] for n in "ab"] == pytest.approx(100 * per_class_iou(CONF)[:2])
    assert ours["mIoU_seen"] == pytest.approx(80.0) and ours["mIoU_hm"] == pytest.approx(100 * 2 / 3)


def test_evaluators_need_unseen_classes(sem_seg_datasets):
    plain = sem_seg_datasets()
    with pytest.raises(ValueError, match="has no 'unseen_classes' in its metadata"):
        ClassSplitSemSegEvaluator(plain, distributed=False)
    with pytest.raises(ValueError, match=r"\[5\] are not contiguous class ids 0..2"):
        ClassSplitSemSegEvaluator(plain, distributed=False, unseen_classes=[5])
    with pytest.raises(ValueError, match=r"\[3\] are not contiguous class ids 0..2"):
        ClassSplitSemSegEvaluator(sem_seg_datasets(unseen_classes=[3]), distributed=False)


@pytest.fixture(scope="module")
def toy_val(tmp_path_factory):
    """A 12-image toy validation split (64 px, all classes, unseen ids in the metadata)."""
    tag = uuid.uuid4().hex[:8]
    train, val = f"test_split_{tag}_train", f"test_split_{tag}_val"
    splits = {"train": ToySplit(2, 64, 21, False), "val": ToySplit(12, 64, 22, True)}
    register_toy_datasets(root=tmp_path_factory.mktemp("cache") / "toy", splits=splits,
                          names={train: "train", val: "val"})
    yield val, train
    for name in (train, val):
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def _eval_cfg():
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.MODEL.MASK_FORMER.TEST.INSTANCE_ON = False
    return cfg


def test_build_evaluator_picks_split_evaluators_only_where_unseen_classes_are_listed(toy_val):
    val, train = toy_val
    evaluators = build_evaluator(_eval_cfg(), val)._evaluators
    assert [type(e) for e in evaluators] == [ClassSplitPanopticEvaluator, ClassSplitSemSegEvaluator]
    plain = build_evaluator(_eval_cfg(), train)._evaluators  # unseen_classes == []: a seen-only split
    assert [type(e) for e in plain] == [PanopticQualityEvaluator, MIoUEvaluator]


def test_toy_val_with_one_unseen_class_missed(toy_val):
    """Perfect outputs except every segment of one unseen class u: PQ_u = IoU_u = 0, all else 1."""
    val, _ = toy_val
    meta, records = MetadataCatalog.get(val), DatasetCatalog.get(val)
    unseen = set(meta.unseen_classes)
    present = {s["category_id"] for r in records for s in r["segments_info"]}
    present_unseen = sorted(present & unseen)
    assert len(present_unseen) >= 2, "the fixture split should show at least two unseen classes"
    missed = present_unseen[0]
    absent_unseen = sorted(unseen - present)[0]  # u's pixels are labelled with a class absent from the GT

    outputs = []
    for r in records:
        labels = np.asarray(Image.open(r["sem_seg_file_name"])).astype(np.int64)
        labels[labels == missed] = absent_unseen
        outputs.append({
            "sem_seg": semantic_output(labels, len(meta.stuff_classes)),
            "panoptic_seg": panoptic_output(r, keep=lambda s: s["category_id"] != missed),
        })
    evaluator = DatasetEvaluators([ClassSplitPanopticEvaluator(val), ClassSplitSemSegEvaluator(val, distributed=False)])
    results = evaluate_outputs(evaluator, zip(records, outputs))

    k_unseen, k_seen = len(present_unseen), len(present - unseen)
    # unseen: u has tp 0 (PQ 0); the predicted absent class gets no panoptic segment, so only u is wrong
    assert results["panoptic_seg"]["PQ_seen"] == pytest.approx(100.0)
    assert results["panoptic_seg"]["PQ_unseen"] == pytest.approx(100.0 * (k_unseen - 1) / k_unseen)
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100.0 * (k_seen + k_unseen - 1) / (k_seen + k_unseen))
    assert results["sem_seg"]["mIoU_seen"] == pytest.approx(100.0)
    assert results["sem_seg"]["mIoU_unseen"] == pytest.approx(100.0 * (k_unseen - 1) / k_unseen)
    hm = 2 * 100.0 * results["sem_seg"]["mIoU_unseen"] / (100.0 + results["sem_seg"]["mIoU_unseen"])
    assert results["sem_seg"]["mIoU_hm"] == pytest.approx(hm)

    # The All / Things / Stuff scores equal detectron2's COCOPanopticEvaluator (through gpa's subset wrapper).
    reference = evaluate_outputs(PanopticQualityEvaluator(val), zip(records, outputs))["panoptic_seg"]
    for key, value in reference.items():
        assert results["panoptic_seg"][key] == pytest.approx(value)

    table = format_results_table({val: results})
    assert "Seen / unseen classes" in table and "PQ_hm" in table and "mIoU_unseen" in table


def test_split_table_only_for_datasets_with_split_scores():
    assert format_class_split_table({"a": {"sem_seg": {"mIoU": 50.0}}}) is None
    table = format_class_split_table({"a": {"sem_seg": {"mIoU": 50.0, "mIoU_seen": 60.0, "mIoU_unseen": 40.0,
                                                        "mIoU_hm": 48.0}}, "b": {"sem_seg": {"mIoU": 1.0}}})
    lines = table.splitlines()
    assert len(lines) == 3 and lines[2].split("|")[1].strip() == "a"
    assert [c.strip() for c in lines[2].split("|")[2:-1]] == ["-", "-", "-", "60.0", "40.0", "48.0"]
