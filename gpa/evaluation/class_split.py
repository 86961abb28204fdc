"""Seen / unseen / harmonic-mean scores for datasets whose metadata lists `unseen_classes`.

`unseen_classes` holds the contiguous ids of the classes never annotated in training; every other class of the
dataset is seen. The split scores follow each metric's own averaging rule, restricted to one part:
- mIoU: per-class IoU from SemSegEvaluator's confusion matrix, averaged over the classes of the part present in
  the ground truth (SemSegEvaluator's mIoU convention);
- PQ: panopticapi's per-category statistics averaged over the categories of the part with tp + fp + fn > 0
  (panopticapi's own convention).
The harmonic mean hm = 2 * seen * unseen / (seen + unseen) is high only when both parts are.
"""
from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
import tempfile
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from detectron2.data import MetadataCatalog
from detectron2.evaluation import COCOPanopticEvaluator
from detectron2.utils import comm
from panopticapi.evaluation import PQStat, pq_compute_multi_core
from tabulate import tabulate

from gpa.files import read_json, require_fields

from .semantic_segmentation import MIoUEvaluator

__all__ = [
    "CLASS_SPLIT_METRICS",
    "ClassSplitPanopticEvaluator",
    "ClassSplitSemSegEvaluator",
    "class_split_masks",
    "format_class_split_table",
    "harmonic_mean",
    "has_class_split",
    "per_class_iou",
    "split_miou",
    "split_pq",
]

# task key of the evaluator results -> the split metrics it adds
CLASS_SPLIT_METRICS = {
    "panoptic_seg": ("PQ_seen", "PQ_unseen", "PQ_hm"),
    "sem_seg": ("mIoU_seen", "mIoU_unseen", "mIoU_hm"),
}


def harmonic_mean(a: float, b: float) -> float:
    """2ab / (a + b) of two non-negative scores; 0 when both are 0, NaN when either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return float("nan")
    if a < 0 or b < 0:
        raise ValueError(f"the harmonic mean needs non-negative scores, got {a} and {b}")
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def has_class_split(dataset_name: str) -> bool:
    """Whether the dataset's metadata lists unseen classes (`unseen_classes`, non-empty; a training split that
    holds only seen classes lists none)."""
    return bool(MetadataCatalog.get(dataset_name).get("unseen_classes"))


def class_split_masks(num_classes: int, unseen_classes: Collection[int]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (seen, unseen) masks over contiguous ids 0..num_classes-1; both parts must be non-empty."""
    unseen = [int(c) for c in unseen_classes]
    invalid = [c for c in unseen if not 0 <= c < num_classes]
    if invalid:
        raise ValueError(f"unseen_classes {invalid} are not contiguous class ids 0..{num_classes - 1}")
    if len(set(unseen)) != len(unseen):
        raise ValueError(f"unseen_classes lists a class twice: {sorted(unseen)}")
    if not unseen or len(unseen) == num_classes:
        raise ValueError(f"unseen_classes must hold some but not all of the {num_classes} classes, got {len(unseen)}; "
                         "drop the metadata field for a dataset without a seen/unseen split")
    is_unseen = np.zeros(num_classes, dtype=bool)
    is_unseen[unseen] = True
    return ~is_unseen, is_unseen


def per_class_iou(conf_matrix: np.ndarray) -> np.ndarray:
    """IoU of each class from a SemSegEvaluator confusion matrix (rows: prediction, columns: ground truth,
    the last row and column the ignore label); NaN for classes absent from the ground truth."""
    matrix = np.asarray(conf_matrix, dtype=float)[:-1, :-1]
    tp = matrix.diagonal()
    pos_gt, pos_pred = matrix.sum(axis=0), matrix.sum(axis=1)
    iou = np.full(len(tp), np.nan)
    present = pos_gt > 0
    iou[present] = tp[present] / (pos_gt + pos_pred - tp)[present]
    return iou


