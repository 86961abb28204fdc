#!/usr/bin/env python
"""Where a toy run's semantic-segmentation errors come from: the extents of its masks or the names it gives them.

python gpa_toy/tools/error_analysis.py OUTPUT_DIR [--dataset gpa_toy_val] [--opts KEY VALUE ...]

Runs the trained model (OUTPUT_DIR/config.yaml, OUTPUT_DIR/model_final.pth) on the dataset and compares its
semantic prediction (the argmax of `sem_seg`, the map mIoU is computed from) with the ground truth:

- mIoU as predicted (the evaluator's figure, recomputed);
- mIoU with perfect extents: every ground-truth segment takes the label the model predicts most often inside it,
  so only naming errors remain;
- mIoU with perfect names: every connected region of the prediction takes the ground-truth label most frequent
  inside it, so only extent errors remain (boundaries, spills, merges of differently named neighbours, misses);
- the share of ground-truth segments named right (their majority prediction is their class);
- the wrong pixels by kind: inside a segment named right (extent), or inside one named wrong, by how its name is
  wrong (wrong shape, wrong colour, both, object named as texture, texture as object, wrong texture).

Writes OUTPUT_DIR/error_analysis.md and OUTPUT_DIR/error_analysis.json (with --opts: to --output, a prefix, so
that an analysis of another inference setting does not replace the run's own).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog
from panopticapi.utils import rgb2id
from PIL import Image
from scipy import ndimage
from tabulate import tabulate

import gpa  # noqa: F401  (registers the model)
import gpa_toy
from gpa.engine import build_config
from gpa.evaluation.class_split import class_split_masks, harmonic_mean, per_class_iou, split_miou
from gpa_toy.world import ToyClass, class_by_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_report import load_trained_model, require_run_file  # noqa: E402

ANALYSIS_NAME = "error_analysis"  # OUTPUT_DIR/error_analysis.{md,json}
PARTS = ("seen", "unseen")
UNSEEN_MARK = "*"
# upper bounds (pixels, exclusive) of the object-size bins in which segment naming is counted; the last is open
SIZE_BINS = (200, 400, 800)
# kind of wrong pixel -> its row label; "extent" is a wrong pixel inside a ground-truth segment named right
ERROR_KINDS = {
    "extent": "extent (inside a segment named right)",
    "shape": "named wrong: right colour, wrong shape",
    "colour": "named wrong: right shape, wrong colour",
    "colour_and_shape": "named wrong: wrong colour and shape",
    "object_as_texture": "named wrong: object named as a texture",
    "texture_as_object": "named wrong: texture named as an object",
    "texture": "named wrong: wrong texture",
}
MIOU_ROWS = {
    "predicted": "mIoU as predicted",
    "perfect_extents": "mIoU, perfect extents (each segment named by its majority prediction)",
    "perfect_names": "mIoU, perfect names (each predicted region named by its majority ground truth)",
}


# ---------------------------------------------------------------------------------------------- label maps
def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_label: int) -> np.ndarray:
    """SemSegEvaluator's layout: rows prediction, columns ground truth, the last row and column the ignore label."""
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    gt = np.where(gt == ignore_label, num_classes, gt).astype(np.int64)
    pred = pred.astype(np.int64)
    if gt.min() < 0 or gt.max() > num_classes or pred.min() < 0 or pred.max() >= num_classes:
        raise ValueError(f"labels outside 0..{num_classes - 1} (and {ignore_label} in the ground truth)")
    n = num_classes + 1
    return np.bincount(n * pred.ravel() + gt.ravel(), minlength=n * n).reshape(n, n)


def detectron2_miou(conf: np.ndarray) -> float:
    """SemSegEvaluator's mIoU (%): IoU summed over classes in the ground truth, divided by the classes in the
    ground truth or the prediction."""
    iou = per_class_iou(conf)
    matrix = np.asarray(conf, dtype=float)[:-1, :-1]
    in_union = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    return 100 * float(np.nansum(iou) / in_union.sum())


