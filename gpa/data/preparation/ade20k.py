"""ADE20K-150: semantic labels shifted to 0..149 (255 = other), and panoptic + instance annotations
combined from the semantic and the instance-challenge annotations."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from panopticapi.utils import id2rgb, rgb2id
from pycocotools import mask as mask_utils

from ...files import read_text
from ..datasets.class_sources import read_object_info_150
from ..datasets.loaders import require_path
from .common import (
    PrepareSummary,
    base_parser,
    is_done,
    progress,
    read_label_image,
    read_rgb_image,
    resolve_root,
    save_json,
    save_label_image,
)

__all__ = ["main_panoptic", "main_semantic", "prepare_panoptic", "prepare_semantic", "read_instance_mapping"]

SPLITS = {"train": "training", "val": "validation"}
IGNORE = 255
NUM_CLASSES = 150
SEGMENT_ID_BASE = 1000  # panoptic segment id = class id * 1000 + k + 1 (unique per image, decodable)
DOWNLOAD = "download ADEChallengeData2016.zip from http://sceneparsing.csail.mit.edu"
INSTANCE_DOWNLOAD = "download annotations_instance.tar (ADE20K instance challenge) into ADEChallengeData2016/"
MAPPING_HINT = ("place the instance-to-class mapping (ade20k_instance_catid_mapping.txt from the ADE20K "
                "toolkit: header, then 'instance_id  class_id_1_based  full_id' rows) there or pass --instance-mapping")


def shift_labels(raw: np.ndarray, where: Path) -> np.ndarray:
    """Release labels (0 = other, 1..150) -> 0..149 with 255 for "other"."""
    if raw.ndim != 2 or raw.dtype != np.uint8:
        raise ValueError(f"{where}: expected an 8-bit single-channel label PNG, got {raw.dtype} {raw.shape}")
    if raw.max() > NUM_CLASSES:
        raise ValueError(f"{where}: label {raw.max()} > {NUM_CLASSES}; is this already the shifted folder?")
    return np.where(raw == 0, IGNORE, raw.astype(np.int64) - 1).astype(np.uint8)


def prepare_semantic(ade_dir: Path, summary: PrepareSummary, splits: Sequence[str] = ("train", "val")) -> None:
    for split in splits:
        src = require_path(ade_dir / "annotations" / SPLITS[split], "ADEChallengeData2016", DOWNLOAD)
        dst = ade_dir / "annotations_detectron2" / SPLITS[split]
        for path in progress(sorted(src.glob("*.png")), f"ADE20K {split} semantic"):
            out = dst / path.name
            if is_done(out):
                summary.skip("labels")
                continue
            labels = shift_labels(read_label_image(path), path)
            save_label_image(labels, out)
            summary.wrote("labels")
            summary.saw(np.unique(labels[labels != IGNORE]))


def read_instance_mapping(path: Path) -> dict[int, int]:
    """Instance-challenge class id (1..100) -> 0-based ADE20K-150 class id, from the toolkit's mapping file."""
    mapping: dict[int, int] = {}
    lines = read_text(path, "instance class mapping").splitlines()
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise ValueError(f"{path}:{lineno}: expected 'instance_id class_id [full_id]', got {line!r}")
        ins_id, sem_id = int(fields[0]), int(fields[1]) - 1
        if not 0 <= sem_id < NUM_CLASSES:
            raise ValueError(f"{path}:{lineno}: class id {sem_id + 1} is outside 1..{NUM_CLASSES}")
        if mapping.get(ins_id, sem_id) != sem_id:
            raise ValueError(f"{path}:{lineno}: instance class {ins_id} maps to two classes")
        mapping[ins_id] = sem_id
    if not mapping:
        raise ValueError(f"{path}: no mapping rows")
    return mapping


def _segment(mask: np.ndarray, seg_id: int, category: int) -> dict:
    ys, xs = np.nonzero(mask)
    bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    return {"id": int(seg_id), "category_id": int(category), "area": int(mask.sum()), "bbox": bbox, "iscrowd": 0}


def _panoptic_of_image(sem_raw: np.ndarray, ins: np.ndarray, is_thing: Sequence[bool],
                       mapping: dict[int, int], where: Path) -> np.ndarray:
    """Segment-id map: stuff classes from the semantic labels, things from the instance annotation."""
    labels = shift_labels(sem_raw, where)
    if ins.ndim != 3 or ins.shape[:2] != labels.shape:
        raise ValueError(f"{where}: instance PNG must be RGB of the label's size {labels.shape}, got {ins.shape}")
    ids = np.zeros(labels.shape, dtype=np.int64)
    for cls in np.unique(labels):
        if cls != IGNORE and not is_thing[cls]:
            ids[labels == cls] = cls * SEGMENT_ID_BASE + 1
    ins_class, ins_id = ins[..., 0], ins[..., 1]
    for k, instance in enumerate(i for i in np.unique(ins_id) if i != 0):
        mask = ins_id == instance
        classes = np.unique(ins_class[mask])
        if len(classes) != 1 or int(classes[0]) not in mapping:
            raise ValueError(f"{where}: instance {instance} has instance class(es) {classes.tolist()}; "
                             "expected one class listed in the instance mapping")
        ids[mask] = mapping[int(classes[0])] * SEGMENT_ID_BASE + k + 1
    return ids


