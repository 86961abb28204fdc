"""Training mapper for panoptic datasets: LSJ augmentation, one target per non-crowd segment."""
from __future__ import annotations

import copy

import detectron2.data.transforms as T
import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import detection_utils as utils
from detectron2.structures import BitMasks, Instances
from panopticapi.utils import rgb2id

from ..image_files import read_image_file
from .lsj import build_lsj_augmentation, transform_label_map

__all__ = ["PanopticLSJDatasetMapper"]

VOID_SEGMENT_ID = 0  # panoptic PNGs encode unlabeled pixels as id 0; crop padding gets the same id


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
            "augmentations": build_lsj_augmentation(
                cfg.INPUT.IMAGE_SIZE, cfg.INPUT.MIN_SCALE, cfg.INPUT.MAX_SCALE, cfg.INPUT.RANDOM_FLIP,
                seg_pad_value=VOID_SEGMENT_ID,
            ),
            "image_format": cfg.INPUT.FORMAT,
        }

    def __call__(self, dataset_dict: dict) -> dict:
        record = copy.deepcopy(dataset_dict)
        image = read_image_file(record["file_name"], self.image_format)
        utils.check_image_size(record, image)
        image_size = image.shape[:2]
        aug_input = T.AugInput(image)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        record["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        if not self.is_train:
            for key in ("segments_info", "pan_seg_file_name", "sem_seg_file_name", "annotations"):
                record.pop(key, None)
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
        instances = Instances(image.shape[:2])
        instances.gt_classes = torch.tensor([s["category_id"] for s in kept], dtype=torch.int64)
        if kept:
            masks = torch.stack([segment_map == s["id"] for s in kept])
        else:
            masks = torch.zeros((0, *image.shape[:2]), dtype=torch.bool)
        instances.gt_masks = BitMasks(masks)
        record["instances"] = instances
        return record