def majority(labels: np.ndarray, num_classes: int) -> int:
    """The most frequent label (the smallest on a tie)."""
    return int(np.bincount(labels, minlength=num_classes).argmax())


def name_segments_by_prediction(pred: np.ndarray, segments: np.ndarray, num_classes: int) -> np.ndarray:
    """Perfect extents: each ground-truth segment (id > 0 in `segments`) filled with the label the prediction
    gives most of its pixels; pixels outside every segment keep the prediction."""
    named = pred.copy()
    for segment in np.unique(segments[segments > 0]):
        inside = segments == segment
        named[inside] = majority(pred[inside], num_classes)
    return named


def name_regions_by_ground_truth(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_label: int) -> np.ndarray:
    """Perfect names: each connected region of one predicted label (4-connected) filled with the ground-truth
    label most frequent among its pixels (ignored pixels not counted); a region of ignored pixels only keeps
    its predicted label."""
    named = pred.copy()
    for label in np.unique(pred):
        regions, count = ndimage.label(pred == label)
        for region in range(1, count + 1):
            inside = regions == region
            truth = gt[inside]
            truth = truth[truth != ignore_label]
            if truth.size:
                named[inside] = majority(truth, num_classes)
    return named


def error_kind(truth: ToyClass, named: ToyClass) -> str:
    """How `named` is wrong for a segment of class `truth` (a key of ERROR_KINDS other than "extent")."""
    if truth == named:
        raise ValueError(f"{truth.name!r} is named right; a wrong name was expected")
    if truth.isthing and named.isthing:
        if truth.colour == named.colour:
            return "shape"
        return "colour" if truth.shape == named.shape else "colour_and_shape"
    if truth.isthing:
        return "object_as_texture"
    return "texture_as_object" if named.isthing else "texture"


def size_bin_labels() -> list[str]:
    """Names of the object-size bins of SIZE_BINS ("< 200 px", "200-399 px", ..., ">= 800 px")."""
    edges = (0, *SIZE_BINS)
    labels = [f"< {SIZE_BINS[0]} px"] + [f"{lo}-{hi - 1} px" for lo, hi in zip(edges[1:-1], edges[2:])]
    return labels + [f">= {SIZE_BINS[-1]} px"]