def prepare_panoptic(
    ade_dir: Path, mapping_file: Path, summary: PrepareSummary, splits: Sequence[str] = ("train", "val")
) -> None:
    """Write ade20k_panoptic_{split}/*.png + .json and ade20k_instance_{split}.json (things, RLE masks)."""
    names = read_object_info_150(require_path(ade_dir / "objectInfo150.txt", "ADEChallengeData2016", DOWNLOAD))
    mapping = read_instance_mapping(require_path(mapping_file, "ADEChallengeData2016", MAPPING_HINT))
    is_thing = [False] * NUM_CLASSES
    for sem in mapping.values():
        is_thing[sem] = True
    categories = [{"id": idx - 1, "name": ", ".join(n), "isthing": int(is_thing[idx - 1])} for idx, n in names]
    for split in splits:
        image_dir = require_path(ade_dir / "images" / SPLITS[split], "ADEChallengeData2016", DOWNLOAD)
        sem_dir = require_path(ade_dir / "annotations" / SPLITS[split], "ADEChallengeData2016", DOWNLOAD)
        ins_dir = require_path(ade_dir / "annotations_instance" / SPLITS[split], "ADEChallengeData2016",
                               INSTANCE_DOWNLOAD)
        out_dir = ade_dir / f"ade20k_panoptic_{split}"
        images, annotations, instances = [], [], []
        for image_path in progress(sorted(image_dir.glob("*.jpg")), f"ADE20K {split} panoptic"):
            stem = image_path.stem
            out = out_dir / f"{stem}.png"
            if is_done(out):
                ids = rgb2id(read_rgb_image(out))
                summary.skip("panoptic")
            else:
                sem_raw = read_label_image(require_path(sem_dir / f"{stem}.png", "ADEChallengeData2016", DOWNLOAD))
                ins = read_label_image(require_path(ins_dir / f"{stem}.png", "ADEChallengeData2016",
                                                    INSTANCE_DOWNLOAD))
                ids = _panoptic_of_image(sem_raw, ins, is_thing, mapping, sem_dir / f"{stem}.png")
                save_label_image(id2rgb(ids), out)
                summary.wrote("panoptic")
            height, width = ids.shape
            images.append({"id": stem, "file_name": image_path.name, "height": height, "width": width})
            segments = [_segment(ids == s, s, s // SEGMENT_ID_BASE) for s in np.unique(ids) if s != 0]
            summary.saw(s["category_id"] for s in segments)
            annotations.append({"image_id": stem, "file_name": out.name, "segments_info": segments})
            for seg in segments:
                if is_thing[seg["category_id"]]:
                    rle = mask_utils.encode(np.asfortranarray((ids == seg["id"]).astype(np.uint8)))
                    rle["counts"] = rle["counts"].decode("ascii")
                    instances.append({"id": len(instances) + 1, "image_id": stem, "category_id": seg["category_id"],
                                      "segmentation": rle, "area": seg["area"], "bbox": seg["bbox"], "iscrowd": 0})
        info = {"description": f"ADE20K-150 {split}, made by datasets/prepare_ade20k_panoptic.py"}
        save_json({"info": info, "images": images, "annotations": annotations, "categories": categories},
                  ade_dir / f"ade20k_panoptic_{split}.json")
        thing_categories = [{"id": c["id"], "name": c["name"]} for c in categories if c["isthing"]]
        save_json({"info": info, "images": images, "annotations": instances, "categories": thing_categories},
                  ade_dir / f"ade20k_instance_{split}.json")
        summary.wrote("json", 2)


def main_semantic(argv: Sequence[str] | None = None) -> PrepareSummary:
    parser = base_parser("ADE20K-150 semantic labels: annotations/ -> annotations_detectron2/ (0..149, 255 other).")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=sorted(SPLITS))
    args = parser.parse_args(argv)
    summary = PrepareSummary("ADE20K-150 semantic", num_classes=NUM_CLASSES)
    prepare_semantic(resolve_root(args.root) / "ADEChallengeData2016", summary, args.splits)
    summary.print()
    return summary


def main_panoptic(argv: Sequence[str] | None = None) -> PrepareSummary:
    parser = base_parser("ADE20K-150 panoptic + instance annotations from the semantic and instance annotations.")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=sorted(SPLITS))
    parser.add_argument("--instance-mapping", type=Path, default=None,
                        help="default: ADEChallengeData2016/ade20k_instance_catid_mapping.txt")
    args = parser.parse_args(argv)
    ade_dir = resolve_root(args.root) / "ADEChallengeData2016"
    mapping = args.instance_mapping or ade_dir / "ade20k_instance_catid_mapping.txt"
    summary = PrepareSummary("ADE20K-150 panoptic", num_classes=NUM_CLASSES)
    prepare_panoptic(ade_dir, mapping, summary, args.splits)
    summary.print()
    return summary
