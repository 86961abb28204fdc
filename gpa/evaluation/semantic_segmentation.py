"""mIoU, fwIoU, mACC and pACC as detectron2's SemSegEvaluator computes them, without its Boundary IoU.

detectron2's SemSegEvaluator (since 0.6) also reports "BoundaryIoU-<class>" and "min(IoU, B-Iou)-<class>". It
erodes the whole label map as one uint8 image and subtracts, so a boundary pixel carries the difference of two
class ids, not a class: the scores land on classes that are not in the image (`label_map_boundary_classes`
shows it, tests/evaluation/test_semantic_segmentation.py pins it). gpa leaves these keys out instead of reporting
them; every other figure is SemSegEvaluator's own.
"""
from __future__ import annotations

import numpy as np
from detectron2.evaluation import SemSegEvaluator

__all__ = ["MIoUEvaluator", "label_map_boundary_classes"]


class MIoUEvaluator(SemSegEvaluator):
    """detectron2's SemSegEvaluator with its label-map Boundary IoU switched off (see the module docstring)."""

    def __init__(self, dataset_name: str, *args, **kwargs) -> None:
        super().__init__(dataset_name, *args, **kwargs)
        # SemSegEvaluator's own switch (it turns it off itself without OpenCV or with >= 255 classes)
        self._compute_boundary_iou = False


def label_map_boundary_classes(labels: np.ndarray) -> set[int]:
    """The "classes" SemSegEvaluator's Boundary IoU assigns boundary pixels of a label map to (its
    `_mask_to_boundary` on the whole map): values of map - eroded map, which need not be classes of the map."""
    boundary = SemSegEvaluator._mask_to_boundary(None, labels.astype(np.uint8))
    return {int(v) for v in np.unique(boundary) if v != 0}
