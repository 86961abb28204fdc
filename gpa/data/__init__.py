"""Datasets (the builtin benchmarks register on import, reading nothing; an extension's datasets register when a
config loads it, see gpa/extensions.py), class lists, training mappers."""
from .class_file_overrides import apply_class_file_overrides
from .class_metadata import ClassMetadata
from .dataset_classes import DatasetClasses
from .datasets import (
    BUILTIN_DATASETS,
    register_builtin_datasets,
    register_coco_panoptic_format,
    register_semantic_format,
)
from .mappers import build_train_mapper
from .vocabulary import Vocabulary

__all__ = [
    "BUILTIN_DATASETS",
    "ClassMetadata",
    "DatasetClasses",
    "Vocabulary",
    "apply_class_file_overrides",
    "build_train_mapper",
    "register_builtin_datasets",
    "register_coco_panoptic_format",
    "register_semantic_format",
]

register_builtin_datasets()  # under $DETECTRON2_DATASETS (default ./datasets), resolved now
