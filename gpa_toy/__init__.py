"""The procedural toy world, a gpa extension: colour x shape objects on textured backgrounds, with a fixed unseen
split, and a tiny CLIP pretrained on it.

`register()` is the extension's entry point (`toy` in the group `gpa.extensions`), which gpa calls when a config
names it (`EXTENSIONS: [toy]`, as configs/toy/base.yaml does). It registers the datasets `gpa_toy_train` (seen
classes) and `gpa_toy_val` (all classes), whose data is generated into `$GPA_CACHE/toy` (default
`~/.cache/gpa/toy`) the first time one is loaded, the open_clip model `gpa_toy_vit` and its shipped weights
`gpa://toy_clip`. gpa itself never imports this package.
"""
from gpa.modeling.backbone.clip_model_loading import CLIP_WEIGHT_SOURCES, CLIPWeightSource
from gpa.modeling.backbone.open_clip_configs import register_model_configs

from .cache import CACHE_ENV, DEFAULT_SPLITS, ToySplit, default_toy_root, ensure_toy_dataset
from .generate import generate_toy_split, split_paths
from .pretrained_clip import (
    TOY_CLIP_CHECKPOINT,
    TOY_CLIP_CONFIG,
    TOY_CLIP_MODEL,
    TOY_CLIP_SOURCE,
    toy_clip_checkpoint,
)
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
    "TOY_CLIP_CONFIG",
    "TOY_CLIP_MODEL",
    "TOY_CLIP_SOURCE",
    "TOY_DATASETS",
    "UNSEEN_THINGS",
    "ToyClass",
    "ToySplit",
    "default_toy_root",
    "ensure_toy_dataset",
    "generate_toy_split",
    "register",
    "register_toy_clip",
    "register_toy_datasets",
    "split_paths",
    "toy_clip_checkpoint",
    "toy_split_classes",
]


def register_toy_clip() -> None:
    """Register the open_clip model config of `gpa_toy_vit` and its shipped weights as `gpa://toy_clip`."""
    register_model_configs([TOY_CLIP_CONFIG], source="the toy extension, gpa_toy")
    if TOY_CLIP_SOURCE not in CLIP_WEIGHT_SOURCES:
        CLIP_WEIGHT_SOURCES.register_as(TOY_CLIP_SOURCE)(CLIPWeightSource(TOY_CLIP_MODEL, toy_clip_checkpoint))


_registered = False


def register() -> None:
    """The `gpa.extensions` entry point: the toy datasets (under `default_toy_root()` as it is now), the tiny
    CLIP's model config and weights. Calling it again does nothing."""
    global _registered
    if _registered:
        return
    register_toy_datasets()
    register_toy_clip()
    _registered = True
