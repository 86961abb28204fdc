"""Create the open_clip model from MODEL.CLIP.MODEL_NAME / PRETRAINED, validating both first.

PRETRAINED is one of: "" (random init), an existing local checkpoint file (.pt/.pth/.bin/.safetensors
holding an open_clip state dict), "gpa://<name>": weights a package ships and registers in CLIP_WEIGHT_SOURCES
(found relative to that package, so it works from any working directory; gpa's extensions register theirs
when a config loads them, e.g. the toy world's "gpa://toy_clip"), or an open_clip pretrained tag.
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

from gpa.extensions import CONFIG_KEY as EXTENSIONS_KEY
from gpa.extensions import installed_extensions
from gpa.registry import NamedRegistry

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "CLIP_WEIGHT_SOURCES",
    "CLIPWeightSource",
    "PACKAGE_SCHEME",
    "PretrainedSource",
    "resolve_pretrained",
    "create_clip_model",
]

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
PACKAGE_SCHEME = "gpa://"


@dataclass(frozen=True)
class CLIPWeightSource:
    """Weights shipped with a package, named "gpa://<name>" in MODEL.CLIP.PRETRAINED.

    model_name: the open_clip model the weights belong to (MODEL.CLIP.MODEL_NAME must name it).
    locate: returns the checkpoint file (an open_clip state dict); raises FileNotFoundError saying how to make
        it when it is missing.
    """

    model_name: str
    locate: Callable[[], Path]


# "gpa://<name>" -> its CLIPWeightSource; `CLIP_WEIGHT_SOURCES.register_as("name")(CLIPWeightSource(...))`
CLIP_WEIGHT_SOURCES = NamedRegistry("CLIP_WEIGHT_SOURCES", "CLIP weight source")


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
            "Custom configs: add their JSON files to MODEL.CLIP.MODEL_CONFIG_FILES; the models of an extension are "
            f"registered when the config names the extension in {EXTENSIONS_KEY} (installed extensions: "
            f"{_installed_names()})"
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


def _installed_names() -> str:
    return ", ".join(installed_extensions()) or "none"


def _package_checkpoint(model_name: str, pretrained: str) -> Path:
    """The file of a "gpa://<name>" checkpoint, checked against the model it was trained for."""
    name = pretrained[len(PACKAGE_SCHEME):]
    if name not in CLIP_WEIGHT_SOURCES:
        registered = ", ".join(PACKAGE_SCHEME + n for n in CLIP_WEIGHT_SOURCES.names()) or "none"
        raise ValueError(
            f"unknown CLIP weight source {pretrained!r} (MODEL.CLIP.PRETRAINED); registered: {registered}. "
            "Weights shipped by an extension are registered when the config loads it: add the extension that "
            f"provides {pretrained} to {EXTENSIONS_KEY} (installed extensions: {_installed_names()})"
        )
    source: CLIPWeightSource = CLIP_WEIGHT_SOURCES.get(name)
    if model_name != source.model_name:
        raise ValueError(
            f"{pretrained} holds weights of the open_clip model {source.model_name!r}, but MODEL.CLIP.MODEL_NAME is "
            f"{model_name!r}; set MODEL.CLIP.MODEL_NAME {source.model_name}"
        )
    return source.locate()


def create_clip_model(model_name: str, pretrained: str = "", cache_dir: str = "") -> nn.Module:
    """Build the open_clip model (fp32, CPU) with the weights `pretrained` names."""
    source = resolve_pretrained(model_name, pretrained)
    cache = cache_dir or None
    if source.kind == "tag":
        if comm.get_local_rank() == 0:
            download_pretrained(get_pretrained_cfg(model_name, source.value), cache_dir=cache)
        comm.synchronize()
    return open_clip.create_model(model_name, pretrained=source.value or None, cache_dir=cache)
