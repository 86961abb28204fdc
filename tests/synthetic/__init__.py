"""Writers of tiny datasets in the official on-disk formats, for tests of every part of the project.

Each writer puts a few generated images (simple shapes of a few classes) in one benchmark's exact release
or prepared layout and returns the paths it wrote.
"""
from .ade20k import write_ade20k_full_raw, write_ade20k_raw
from .cityscapes import write_cityscapes_raw
from .coco import (
    DEFAULT_COCO_CATEGORIES,
    instances_json_from_panoptic,
    register_written_coco_panoptic,
    write_coco_panoptic,
)
from .mapillary import write_mapillary_raw
from .pascal import write_pascal_context_raw, write_pascal_voc_raw
from .scenes import Scene, random_scene

__all__ = [
    "DEFAULT_COCO_CATEGORIES",
    "Scene",
    "instances_json_from_panoptic",
    "random_scene",
    "register_written_coco_panoptic",
    "write_ade20k_full_raw",
    "write_ade20k_raw",
    "write_cityscapes_raw",
    "write_coco_panoptic",
    "write_mapillary_raw",
    "write_pascal_context_raw",
    "write_pascal_voc_raw",
]
