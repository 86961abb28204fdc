"""What every prepare script shares: a progress bar, skipping finished files, atomic writes, a summary."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..datasets.builtin import datasets_root

__all__ = [
    "PrepareSummary",
    "base_parser",
    "copy_file",
    "is_done",
    "progress",
    "read_label_image",
    "read_rgb_image",
    "save_json",
    "save_label_image",
]

T = TypeVar("T")


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--root", type=Path, default=None,
        help="datasets root (default: $DETECTRON2_DATASETS, else ./datasets)",
    )
    return parser


def resolve_root(root: Path | None) -> Path:
    return Path(root).resolve() if root is not None else datasets_root()


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """A tqdm progress bar over `items`."""
    return iter(tqdm(items, desc=desc, total=total, unit="file", dynamic_ncols=True))


def is_done(path: Path) -> bool:
    """A file counts as finished when it exists and is not empty (writes are atomic, see `save_*`)."""
    return path.is_file() and path.stat().st_size > 0


def _atomic(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.partial{path.suffix}")


def save_label_image(array: np.ndarray, path: Path) -> None:
    """Write a label map: uint8 -> 8-bit PNG, uint16 -> 16-bit PNG/TIFF, uint8 RGB -> PNG; atomically."""
    if array.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"{path}: label maps are written as uint8 or uint16, got {array.dtype}")
    tmp = _atomic(path)
    Image.fromarray(array).save(tmp)
    os.replace(tmp, path)


def read_label_image(path: Path) -> np.ndarray:
    """A label map with its stored bit depth (uint8 or uint16; palette PNGs give their indices).

    A damaged or non-image file fails naming it (PIL's own message does not)."""
    try:
        with Image.open(path) as image:
            return np.array(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read label image {path}: {err}; re-extract it from the release archive") from err


def read_rgb_image(path: Path) -> np.ndarray:
    """An HxWx3 uint8 RGB array of an image file (e.g. a panoptic PNG); a damaged file fails naming it."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read image {path}: {err}; delete it to have it re-created, or re-extract it") from err


def save_json(data: Any, path: Path) -> None:
    tmp = _atomic(path)
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def copy_file(src: Path, dst: Path) -> None:
    tmp = _atomic(dst)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


@dataclass
class PrepareSummary:
    """Counts what a run wrote and skipped, and which class ids it saw; printed at the end."""

    title: str
    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    classes_seen: set[int] = field(default_factory=set)
    num_classes: int | None = None

    def wrote(self, kind: str, n: int = 1) -> None:
        self.written[kind] = self.written.get(kind, 0) + n

    def skip(self, kind: str, n: int = 1) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + n

    def saw(self, ids: Iterable[int]) -> None:
        self.classes_seen.update(int(i) for i in ids)

    def format(self) -> str:
        kinds = sorted(set(self.written) | set(self.skipped))
        lines = [f"== {self.title}: summary =="]
        for kind in kinds:
            lines.append(f"  {kind:<12} written {self.written.get(kind, 0):>7}   "
                         f"already there (skipped) {self.skipped.get(kind, 0):>7}")
        if self.classes_seen or self.num_classes is not None:
            of = f" of {self.num_classes}" if self.num_classes is not None else ""
            lines.append(f"  classes seen in the labels written this run: {len(self.classes_seen)}{of}")
        return "\n".join(lines)

    def print(self) -> None:
        print(self.format(), flush=True)