def _mean_present(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def split_miou(conf_matrix: np.ndarray, unseen_classes: Collection[int]) -> dict[str, float]:
    """mIoU_seen, mIoU_unseen (%, over the part's classes present in the ground truth) and mIoU_hm."""
    iou = per_class_iou(conf_matrix)
    seen, unseen = class_split_masks(len(iou), unseen_classes)
    result = {"mIoU_seen": 100 * _mean_present(iou[seen]), "mIoU_unseen": 100 * _mean_present(iou[unseen])}
    result["mIoU_hm"] = harmonic_mean(result["mIoU_seen"], result["mIoU_unseen"])
    return result


def split_pq(
    pq_stat: PQStat, categories: Mapping[int, dict], unseen_category_ids: Collection[int]
) -> dict[str, float]:
    """PQ_seen, PQ_unseen (%, panopticapi averages over each part's categories) and PQ_hm.

    `categories` maps dataset category ids to panopticapi category dicts; a part none of whose categories
    occurs in the ground truth or the predictions scores NaN.
    """
    unknown = sorted(set(unseen_category_ids) - set(categories))
    if unknown:
        raise ValueError(f"unseen category ids {unknown} are not categories of the dataset ({sorted(categories)})")
    result = {}
    for part, want_unseen in (("seen", False), ("unseen", True)):
        subset = {c: info for c, info in categories.items() if (c in unseen_category_ids) == want_unseen}
        counted = [c for c in subset if pq_stat[c].tp + pq_stat[c].fp + pq_stat[c].fn > 0]
        result[f"PQ_{part}"] = 100 * pq_stat.pq_average(subset, isthing=None)[0]["pq"] if counted else float("nan")
    result["PQ_hm"] = harmonic_mean(result["PQ_seen"], result["PQ_unseen"])
    return result


class ClassSplitSemSegEvaluator(MIoUEvaluator):
    """MIoUEvaluator (detectron2's SemSegEvaluator without its label-map Boundary IoU) that adds mIoU_seen,
    mIoU_unseen and mIoU_hm from the metadata's `unseen_classes`."""

    def __init__(self, dataset_name: str, *args, unseen_classes: Sequence[int] | None = None, **kwargs) -> None:
        super().__init__(dataset_name, *args, **kwargs)
        self._unseen = _unseen_of(dataset_name, unseen_classes)
        class_split_masks(self._num_classes, self._unseen)  # fail now, not after inference

    def evaluate(self):
        results = super().evaluate()
        if results is None:  # not the main process
            return None
        results["sem_seg"].update(split_miou(self._conf_matrix, self._unseen))
        return results


class ClassSplitPanopticEvaluator(COCOPanopticEvaluator):
    """PQ like detectron2's COCOPanopticEvaluator (All / Things / Stuff), plus PQ_seen, PQ_unseen and PQ_hm.

    Only the images given to `process` are evaluated (the ground truth of the others is left out).
    """

    def __init__(self, dataset_name: str, output_dir: str | None = None,
                 unseen_classes: Sequence[int] | None = None) -> None:
        super().__init__(dataset_name, output_dir)
        self._unseen = _unseen_of(dataset_name, unseen_classes)
        contiguous_to_dataset = {**self._stuff_contiguous_id_to_dataset_id, **self._thing_contiguous_id_to_dataset_id}
        class_split_masks(len(contiguous_to_dataset), self._unseen)
        self._unseen_category_ids = {contiguous_to_dataset[c] for c in self._unseen}

    def evaluate(self):
        comm.synchronize()
        predictions = list(itertools.chain(*comm.gather(self._predictions)))
        if not comm.is_main_process():
            return None
        gt_json = require_fields(read_json(self._metadata.panoptic_json, "panoptic ground truth"),
                                 ("categories", "annotations"), self._metadata.panoptic_json, "panoptic ground truth")
        categories = {c["id"]: c for c in gt_json["categories"]}
        by_image = {p["image_id"]: p for p in predictions}
        gt_annotations = [a for a in gt_json["annotations"] if a["image_id"] in by_image]
        missing = set(by_image) - {a["image_id"] for a in gt_annotations}
        if missing:
            raise ValueError(f"predicted images {sorted(missing)[:5]} have no ground truth in "
                             f"{self._metadata.panoptic_json}")
        with tempfile.TemporaryDirectory(prefix="gpa_class_split_pq") as pred_dir:
            for p in predictions:
                with open(os.path.join(pred_dir, p["file_name"]), "wb") as f:
                    f.write(p["png_string"])
            matched = [(a, _without_png(by_image[a["image_id"]])) for a in gt_annotations]
            with contextlib.redirect_stdout(io.StringIO()):  # panopticapi prints progress
                pq_stat = pq_compute_multi_core(matched, self._metadata.panoptic_root, pred_dir, categories)
        if self._output_dir:
            os.makedirs(self._output_dir, exist_ok=True)
            with open(os.path.join(self._output_dir, "predictions.json"), "w", encoding="utf-8") as f:
                json.dump({**gt_json, "annotations": [m[1] for m in matched]}, f)
        res = {}
        for suffix, isthing in (("", None), ("_th", True), ("_st", False)):
            average = pq_stat.pq_average(categories, isthing=isthing)[0]
            for metric in ("pq", "sq", "rq"):
                res[f"{metric.upper()}{suffix}"] = 100 * average[metric]
        res.update(split_pq(pq_stat, categories, self._unseen_category_ids))
        return OrderedDict({"panoptic_seg": res})


def _without_png(prediction: dict) -> dict:
    return {k: v for k, v in prediction.items() if k != "png_string"}


def _unseen_of(dataset_name: str, unseen_classes: Sequence[int] | None) -> list[int]:
    if unseen_classes is not None:
        return [int(c) for c in unseen_classes]
    unseen = MetadataCatalog.get(dataset_name).get("unseen_classes")
    if unseen is None:
        raise ValueError(f"dataset '{dataset_name}' has no 'unseen_classes' in its metadata; register it with the "
                         "contiguous ids of the classes unseen in training, or pass unseen_classes=[...]")
    return [int(c) for c in unseen]


def format_class_split_table(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str | None:
    """Rows: datasets with split scores; columns: seen / unseen / hm of PQ and mIoU. None when no dataset has any."""
    columns = [(task, metric) for task, metrics in CLASS_SPLIT_METRICS.items() for metric in metrics]
    rows = []
    for dataset, tasks in results.items():
        values = [tasks.get(task, {}).get(metric) for task, metric in columns]
        if any(v is not None for v in values):
            rows.append([dataset] + ["-" if v is None else f"{v:.1f}" for v in values])
    if not rows:
        return None
    return tabulate(rows, headers=["dataset"] + [m for _, m in columns], tablefmt="pipe", stralign="right",
                    disable_numparse=True)
