"""Cityscapes: trainId labels and panoptic annotations, made by cityscapesscripts."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..datasets.loaders import require_path
from .common import PrepareSummary, base_parser, is_done, progress, read_label_image, resolve_root

__all__ = ["main", "prepare_cityscapes"]

DOWNLOAD = "download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip from cityscapes-dataset.com"


def prepare_cityscapes(root: Path, summary: PrepareSummary, splits: Sequence[str] = ("train", "val")) -> None:
    """gtFine/<split>/*/*_gtFine_labelTrainIds.png (json2labelImg) and gtFine/cityscapes_panoptic_<split>*
    (createPanopticImgs.convert2panoptic, redone only when its JSON is missing)."""
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    gt_fine = require_path(root / "cityscapes" / "gtFine", "cityscapes", DOWNLOAD)
    for split in splits:
        polygons = sorted(require_path(gt_fine / split, "cityscapes", DOWNLOAD).glob("*/*_gtFine_polygons.json"))
        if not polygons:
            raise FileNotFoundError(f"no *_gtFine_polygons.json under {gt_fine / split}; {DOWNLOAD}")
        for poly in progress(polygons, f"Cityscapes {split} trainIds"):
            out = poly.with_name(poly.name.replace("_polygons.json", "_labelTrainIds.png"))
            if is_done(out):
                summary.skip("labels")
                continue
            json2labelImg(str(poly), str(out), "trainIds")
            summary.wrote("labels")
            labels = read_label_image(out)
            summary.saw(np.unique(labels[labels != 255]))
        if is_done(gt_fine / f"cityscapes_panoptic_{split}.json"):
            summary.skip("panoptic")
        else:
            convert2panoptic(cityscapesPath=str(gt_fine), outputFolder=str(gt_fine), setNames=[split])
            summary.wrote("panoptic")


def main(argv: Sequence[str] | None = None) -> PrepareSummary:
    parser = base_parser("Cityscapes: labelTrainIds PNGs and panoptic annotations via cityscapesscripts.")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=["train", "val"])
    args = parser.parse_args(argv)
    summary = PrepareSummary("Cityscapes", num_classes=19)
    prepare_cityscapes(resolve_root(args.root), summary, args.splits)
    summary.print()
    return summary
