"""What a semantic label file must satisfy, in one place: datasets/verify.py reports it, evaluation and training
refuse a file that breaks it (a wrong label file otherwise scores perfect predictions mIoU 3.1, or 0.0).

A label file is single-channel; its values are class ids 0..num_classes-1 or the ignore label; a dataset
whose ignore label or class ids exceed 255 needs 16-bit files (8 bits wrap them). Checking a decoded label
map costs one pass over its pixels, small next to the model.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

from .datasets.builtin import BUILTIN_DATASETS

__all__ = [
    "EIGHT_BIT_MODES",
    "LabelFileError",
    "checked_label_reader",
    "label_fix_hint",
    "label_problems",
    "read_image_size",
    "read_label_file",
]

EIGHT_BIT_MODES = {"1", "L", "P"}
VERIFY_HINT = "datasets/verify.py {name} checks every file of the dataset"


class LabelFileError(ValueError):
    """A label file that would be scored or trained on wrongly; the message names it and the fix."""


def label_fix_hint(dataset_name: str) -> str:
    """How to re-create the labels of a builtin dataset (its preparation script), else where to read about it."""
    for row in BUILTIN_DATASETS:
        if row.name == dataset_name and "sem_seg_root" in row.made_by:
            return row.made_by["sem_seg_root"]
    return "re-create the labels (see datasets/README.md)"


def label_problems(
    path: str | Path, labels: np.ndarray, mode: str | None, num_classes: int, ignore: int,
    image_size: tuple[int, int] | None = None,
) -> list[tuple[str, str]]:
    """(kind, message) for each way the label map of `path` breaks the rules; empty when it is fine.

    `mode` is the file's PIL mode (None = unknown); `image_size` (height, width) of its image, if known.
    """
    if ignore > 255 and mode in EIGHT_BIT_MODES:
        return [("bit-depth", f"{path}: 8-bit labels ({mode}) but this dataset needs 16-bit files (ignore label "
                              f"{ignore}, {num_classes} classes; 8 bits wrap ids above 255)")]
    if labels.ndim != 2:
        what = " (an RGB/colour image: labels must hold class ids, not colours)" if labels.ndim == 3 else ""
        return [("shape", f"{path}: labels must be single-channel, got shape {labels.shape}{what}")]
    problems = []
    if image_size is not None and labels.shape != tuple(image_size):
        problems.append(("size", f"{path}: labels are {labels.shape[1]}x{labels.shape[0]} but the image is "
                                 f"{image_size[1]}x{image_size[0]}"))
    outside = (labels < 0) | (labels >= num_classes)
    if ignore >= num_classes or ignore < 0:
        outside &= labels != ignore
    if outside.any():
        bad = np.unique(labels[outside])
        why = (f" - values reach {num_classes}, the number of classes: the labels look 1-based (not shifted to "
               "0-based) or the class list misses a class" if bad.max() == num_classes else "")
        problems.append(("range", f"{path}: label values {bad[:8].tolist()} are outside 0..{num_classes - 1} (ignore "
                                  f"{ignore}) of the {num_classes}-class list{why}"))
    return problems


EXIF_ORIENTATION = 0x0112  # orientations 5..8 rotate by 90 degrees: detectron2's read_image swaps height and width
TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}


def read_image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image as detectron2's read_image returns it (EXIF rotation applied), from its header."""
    try:
        with Image.open(path) as image:
            height, width = image.height, image.width
            if image.getexif().get(EXIF_ORIENTATION) in TRANSPOSING_ORIENTATIONS:
                height, width = width, height
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise LabelFileError(f"cannot read image {path}: {err}") from err
    return height, width


def read_label_file(path: str | Path) -> tuple[np.ndarray, str]:
    """(label map, PIL mode) of a label file; a missing or unreadable file fails naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file {path} does not exist")
    try:
        with Image.open(path) as image:
            return np.asarray(image), image.mode
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise LabelFileError(f"cannot read label file {path}: {err}") from err


def checked_label_reader(dataset_name: str) -> Callable[..., np.ndarray]:
    """A `sem_seg_loading_fn` for detectron2's SemSegEvaluator that refuses what datasets/verify.py refuses.

    It also compares each label's size with its image's (read from the image header), so a mismatch is named
    instead of failing in numpy.
    """
    metadata = MetadataCatalog.get(dataset_name)
    num_classes, ignore = len(metadata.stuff_classes), metadata.get("ignore_label", 255)
    fix = f"fix: {label_fix_hint(dataset_name)}; {VERIFY_HINT.format(name=dataset_name)}"
    image_of = {str(r["sem_seg_file_name"]): r["file_name"] for r in DatasetCatalog.get(dataset_name)
                if "sem_seg_file_name" in r}

    def read(path: str, dtype=int) -> np.ndarray:
        labels, mode = read_label_file(path)
        size = read_image_size(image_of[str(path)]) if str(path) in image_of else None
        problems = label_problems(path, labels, mode, num_classes, ignore, size)
        if problems:
            raise LabelFileError(f"dataset '{dataset_name}': {problems[0][1]}; {fix}")
        return np.array(labels, dtype=dtype)

    return read
