"""Evaluation inputs read by gpa's image reader and resized as the Predictor resizes them."""

from __future__ import annotations

from typing import Any

from detectron2.config import CfgNode
from detectron2.data import detection_utils

from gpa.data.image_files import read_image_file
from gpa.inference.images import ImagePreprocessor

__all__ = ["EvaluationMapper"]


class EvaluationMapper:
    """A dataset record -> a model input: the image read with `read_image_file` (16-bit grayscale scaled, not
    saturated; oversized headers refused; errors name the file), its shortest edge resized to INPUT.MIN_SIZE_TEST
    (as detectron2's test DatasetMapper; the same numbers for 8-bit images). Annotations are left out: the
    evaluators read the ground truth themselves."""

    def __init__(self, preprocessor: ImagePreprocessor) -> None:
        self.preprocessor = preprocessor

    @classmethod
    def from_config(cls, cfg: CfgNode) -> EvaluationMapper:
        return cls(ImagePreprocessor.from_config(cfg))

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        rgb = read_image_file(record["file_name"])
        detection_utils.check_image_size(record, rgb)
        mapped = {k: v for k, v in record.items() if k not in ("annotations", "sem_seg_file_name")}
        mapped.update(self.preprocessor(rgb))
        return mapped
