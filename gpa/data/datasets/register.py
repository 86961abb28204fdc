"""Generic register functions: every builtin and every generated test dataset goes through these."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from detectron2.data import DatasetCatalog, MetadataCatalog

from gpa.vocabulary import ClassMetadata, DatasetClasses

from .class_sources import panoptic_json_classes
from .loaders import ImageEntry, load_panoptic_json, load_semantic_folders

__all__ = ["ClassSource", "register_coco_panoptic_format", "register_semantic_format"]

ClassSource = DatasetClasses | Callable[[], DatasetClasses]


def _as_source(classes: ClassSource) -> Callable[[], DatasetClasses]:
    if isinstance(classes, DatasetClasses):
        return lambda: classes
    if callable(classes):
        return classes
    raise TypeError(f"classes must be DatasetClasses or a function returning one, got {type(classes).__name__}")


def _register(name: str, loader: Callable[[], list[dict]], metadata: ClassMetadata, replace: bool) -> None:
    if name in DatasetCatalog.list() or name in MetadataCatalog.list():
        if not replace:
            raise ValueError(f"dataset '{name}' is already registered; pick another name or pass replace=True")
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
        if name in MetadataCatalog.list():
            MetadataCatalog.remove(name)
    DatasetCatalog.register(name, loader)
    MetadataCatalog[name] = metadata


def register_coco_panoptic_format(
    name: str,
    *,
    image_root: str | Path,
    panoptic_root: str | Path,
    panoptic_json: str | Path,
    sem_seg_root: str | Path | None = None,
    instances_json: str | Path | None = None,
    classes: ClassSource | None = None,
    evaluator_type: str = "coco_panoptic_seg",
    ignore_label: int = 255,
    label_divisor: int = 1000,
    image_path: Callable[[ImageEntry], str] | None = None,
    sem_seg_path: Callable[[ImageEntry], str] | None = None,
    hints: Mapping[str, str] | None = None,
    replace: bool = False,
    **extra_metadata: Any,
) -> None:
    """Register a dataset stored in COCO panoptic format (JSON + RGB-encoded PNGs), without reading it now.

    `classes` defaults to the panoptic JSON's own "categories" (read on first use). Optional
    `sem_seg_root` holds semantic PNGs in the contiguous order (for mIoU and semantic training) and
    `instances_json` COCO instance annotations (for AP). `image_path`/`sem_seg_path` place an image entry's
    files relative to their roots (default: the entry's file name; the annotation's stem + ".png").
    """
    panoptic_json = Path(panoptic_json)
    hints = dict(hints or {})
    source = _as_source(classes) if classes is not None else (
        lambda: panoptic_json_classes(panoptic_json, name, hints.get("panoptic_json", ""))
    )
    fields: dict[str, Any] = {
        "image_root": str(image_root),
        "panoptic_root": str(panoptic_root),
        "panoptic_json": str(panoptic_json),
        "evaluator_type": evaluator_type,
        "ignore_label": ignore_label,
        "label_divisor": label_divisor,
        **extra_metadata,
    }
    if sem_seg_root is not None:
        fields["sem_seg_root"] = str(sem_seg_root)
    if instances_json is not None:
        fields["json_file"] = str(instances_json)
    metadata = ClassMetadata(name, source, **fields)
    optional = {k: v for k, v in (("image_path", image_path), ("sem_seg_path", sem_seg_path)) if v is not None}

    def load() -> list[dict]:
        return load_panoptic_json(
            name, panoptic_json, image_root, panoptic_root, metadata, sem_seg_root=sem_seg_root, hints=hints,
            **optional,
        )

    _register(name, load, metadata, replace)


def register_semantic_format(
    name: str,
    *,
    image_root: str | Path,
    sem_seg_root: str | Path,
    classes: ClassSource,
    image_ext: str = ".jpg",
    label_ext: str = ".png",
    ignore_label: int = 255,
    evaluator_type: str = "sem_seg",
    hints: Mapping[str, str] | None = None,
    replace: bool = False,
    **extra_metadata: Any,
) -> None:
    """Register a semantic dataset: images and same-stem label files of contiguous ids (`ignore_label` = void)."""
    hints = dict(hints or {})
    metadata = ClassMetadata(
        name,
        _as_source(classes),
        image_root=str(image_root),
        sem_seg_root=str(sem_seg_root),
        evaluator_type=evaluator_type,
        ignore_label=ignore_label,
        **extra_metadata,
    )

    def load() -> list[dict]:
        return load_semantic_folders(name, image_root, sem_seg_root, image_ext, label_ext, hints=hints)

    _register(name, load, metadata, replace)
