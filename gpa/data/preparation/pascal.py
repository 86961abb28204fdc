"""Pascal VOC 2012 (PAS-20/21) and Pascal Context (PC-59/459) from their official per-image label files."""
from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from ...vocabulary import read_class_file
from ..datasets.class_sources import CLASS_FILES
from ..datasets.loaders import require_path
from .common import (
    PrepareSummary,
    base_parser,
    copy_file,
    is_done,
    progress,
    read_label_image,
    resolve_root,
    save_label_image,
)

__all__ = ["main_context", "main_voc", "prepare_context", "prepare_voc", "voc20_from_voc21"]

SPLITS = {"train": "training", "val": "validation"}
VOC_DOWNLOAD = "download VOCtrainval_11-May-2012.tar from http://host.robots.ox.ac.uk/pascal/VOC/voc2012/"
VOC2010_DOWNLOAD = "download VOCtrainval_03-May-2010.tar from http://host.robots.ox.ac.uk/pascal/VOC/voc2010/"
CONTEXT_DOWNLOAD = ("download trainval.tar.gz, 59_context_labels.tar.gz and 59_labels.txt from "
                    "https://cs.stanford.edu/~roozbeh/pascal-context/ into the --context folder")


def _split_ids(list_file: Path, name: str, hint: str) -> list[str]:
    ids = [line.strip() for line in require_path(list_file, name, hint).read_text().splitlines() if line.strip()]
    if not ids:
        raise ValueError(f"{list_file} lists no images")
    return ids


def voc20_from_voc21(labels: np.ndarray) -> np.ndarray:
    """PAS-20: background (0) becomes ignore (255), classes 1..20 become 0..19, 255 stays."""
    out = np.full(labels.shape, 255, dtype=np.uint8)
    fg = (labels >= 1) & (labels <= 20)
    out[fg] = labels[fg] - 1
    return out


def prepare_voc(root: Path, summary: PrepareSummary, splits: Sequence[str] = ("train", "val")) -> None:
    voc = root / "VOCdevkit" / "VOC2012"
    out = root / "pascal_voc_d2"
    for split in splits:
        ids = _split_ids(voc / "ImageSets" / "Segmentation" / f"{split}.txt", "VOC2012", VOC_DOWNLOAD)
        for image_id in progress(ids, f"VOC2012 {split}"):
            dst_image = out / "images" / SPLITS[split] / f"{image_id}.jpg"
            dst21 = out / "annotations_pascal21" / SPLITS[split] / f"{image_id}.png"
            dst20 = out / "annotations_pascal20" / SPLITS[split] / f"{image_id}.png"
            if is_done(dst_image) and is_done(dst21) and is_done(dst20):
                summary.skip("images")
                summary.skip("labels", 2)
                continue
            copy_file(require_path(voc / "JPEGImages" / f"{image_id}.jpg", "VOC2012", VOC_DOWNLOAD), dst_image)
            src = require_path(voc / "SegmentationClass" / f"{image_id}.png", "VOC2012", VOC_DOWNLOAD)
            labels = read_label_image(src)
            bad = sorted(set(np.unique(labels).tolist()) - set(range(21)) - {255})
            if labels.ndim != 2 or bad:
                raise ValueError(f"{src}: expected palette indices 0..20 and 255, found {bad or labels.shape}")
            labels = labels.astype(np.uint8)
            save_label_image(labels, dst21)
            save_label_image(voc20_from_voc21(labels), dst20)
            summary.wrote("images")
            summary.wrote("labels", 2)
            summary.saw(np.unique(labels[labels != 255]))


def _check_59_names(labels_59: Path) -> None:
    """The release's 59_labels.txt ("1: aeroplane") must name our PC-59 classes in the same order."""
    ours = read_class_file(CLASS_FILES / "pascal_context_59.txt")
    theirs = read_class_file(labels_59)
    norm = [{s.replace(" ", "").lower() for s in names} for _, names in ours]
    for (tid, tnames), (oid, onames), keys in zip(theirs, ours, norm):
        if tid != oid + 1 or tnames[0].replace(" ", "").lower() not in keys:
            raise ValueError(f"{labels_59}: class {tid} is {tnames[0]!r} but PC-59 label {oid} is {onames[0]!r}; "
                             "the release list and gpa/data/class_files/pascal_context_59.txt disagree")
    if len(theirs) != len(ours):
        raise ValueError(f"{labels_59}: {len(theirs)} classes, expected {len(ours)}")


