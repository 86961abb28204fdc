"""COCO: semantic labels derived from the panoptic annotations (for mIoU and semantic training)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from panopticapi.utils import rgb2id

from ...files import read_json, require_fields
from ..datasets.class_sources import coco_panoptic_classes
from ..datasets.loaders import require_path
from .common import (
    PrepareSummary,
    base_parser,
    is_done,
    progress,
    read_rgb_image,
    resolve_root,
    save_label_image,
)

__all__ = ["main", "semantic_from_panoptic"]

IGNORE = 255


def semantic_from_panoptic(
    panoptic_json: Path, panoptic_root: Path, out_root: Path, id_to_contiguous: Mapping[int, int],
    summary: PrepareSummary,
) -> None:
    """Write `out_root/<stem>.png`: each segment's contiguous class id (crowds included), 255 where unlabeled."""
    if max(id_to_contiguous.values()) >= IGNORE:
        raise ValueError(f"{len(id_to_contiguous)} classes do not fit 8-bit labels with {IGNORE} as ignore")
    annotations = require_fields(read_json(panoptic_json, "panoptic json"), ("annotations",), panoptic_json,
                                 "panoptic json")["annotations"]
    for ann in progress(annotations, f"semantic from {panoptic_json.name}"):
        out = out_root / (Path(ann["file_name"]).stem + ".png")
        if is_done(out):
            summary.skip("labels")
            continue
        ids = rgb2id(read_rgb_image(panoptic_root / ann["file_name"]))
        labels = np.full(ids.shape, IGNORE, dtype=np.uint8)
        for seg in ann["segments_info"]:
            if seg["category_id"] not in id_to_contiguous:
                raise ValueError(f"{panoptic_json}: {ann['file_name']} has category {seg['category_id']}, "
                                 "unknown to the class list")
            labels[ids == seg["id"]] = id_to_contiguous[seg["category_id"]]
        save_label_image(labels, out)
        summary.wrote("labels")
        summary.saw(np.unique(labels[labels != IGNORE]))


def main(argv: Sequence[str] | None = None) -> PrepareSummary:
    parser = base_parser("Derive COCO semantic labels (coco/panoptic_semseg_{split}2017) from panoptic PNGs.")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=["train", "val"])
    args = parser.parse_args(argv)
    coco = resolve_root(args.root) / "coco"
    classes = coco_panoptic_classes()
    id_map = {d: i for i, d in enumerate(classes.dataset_ids)}
    summary = PrepareSummary("COCO semantic labels from panoptic", num_classes=len(classes))
    for split in args.splits:
        hint = "download panoptic_annotations_trainval2017.zip from cocodataset.org and unzip it into coco/"
        pan_json = require_path(coco / "annotations" / f"panoptic_{split}2017.json", "coco", hint)
        pan_root = require_path(coco / f"panoptic_{split}2017", "coco", hint + " (and its panoptic_*.zip)")
        semantic_from_panoptic(pan_json, pan_root, coco / f"panoptic_semseg_{split}2017", id_map, summary)
    summary.print()
    return summary
