"""Writers of tiny datasets in the official on-disk formats, for tests of every part of the project."""
from .coco import DEFAULT_COCO_CATEGORIES, instances_json_from_panoptic, write_coco_panoptic
from .scenes import Scene, random_scene

__all__ = ["DEFAULT_COCO_CATEGORIES", "Scene", "instances_json_from_panoptic", "random_scene", "write_coco_panoptic"]
