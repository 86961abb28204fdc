"""PQ with panopticapi (detectron2's COCOPanopticEvaluator) over the images actually evaluated."""
from __future__ import annotations

import json
import os
import tempfile

from detectron2.evaluation import COCOPanopticEvaluator
from detectron2.utils import comm

from gpa.files import read_json, require_fields

from .evaluated_images import gather_image_ids, metadata_view

__all__ = ["PanopticQualityEvaluator"]


class PanopticQualityEvaluator(COCOPanopticEvaluator):
    """COCOPanopticEvaluator whose ground truth is limited to the images it was given.

    panopticapi's pq_compute fails on any ground-truth image without a prediction, so evaluating the first
    N images (TEST.MAX_EVAL_IMAGES) needs the ground-truth JSON cut to those images.
    """

    def reset(self) -> None:
        super().reset()
        self._image_ids: list = []

    def process(self, inputs, outputs) -> None:
        super().process(inputs, outputs)
        self._image_ids.extend(x["image_id"] for x in inputs)

    def evaluate(self):
        evaluated = gather_image_ids(self._image_ids)
        full = self._metadata
        with tempfile.TemporaryDirectory(prefix="gpa_pq_gt") as tmp:
            if comm.is_main_process():
                gt = require_fields(read_json(full.panoptic_json, "panoptic ground truth"), ("images", "annotations"),
                                    full.panoptic_json, "panoptic ground truth")
                if {a["image_id"] for a in gt["annotations"]} != evaluated:
                    gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in evaluated]
                    gt["images"] = [i for i in gt["images"] if i["id"] in evaluated]
                    subset = os.path.join(tmp, "panoptic_gt_subset.json")
                    with open(subset, "w", encoding="utf-8") as f:
                        json.dump(gt, f)
                    self._metadata = metadata_view(full, panoptic_json=subset)
            try:
                return super().evaluate()
            finally:
                self._metadata = full
