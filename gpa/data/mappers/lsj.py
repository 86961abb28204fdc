"""Large-scale jitter: random flip, resize by a random scale of the crop size, fixed-size crop/pad; and the steps
both LSJ training mappers share (read and augment the image, one target mask per label value)."""
from __future__ import annotations

import copy

import detectron2.data.transforms as T
import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import detection_utils as utils
from detectron2.structures import BitMasks, Instances

from ..image_files import read_image_file

__all__ = [
    "build_lsj_augmentation",
    "lsj_augmentation_from_config",
    "read_and_augment",
    "targets_from_label_map",
    "transform_label_map",
]

_TEST_TIME_DROPPED_KEYS = ("segments_info", "pan_seg_file_name", "sem_seg_file_name", "annotations")  # labels

_FLIPS = {"horizontal": dict(horizontal=True, vertical=False), "vertical": dict(horizontal=False, vertical=True)}


def build_lsj_augmentation(
    image_size: int, min_scale: float, max_scale: float, random_flip: str, seg_pad_value: int
) -> list[T.Augmentation]:
    """The augmentation list; `seg_pad_value` fills label maps where the crop pads the image."""
    if not 0 < min_scale <= max_scale:
        raise ValueError(f"INPUT.MIN_SCALE/MAX_SCALE must satisfy 0 < min <= max, got {min_scale}, {max_scale}")
    if image_size <= 0:
        raise ValueError(f"INPUT.IMAGE_SIZE must be positive, got {image_size}")
    augs: list[T.Augmentation] = []
    if random_flip != "none":
        if random_flip not in _FLIPS:
            raise ValueError(f"INPUT.RANDOM_FLIP={random_flip!r}; valid: {sorted(_FLIPS) + ['none']}")
        augs.append(T.RandomFlip(**_FLIPS[random_flip]))
    augs += [
        T.ResizeScale(min_scale=min_scale, max_scale=max_scale, target_height=image_size, target_width=image_size),
        T.FixedSizeCrop(crop_size=(image_size, image_size), seg_pad_value=seg_pad_value),
    ]
    return augs


def lsj_augmentation_from_config(cfg: CfgNode, seg_pad_value: int) -> list[T.Augmentation]:
    """`build_lsj_augmentation` with INPUT.IMAGE_SIZE, MIN_SCALE, MAX_SCALE and RANDOM_FLIP."""
    return build_lsj_augmentation(
        cfg.INPUT.IMAGE_SIZE, cfg.INPUT.MIN_SCALE, cfg.INPUT.MAX_SCALE, cfg.INPUT.RANDOM_FLIP, seg_pad_value
    )


def transform_label_map(transforms: T.TransformList, label_map: np.ndarray) -> torch.Tensor:
    """Apply the geometric transforms to an integer label map exactly (nearest resize, `seg_pad_value` pad).

    detectron2 resizes non-uint8 arrays with torch, which has no nearest kernel for integer types; float64
    holds every 32-bit id exactly, so the map goes through float64 and comes back as int64.
    """
    out = transforms.apply_segmentation(label_map.astype(np.float64))
    return torch.from_numpy(np.ascontiguousarray(out)).long()


def read_and_augment(
    dataset_dict: dict, augmentations: T.AugmentationList, image_format: str, is_train: bool
) -> tuple[dict, T.TransformList, tuple[int, int]]:
    """A copy of the record with its image read (size checked against the record's), augmented and stored as
    "image" (uint8 CHW tensor); at test time without its label keys. Returns (record, the transforms applied,
    the image size before them)."""
    record = copy.deepcopy(dataset_dict)
    image = read_image_file(record["file_name"], image_format)
    utils.check_image_size(record, image)
    image_size = image.shape[:2]
    aug_input = T.AugInput(image)
    transforms = augmentations(aug_input)
    record["image"] = torch.as_tensor(np.ascontiguousarray(aug_input.image.transpose(2, 0, 1)))
    if not is_train:
        for key in _TEST_TIME_DROPPED_KEYS:
            record.pop(key, None)
    return record, transforms, image_size


def targets_from_label_map(label_map: torch.Tensor, values: list[int], classes: list[int]) -> Instances:
    """One target per label value: mask `label_map == values[i]`, class `classes[i]` (BitMasks, int64 classes)."""
    instances = Instances(tuple(label_map.shape))
    instances.gt_classes = torch.tensor(classes, dtype=torch.int64)
    if values:
        masks = torch.stack([label_map == v for v in values])
    else:
        masks = torch.zeros((0, *label_map.shape), dtype=torch.bool)
    instances.gt_masks = BitMasks(masks)
    return instances
