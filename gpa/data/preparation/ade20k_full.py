"""ADE20K-Full (A-847): 16-bit semantic labels and resized images from the ADE20K 2021 release."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ...checkpoint.file_reading import read_restricted_pickle
from ...vocabulary import read_class_file
from ..datasets.loaders import require_path
from .common import PrepareSummary, base_parser, is_done, progress, resolve_root, save_label_image

__all__ = ["decode_class_mask", "main", "prepare_ade20k_full", "resize_short_side"]

IGNORE = 65535
MAX_SHORT_SIDE = 512  # the A-847 protocol stores images and labels with the short side at most 512 px
SPLIT_FOLDERS = {"training": "training", "validation": "validation"}
DOWNLOAD = "download ADE20K_2021_17_01.zip from https://groups.csail.mit.edu/vision/datasets/ADE20K/"
CLASS_LIST_HINT = ("pass --class-list FILE: the A-847 benchmark classes as `ade_class_id:name,synonyms` lines in "
                   "benchmark (label) order, ade_class_id being the class value of the release's *_seg.png masks")


def decode_class_mask(seg_rgb: np.ndarray) -> np.ndarray:
    """Class index of every pixel of an ADE20K *_seg.png: R / 10 * 256 + G (0 = unlabeled)."""
    r, g = seg_rgb[..., 0].astype(np.int64), seg_rgb[..., 1].astype(np.int64)
    return r // 10 * 256 + g


def resize_short_side(image: np.ndarray, labels: np.ndarray, max_short: int = MAX_SHORT_SIDE):
    """Shrink so the short side is `max_short` (bilinear image, nearest labels); smaller images stay."""
    h, w = labels.shape
    if min(h, w) <= max_short:
        return image, labels
    scale = max_short / min(h, w)
    size = (round(w * scale), max_short) if h <= w else (max_short, round(h * scale))  # cv2 sizes are (w, h)
    image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    return image, labels


def _split_of(folder: str) -> str | None:
    parts = Path(folder).parts
    found = [SPLIT_FOLDERS[p] for p in parts if p in SPLIT_FOLDERS]
    return found[0] if found else None


def prepare_ade20k_full(root: Path, class_list: Path, summary: PrepareSummary) -> None:
    """Write images_detectron2/, annotations_detectron2/ (uint16 .tif, 65535 = ignore) and classes_847.txt."""
    full_dir = root / "ADE20K_2021_17_01"
    index_file = require_path(full_dir / "index_ade20k.pkl", "ADE20K_2021_17_01", DOWNLOAD)
    entries = read_class_file(require_path(class_list, "ADE20K_2021_17_01", CLASS_LIST_HINT))
    id_map = {ade_id: label for label, (ade_id, _) in enumerate(entries)}
    if len(id_map) >= IGNORE:
        raise ValueError(f"{class_list}: {len(id_map)} classes do not fit 16-bit labels")
    index = read_restricted_pickle(index_file)  # arrays, strings and containers only: reading runs no code
    if not isinstance(index, dict) or not {"folder", "filename"} <= index.keys():
        raise ValueError(f"{index_file} is not ADE20K's index (a dict with 'folder' and 'filename'); download it again")
    lut_size = max(max(id_map) + 1, 1)
    pairs = list(zip(index["folder"], index["filename"]))
    for folder, filename in progress(pairs, "ADE20K-Full", total=len(pairs)):
        split = _split_of(folder)
        if split is None:
            raise ValueError(f"{index_file}: folder {folder!r} is neither under training/ nor validation/")
        out_image = full_dir / "images_detectron2" / split / filename
        out_label = full_dir / "annotations_detectron2" / split / (Path(filename).stem + ".tif")
        if is_done(out_image) and is_done(out_label):
            summary.skip("images")
            summary.skip("labels")
            continue
        image_path = require_path(root / folder / filename, "ADE20K_2021_17_01", DOWNLOAD)
        seg_path = require_path(root / folder / (Path(filename).stem + "_seg.png"), "ADE20K_2021_17_01", DOWNLOAD)
        image = np.asarray(Image.open(image_path).convert("RGB"))
        class_mask = decode_class_mask(np.asarray(Image.open(seg_path).convert("RGB")))
        lut = np.full(max(lut_size, int(class_mask.max()) + 1), IGNORE, dtype=np.uint16)
        for ade_id, label in id_map.items():
            lut[ade_id] = label
        labels = lut[class_mask]
        image, labels = resize_short_side(image, labels)
        out_image.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(out_image, quality=95)
        save_label_image(labels, out_label)
        summary.wrote("images")
        summary.wrote("labels")
        summary.saw(np.unique(labels[labels != IGNORE]))
    lines = [f"{label}:{','.join(names)}" for label, (_, names) in enumerate(entries)]
    (full_dir / "classes_847.txt").write_text(
        "# A-847 classes: label value : name, synonyms (written by datasets/prepare_ade20k_847.py)\n"
        + "\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> PrepareSummary:
    parser = base_parser("ADE20K-Full A-847: resized images and uint16 labels from the ADE20K 2021 release.")
    parser.add_argument("--class-list", type=Path, required=True, help=CLASS_LIST_HINT)
    args = parser.parse_args(argv)
    entries = read_class_file(require_path(args.class_list, "ADE20K_2021_17_01", CLASS_LIST_HINT, "class list"))
    summary = PrepareSummary("ADE20K-Full (A-847)", num_classes=len(entries))
    prepare_ade20k_full(resolve_root(args.root), args.class_list, summary)
    summary.print()
    return summary
