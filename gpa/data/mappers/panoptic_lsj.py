"""Training mapper for panoptic datasets: LSJ augmentation, one target per non-crowd segment."""
from __future__ import annotations

import detectron2.data.transforms as T
from detectron2.config import configurable
from panopticapi.utils import rgb2id

from ..image_files import read_image_file
from .build import MAPPER_REGISTRY
from .lsj import (
    lsj_augmentation_from_config,
    read_and_augment,
    targets_from_label_map,
    transform_label_map,
)

__all__ = ["PanopticLSJDatasetMapper"]

VOID_SEGMENT_ID = 0  # panoptic PNGs encode unlabeled pixels as id 0; crop padding gets the same id


@MAPPER_REGISTRY.register_as("panoptic_lsj")
class PanopticLSJDatasetMapper:
    """Record -> {"image": uint8 CHW tensor, "instances": gt_classes (contiguous), gt_masks (BitMasks)}.

    Crowd segments are dropped (their pixels belong to no target). At test time only the image is produced.
    """

    @configurable
    def __init__(self, is_train: bool = True, *, augmentations: list[T.Augmentation], image_format: str) -> None:
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format

    @classmethod
    def from_config(cls, cfg, is_train: bool = True) -> dict:
        return {
            "is_train": is_train,
            "augmentations": lsj_augmentation_from_config(cfg, seg_pad_value=VOID_SEGMENT_ID),
            "image_format": cfg.INPUT.FORMAT,
        }

    def __call__(self, dataset_dict: dict) -> dict:
        record, transforms, image_size = read_and_augment(
            dataset_dict, self.augmentations, self.image_format, self.is_train
        )
        if not self.is_train:
            return record
        if "pan_seg_file_name" not in record:
            raise KeyError(f"{record['file_name']}: the panoptic mapper needs 'pan_seg_file_name'; use the "
                           "'semantic_lsj' mapper (INPUT.DATASET_MAPPER_NAME) for semantic-only datasets")
        panoptic_png = record.pop("pan_seg_file_name")
        segment_map = rgb2id(read_image_file(panoptic_png, "RGB"))
        if segment_map.shape != image_size:  # the crop would silently misalign masks and pixels
            raise ValueError(f"{panoptic_png}: the panoptic PNG is {segment_map.shape[1]}x{segment_map.shape[0]} but "
                             f"its image {record['file_name']} is {image_size[1]}x{image_size[0]}")
        segment_map = transform_label_map(transforms, segment_map)

        kept = [s for s in record.pop("segments_info") if not s.get("iscrowd", 0)]
        record["instances"] = targets_from_label_map(
            segment_map, [s["id"] for s in kept], [s["category_id"] for s in kept]
        )
        return record
