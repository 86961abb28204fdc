"""Create the open_clip model from MODEL.CLIP.MODEL_NAME / PRETRAINED, validating both first.

PRETRAINED is one of: "" (random init), an existing local checkpoint file (.pt/.pth/.bin/.safetensors
holding an open_clip state dict), a checkpoint shipped with gpa ("gpa://<name>", see PACKAGE_CHECKPOINTS;
found relative to the package, so it works from any working directory), or an open_clip pretrained tag.
Tags download on local rank 0 first while the other ranks wait on a barrier, then every rank loads from the cache.
Names and tags are checked before anything is downloaded.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import open_clip
from detectron2.utils import comm
from open_clip.pretrained import download_pretrained, get_pretrained_cfg
from torch import nn

from gpa.data.toy.pretrained_clip import TOY_CLIP_MODEL, toy_clip_checkpoint

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "PACKAGE_CHECKPOINTS",
    "PACKAGE_SCHEME",
    "PretrainedSource",
    "resolve_pretrained",
    "create_clip_model",
]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
PACKAGE_SCHEME = "gpa://"
# "gpa://<name>" -> (the open_clip model the weights belong to, a function returning the file's path)
PACKAGE_CHECKPOINTS: dict[str, tuple[str, Callable[[], Path]]] = {
    "toy_clip": (TOY_CLIP_MODEL, toy_clip_checkpoint),
}


@dataclass(frozen=True)
class PretrainedSource:
    """Where the weights come from: kind is "random", "file" or "tag"; value the path or tag."""

    kind: str
    value: str = ""


def _looks_like_path(value: str) -> bool:
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return any(sep in value for sep in separators) or value.lower().endswith(CHECKPOINT_SUFFIXES)


def resolve_pretrained(model_name: str, pretrained: str) -> PretrainedSource:
    """Validate the model name and classify `pretrained`; raises before any download."""
    models = open_clip.list_models()
    if model_name not in models:
        raise ValueError(
            f"unknown open_clip model {model_name!r} (MODEL.CLIP.MODEL_NAME); valid names: {', '.join(models)}. "
            "Custom configs: add their JSON files to MODEL.CLIP.MODEL_CONFIG_FILES"
        )
    if not pretrained:
        return PretrainedSource("random")
    if pretrained.startswith(PACKAGE_SCHEME):
        return PretrainedSource("file", str(_package_checkpoint(model_name, pretrained)))
    if Path(pretrained).expanduser().is_file():
        return PretrainedSource("file", str(Path(pretrained).expanduser()))
    if _looks_like_path(pretrained):
        raise FileNotFoundError(f"CLIP checkpoint {pretrained} (MODEL.CLIP.PRETRAINED) does not exist")
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if pretrained not in tags:
        valid = ", ".join(tags) if tags else "none (use a local checkpoint file, or an empty value for random init)"
        raise ValueError(
            f"unknown pretrained tag {pretrained!r} for {model_name} (MODEL.CLIP.PRETRAINED); valid tags: {valid}"
        )
    return PretrainedSource("tag", pretrained)


def _package_checkpoint(model_name: str, pretrained: str) -> Path:
    """The file of a "gpa://<name>" checkpoint, checked against the model it was trained for."""
    name = pretrained[len(PACKAGE_SCHEME):]
    if name not in PACKAGE_CHECKPOINTS:
        valid = ", ".join(PACKAGE_SCHEME + n for n in PACKAGE_CHECKPOINTS)
        raise ValueError(f"unknown packaged checkpoint {pretrained!r} (MODEL.CLIP.PRETRAINED); valid: {valid}")
    owner, locate = PACKAGE_CHECKPOINTS[name]
    if model_name != owner:
        raise ValueError(
            f"{pretrained} holds weights of the open_clip model {owner!r}, but MODEL.CLIP.MODEL_NAME is "
            f"{model_name!r}; set MODEL.CLIP.MODEL_NAME {owner}"
        )
    return locate()


def create_clip_model(model_name: str, pretrained: str = "", cache_dir: str = "") -> nn.Module:
    """Build the open_clip model (fp32, CPU) with the weights `pretrained` names."""
    source = resolve_pretrained(model_name, pretrained)
    cache = cache_dir or None
    if source.kind == "tag":
        if comm.get_local_rank() == 0:
            download_pretrained(get_pretrained_cfg(model_name, source.value), cache_dir=cache)
        comm.synchronize()
    return open_clip.create_model(model_name, pretrained=source.value or None, cache_dir=cache)
