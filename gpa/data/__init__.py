"""Datasets (the builtin benchmarks register on import, reading nothing; an extension's datasets register when a
config loads it, see gpa/extensions.py), their named vocabularies, training mappers. Vocabularies and class
lists themselves are gpa.vocabulary."""
from .datasets import (
    BUILTIN_DATASETS,
    BUILTIN_VOCABULARIES,
    builtin_vocabulary,
    register_builtin_datasets,
    register_coco_panoptic_format,
    register_semantic_format,
)
from .mappers import build_train_mapper

__all__ = [
    "BUILTIN_DATASETS",
    "BUILTIN_VOCABULARIES",
    "build_train_mapper",
    "builtin_vocabulary",
    "register_builtin_datasets",
    "register_coco_panoptic_format",
    "register_semantic_format",
]

register_builtin_datasets()  # under $DETECTRON2_DATASETS (default ./datasets), resolved now
