"""Mask AP with pycocotools (detectron2's COCOEvaluator) for models predicting over all classes."""
from __future__ import annotations

import json

from detectron2.data import MetadataCatalog
from detectron2.evaluation import COCOEvaluator

from .evaluated_images import metadata_view

__all__ = ["InstanceAPEvaluator"]


class InstanceAPEvaluator(COCOEvaluator):
    """COCOEvaluator for instance predictions whose `pred_classes` index all classes of the dataset.

    The model predicts in the contiguous order of every class (things and stuff, Mask2Former's convention),
    while COCOEvaluator expects thing classes numbered 0..T-1: predictions are renumbered here. Only
    mask AP ("segm") is computed, over the images that were evaluated.
    """

    def __init__(self, dataset_name: str, output_dir: str | None = None, max_dets_per_image: int = 100) -> None:
        try:
            super().__init__(dataset_name, tasks=("segm",), distributed=True, output_dir=output_dir,
                             max_dets_per_image=max_dets_per_image)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:  # pycocotools' message names no file
            json_file = MetadataCatalog.get(dataset_name).get("json_file")
            raise ValueError(f"dataset '{dataset_name}': instance annotations {json_file} cannot be read as UTF-8 "
                             f"JSON ({err}); is the file complete? Re-create or re-download it") from err
        # pycocotools' loadRes copies the ground truth's "info", which instance JSONs made for Mask2Former's
        # ADE20K layout lack; an empty one keeps those files usable.
        self._coco_api.dataset.setdefault("info", {})
        things = sorted(self._metadata.thing_dataset_id_to_contiguous_id.items(), key=lambda kv: kv[1])
        if not things:
            raise ValueError(f"dataset '{dataset_name}' has no thing classes; instance AP needs some")
        self._to_thing_rank = {contiguous: rank for rank, (_, contiguous) in enumerate(things)}
        self._dataset_name = dataset_name
        self._metadata = metadata_view(
            self._metadata, thing_dataset_id_to_contiguous_id={d: r for r, (d, _) in enumerate(things)}
        )

    def process(self, inputs, outputs) -> None:
        renumbered = []
        for output in outputs:
            if "instances" in output:
                instances = output["instances"].to(self._cpu_device)
                classes = instances.pred_classes.tolist()
                unknown = sorted({c for c in classes if c not in self._to_thing_rank})
                if unknown:
                    raise ValueError(f"instance predictions of classes {unknown}, which are not thing classes of "
                                     f"'{self._dataset_name}' (things: {sorted(self._to_thing_rank)})")
                instances.pred_classes = instances.pred_classes.new_tensor([self._to_thing_rank[c] for c in classes])
                output = {**output, "instances": instances}
            renumbered.append(output)
        super().process(inputs, renumbered)

    def _eval_predictions(self, predictions, img_ids=None):
        if img_ids is None:
            img_ids = sorted({p["image_id"] for p in predictions}, key=str)
        return super()._eval_predictions(predictions, img_ids=img_ids)
