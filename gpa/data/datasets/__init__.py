"""Dataset registration: generic register functions and the table of builtin benchmarks."""
from .loaders import load_panoptic_json, load_semantic_folders, require_path
from .register import register_coco_panoptic_format, register_semantic_format

__all__ = [
    "load_panoptic_json",
    "load_semantic_folders",
    "register_coco_panoptic_format",
    "register_semantic_format",
    "require_path",
]