def prepare_context(root: Path, voc2010: Path, context: Path, summary: PrepareSummary,
                    splits: Sequence[str] = ("train", "val")) -> None:
    """pascal_ctx_d2/: images, annotations_ctx59 (uint8, 255 ignore), annotations_ctx459 (uint16 .tif, 65535)."""
    out = root / "pascal_ctx_d2"
    labels_459 = require_path(context / "labels.txt", "pascal_context", CONTEXT_DOWNLOAD)
    num_459 = len(read_class_file(labels_459))
    if (context / "59_labels.txt").is_file():
        _check_59_names(context / "59_labels.txt")
    out.mkdir(parents=True, exist_ok=True)
    copy_file(labels_459, out / "labels_459.txt")
    for split in splits:
        ids = _split_ids(voc2010 / "ImageSets" / "Main" / f"{split}.txt", "VOC2010", VOC2010_DOWNLOAD)
        for image_id in progress(ids, f"Pascal Context {split}"):
            dst_image = out / "images" / SPLITS[split] / f"{image_id}.jpg"
            dst59 = out / "annotations_ctx59" / SPLITS[split] / f"{image_id}.png"
            dst459 = out / "annotations_ctx459" / SPLITS[split] / f"{image_id}.tif"
            if is_done(dst_image) and is_done(dst59) and is_done(dst459):
                summary.skip("images")
                summary.skip("labels", 2)
                continue
            copy_file(require_path(voc2010 / "JPEGImages" / f"{image_id}.jpg", "VOC2010", VOC2010_DOWNLOAD),
                      dst_image)
            mat = require_path(context / "trainval" / f"{image_id}.mat", "pascal_context", CONTEXT_DOWNLOAD)
            full = read_label_map_mat(mat)
            if full.max() > num_459 or full.min() < 0:
                raise ValueError(f"{mat}: LabelMap values {full.min()}..{full.max()} outside 0..{num_459}")
            save_label_image(np.where(full == 0, 65535, full - 1).astype(np.uint16), dst459)
            png = require_path(context / "59_context_labels" / f"{image_id}.png", "pascal_context", CONTEXT_DOWNLOAD)
            raw59 = read_label_image(png).astype(np.int64)
            if raw59.max() > 59:
                raise ValueError(f"{png}: label {raw59.max()} > 59")
            save_label_image(np.where(raw59 == 0, 255, raw59 - 1).astype(np.uint8), dst59)
            summary.wrote("images")
            summary.wrote("labels", 2)
            summary.saw(np.unique(full[full != 0]) - 1)


def main_voc(argv: Sequence[str] | None = None) -> PrepareSummary:
    parser = base_parser("Pascal VOC 2012 -> pascal_voc_d2/ (PAS-21 with background, PAS-20 without).")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=sorted(SPLITS))
    args = parser.parse_args(argv)
    summary = PrepareSummary("Pascal VOC 20/21", num_classes=21)
    prepare_voc(resolve_root(args.root), summary, args.splits)
    summary.print()
    return summary


def read_label_map_mat(path: Path) -> np.ndarray:
    """The "LabelMap" of a Pascal Context .mat file as int64 (scipy's loadmat reads arrays only, runs nothing);
    a damaged file or one without LabelMap fails naming it."""
    try:
        data = loadmat(path)
    except (OSError, ValueError, TypeError, IndexError, KeyError, struct.error, MatReadError) as err:
        raise ValueError(f"cannot read {path} as a MATLAB file: {err}; re-extract trainval.tar.gz") from err
    if "LabelMap" not in data:
        raise ValueError(f"{path} has no 'LabelMap' (it has {sorted(k for k in data if not k.startswith('__'))}); "
                         "is it a Pascal Context trainval file?")
    return np.asarray(data["LabelMap"]).astype(np.int64)


def main_context(argv: Sequence[str] | None = None) -> PrepareSummary:
    parser = base_parser("Pascal Context -> pascal_ctx_d2/ (PC-59 and PC-459) without the Detail API.")
    parser.add_argument("--voc2010", type=Path, default=None, help="default: <root>/VOCdevkit/VOC2010")
    parser.add_argument("--context", type=Path, default=None,
                        help="folder with trainval/*.mat, labels.txt, 59_context_labels/ "
                        "(default: <root>/pascal_context)")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=sorted(SPLITS))
    args = parser.parse_args(argv)
    root = resolve_root(args.root)
    summary = PrepareSummary("Pascal Context 59/459 (classes seen: 459-class ids)", num_classes=459)
    prepare_context(root, args.voc2010 or root / "VOCdevkit" / "VOC2010", args.context or root / "pascal_context",
                    summary, args.splits)
    summary.print()
    return summary