# ---------------------------------------------------------------------------------------------- accumulation
class ErrorAnalysis:
    """Accumulates the three confusion matrices, segment naming and wrong pixels by kind over images."""

    def __init__(self, classes: Sequence[ToyClass], unseen_classes: Collection[int], ignore_label: int) -> None:
        self.classes = list(classes)
        self.num_classes = len(self.classes)
        self.unseen = sorted(int(c) for c in unseen_classes)
        self.is_unseen = class_split_masks(self.num_classes, self.unseen)[1]
        self.ignore_label = ignore_label
        n = self.num_classes + 1
        self.confusion = {key: np.zeros((n, n), dtype=np.int64) for key in MIOU_ROWS}
        self.segments = {part: {"total": 0, "named_right": 0} for part in PARTS}
        self.wrong_pixels = {part: dict.fromkeys(ERROR_KINDS, 0) for part in PARTS}
        self.misnamed = Counter()  # (true class, name given) -> segments named so
        self.size_labels = size_bin_labels()
        self.objects_by_size = {label: {"total": 0, "named_right": 0} for label in self.size_labels}
        self.images = 0

    def _part(self, label: int) -> str:
        return "unseen" if self.is_unseen[label] else "seen"

    def add(self, gt: np.ndarray, pred: np.ndarray, segments: np.ndarray) -> None:
        """One image: semantic ground truth, predicted labels and ground-truth segment ids (0 = no segment).

        A segment whose pixels are all ignored has no class to be named by and is not counted as a segment."""
        if segments.shape != gt.shape:
            raise ValueError(f"segment map {segments.shape} and ground truth {gt.shape} differ in shape")
        if ((segments == 0) & (gt != self.ignore_label)).any():
            raise ValueError("labelled pixels outside every ground-truth segment: each wrong pixel is counted in "
                             "its segment, so the segment map must cover the semantic ground truth")
        extents = name_segments_by_prediction(pred, segments, self.num_classes)
        names = name_regions_by_ground_truth(pred, gt, self.num_classes, self.ignore_label)
        for key, labels in (("predicted", pred), ("perfect_extents", extents), ("perfect_names", names)):
            self.confusion[key] += confusion_matrix(gt, labels, self.num_classes, self.ignore_label)
        for segment in np.unique(segments[segments > 0]):
            inside = (segments == segment) & (gt != self.ignore_label)
            if not inside.any():
                continue
            truth = majority(gt[inside], self.num_classes)
            named = int(extents[inside][0])
            part = self._part(truth)
            self.segments[part]["total"] += 1
            wrong = int((pred[inside] != gt[inside]).sum())
            if self.classes[truth].isthing:
                size = self.objects_by_size[self.size_labels[int(np.searchsorted(SIZE_BINS, inside.sum(), "right"))]]
                size["total"] += 1
                size["named_right"] += int(named == truth)
            if named == truth:
                self.segments[part]["named_right"] += 1
                self.wrong_pixels[part]["extent"] += wrong
            else:
                self.wrong_pixels[part][error_kind(self.classes[truth], self.classes[named])] += wrong
                self.misnamed[truth, named] += 1
        self.images += 1

    def summary(self) -> dict:
        """mIoU rows (seen, unseen, hm, all), segments named right (%) and wrong pixels by kind (counts, %)."""
        miou = {}
        for key, conf in self.confusion.items():
            split = split_miou(conf, self.unseen)
            miou[key] = {"seen": split["mIoU_seen"], "unseen": split["mIoU_unseen"], "hm": split["mIoU_hm"],
                         "all": detectron2_miou(conf)}
        named = {part: 100 * s["named_right"] / s["total"] if s["total"] else float("nan")
                 for part, s in self.segments.items()}
        total = sum(s["total"] for s in self.segments.values())
        named["all"] = 100 * sum(s["named_right"] for s in self.segments.values()) / total if total else float("nan")
        shares = {}
        for part, counts in self.wrong_pixels.items():
            total = sum(counts.values())
            shares[part] = {k: 100 * v / total if total else float("nan") for k, v in counts.items()}
        misnamed = [{"class": self.classes[t].name, "named": self.classes[n].name, "segments": count,
                     "unseen": bool(self.is_unseen[t])} for (t, n), count in self.misnamed.most_common()]
        return {"images": self.images, "mIoU": miou, "segments": self.segments, "segments_named_right": named,
                "wrong_pixels": self.wrong_pixels, "wrong_pixel_shares": shares, "misnamed": misnamed,
                "objects_by_size": self.objects_by_size}


def format_tables(summary: dict, dataset: str, top: int = 10) -> str:
    """Markdown tables: the mIoU rows with segment naming, the wrong pixels by kind, the `top` most frequent
    wrong names of segments."""
    def fmt(value: float) -> str:
        return "-" if np.isnan(value) else f"{value:.1f}"

    rows = [[MIOU_ROWS[key]] + [fmt(values[p]) for p in ("seen", "unseen", "hm", "all")]
            for key, values in summary["mIoU"].items()]
    named = summary["segments_named_right"]
    rows.append(["segments (objects and textures) named right (%)", fmt(named["seen"]), fmt(named["unseen"]),
                 fmt(harmonic_mean(named["seen"], named["unseen"])), fmt(named["all"])])
    first = tabulate(rows, headers=[dataset, "seen", "unseen", "harmonic mean", "all"], tablefmt="pipe",
                     colalign=("left",) + ("right",) * 4, disable_numparse=True)
    pixels, shares = summary["wrong_pixels"], summary["wrong_pixel_shares"]
    rows = [[label] + [f"{pixels[p][kind]} ({fmt(shares[p][kind])}%)" for p in PARTS]
            for kind, label in ERROR_KINDS.items()]
    rows.append(["all wrong pixels"] + [str(sum(pixels[p].values())) for p in PARTS])
    second = tabulate(rows, headers=["wrong pixels, by the ground-truth class's part", "seen", "unseen"],
                      tablefmt="pipe", colalign=("left", "right", "right"), disable_numparse=True)
    rows = [[m["class"] + (UNSEEN_MARK if m["unseen"] else ""), m["named"], str(m["segments"])]
            for m in summary["misnamed"][:top]]
    third = tabulate(rows, headers=[f"segment of ({UNSEEN_MARK} = unseen)", "named", "segments"], tablefmt="pipe",
                     colalign=("left", "left", "right"), disable_numparse=True)
    sizes = summary["objects_by_size"]
    rows = [[label, str(c["total"]), fmt(100 * c["named_right"] / c["total"] if c["total"] else float("nan"))]
            for label, c in sizes.items()]
    fourth = tabulate(rows, headers=["object segment size", "segments", "named right (%)"], tablefmt="pipe",
                      colalign=("left", "right", "right"), disable_numparse=True)
    return f"{first}\n\n{second}\n\n{fourth}\n\n{third}"


