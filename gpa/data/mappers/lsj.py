"""Large-scale jitter: random flip, resize by a random scale of the crop size, fixed-size crop/pad."""
from __future__ import annotations

import detectron2.data.transforms as T
import numpy as np
import torch

__all__ = ["build_lsj_augmentation", "transform_label_map"]

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


def transform_label_map(transforms: T.TransformList, label_map: np.ndarray) -> torch.Tensor:
    """Apply the geometric transforms to an integer label map exactly (nearest resize, `seg_pad_value` pad).

    detectron2 resizes non-uint8 arrays with torch, which has no nearest kernel for integer types; float64
    holds every 32-bit id exactly, so the map goes through float64 and comes back as int64.
    """
    out = transforms.apply_segmentation(label_map.astype(np.float64))
    return torch.from_numpy(np.ascontiguousarray(out)).long()
