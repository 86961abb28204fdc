"""Cityscapes mask AP with cityscapesscripts (detectron2's CityscapesInstanceEvaluator)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from detectron2.evaluation import CityscapesInstanceEvaluator
from detectron2.utils import comm

from .evaluated_images import gather_image_ids, metadata_view

__all__ = ["CityscapesInstanceAPEvaluator"]


class CityscapesInstanceAPEvaluator(CityscapesInstanceEvaluator):
    """CityscapesInstanceEvaluator for predictions in gpa's contiguous order, over the evaluated images.

    detectron2 names a predicted class by `thing_classes[pred_class]` and looks that name up in
    cityscapesscripts; here the lookup goes through the dataset ids (Cityscapes label ids) instead, so
    renamed vocabularies (class-file overrides) still map to the right label. The ground truth the
    script reads is limited to the evaluated images.
    """

    def __init__(self, dataset_name: str) -> None:
        from cityscapesscripts.helpers.labels import id2label

        super().__init__(dataset_name)
        by_contiguous = sorted(self._metadata.stuff_dataset_id_to_contiguous_id.items(), key=lambda kv: kv[1])
        self._full_metadata = self._metadata
        self._metadata = metadata_view(self._metadata, thing_classes=[id2label[d].name for d, _ in by_contiguous])

    def reset(self) -> None:
        super().reset()
        self._gt_stems: list[str] = []

    def process(self, inputs, outputs) -> None:
        super().process(inputs, outputs)
        self._gt_stems.extend(str(x["image_id"]) for x in inputs)

    def evaluate(self):
        evaluated = gather_image_ids(self._gt_stems)
        view = self._metadata
        with tempfile.TemporaryDirectory(prefix="gpa_cityscapes_gt") as tmp:
            if comm.is_main_process():
                for stem in sorted(evaluated):
                    city = stem.split("_")[0]
                    src = Path(view.gt_dir) / city / f"{stem}_gtFine_instanceIds.png"
                    (Path(tmp) / city).mkdir(exist_ok=True)
                    os.symlink(src.resolve(), Path(tmp) / city / src.name)
                self._metadata = metadata_view(view, gt_dir=tmp)
            try:
                # cityscapesscripts writes "matches.json" into the working directory; keep it in tmp
                with contextlib.chdir(tmp):
                    return super().evaluate()
            finally:
                self._metadata = view