# ---------------------------------------------------------------------------------------------- the run
def ground_truth(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """Semantic labels (contiguous ids, the ignore label) and segment ids (0 = none) of a dataset record."""
    semantic = np.asarray(Image.open(record["sem_seg_file_name"]), dtype=np.int64)
    segments = rgb2id(np.asarray(Image.open(record["pan_seg_file_name"]).convert("RGB"))).astype(np.int64)
    listed = {s["id"] for s in record["segments_info"]}
    segments[~np.isin(segments, list(listed))] = 0
    return semantic, segments


@torch.no_grad()
def analyse(cfg: CfgNode, model: torch.nn.Module, dataset: str) -> ErrorAnalysis:
    metadata = MetadataCatalog.get(dataset)
    if not metadata.get("unseen_classes"):
        raise ValueError(f"dataset {dataset} lists no unseen_classes; analyse a toy split such as gpa_toy_val")
    classes = [class_by_name(name) for name in metadata.stuff_classes]
    analysis = ErrorAnalysis(classes, metadata.unseen_classes, metadata.ignore_label)
    mapper = DatasetMapper(cfg, is_train=False)
    for record in sorted(DatasetCatalog.get(dataset), key=lambda r: r["image_id"]):
        gt, segments = ground_truth(record)
        pred = model([mapper(dict(record))])[0]["sem_seg"].argmax(dim=0).cpu().numpy()
        analysis.add(gt, pred, segments)
    return analysis


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", type=Path, help="OUTPUT_DIR of a finished tools/train_net.py run")
    parser.add_argument("--dataset", default="gpa_toy_val", help="a toy dataset with unseen classes")
    parser.add_argument("--opts", nargs="+", default=[], metavar="KEY VALUE",
                        help="config overrides for inference (e.g. INPUT.MIN_SIZE_TEST 128); needs --output")
    parser.add_argument("--output", type=Path, help="where to write OUTPUT.md and OUTPUT.json (default: "
                                                    "OUTPUT_DIR/error_analysis)")
    args = parser.parse_args(argv)
    if args.opts and args.output is None:
        parser.error("--opts changes the inference; give --output so the run's own error_analysis files stay as "
                     "they are")
    output = args.output if args.output is not None else args.output_dir / ANALYSIS_NAME
    gpa_toy.register()
    cfg = build_config(require_run_file(args.output_dir / "config.yaml", "the run's config"), args.opts)
    summary = analyse(cfg, load_trained_model(cfg, args.output_dir), args.dataset).summary()
    tables = format_tables(summary, args.dataset)
    note = (f"{summary['images']} images; {cfg.SOLVER.MAX_ITER} iterations, seed {cfg.SEED} ({args.output_dir})"
            f"{'; inference with ' + ' '.join(args.opts) if args.opts else ''}; mIoU over the classes present in "
            "the ground truth (all: detectron2's SemSegEvaluator's average)")
    output.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{output}.json").write_text(json.dumps({"dataset": args.dataset, "opts": args.opts, **summary}, indent=1),
                                      encoding="utf-8")
    Path(f"{output}.md").write_text(f"{tables}\n\n{note}\n", encoding="utf-8")
    print(tables)
    print(note)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
