"""The procedural toy world: colour x shape objects on textured backgrounds, with a fixed unseen split.

`register_toy_datasets()` registers `gpa_toy_train` (seen classes) and `gpa_toy_val` (all classes); their data
is generated into `$GPA_CACHE/toy` (default `~/.cache/gpa/toy`) the first time one is loaded.
"""
from .cache import CACHE_ENV, DEFAULT_SPLITS, ToySplit, default_toy_root, ensure_toy_dataset
from .generate import generate_toy_split, split_paths
from .pretrained_clip import TOY_CLIP_CHECKPOINT, TOY_CLIP_MODEL, toy_clip_checkpoint
from .register import TOY_DATASETS, register_toy_datasets, toy_split_classes
from .world import ALL_CLASSES, SEEN_THINGS, STUFF_CLASSES, THING_CLASSES, UNSEEN_THINGS, ToyClass

__all__ = [
    "ALL_CLASSES",
    "CACHE_ENV",
    "DEFAULT_SPLITS",
    "SEEN_THINGS",
    "STUFF_CLASSES",
    "THING_CLASSES",
    "TOY_CLIP_CHECKPOINT",
    "TOY_CLIP_MODEL",
    "TOY_DATASETS",
    "UNSEEN_THINGS",
    "ToyClass",
    "ToySplit",
    "default_toy_root",
    "ensure_toy_dataset",
    "generate_toy_split",
    "register_toy_datasets",
    "split_paths",
    "toy_clip_checkpoint",
    "toy_split_classes",
]
