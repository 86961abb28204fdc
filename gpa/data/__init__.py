"""Datasets (registration on import), class lists, and training mappers."""
from .class_metadata import ClassMetadata
from .dataset_classes import DatasetClasses
from .datasets import register_coco_panoptic_format, register_semantic_format
from .mappers import build_train_mapper
from .vocabulary import Vocabulary

__all__ = [
    "ClassMetadata",
    "DatasetClasses",
    "Vocabulary",
    "build_train_mapper",
    "register_coco_panoptic_format",
    "register_semantic_format",
]
