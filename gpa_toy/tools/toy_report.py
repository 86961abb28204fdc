#!/usr/bin/env python
"""Report of a toy-world run of tools/train_net.py: one table and pictures of unseen classes being segmented.

The table: PQ and mIoU on the classes seen in training, on the unseen ones, and their harmonic mean; and the
tiny CLIP's zero-shot accuracy on held-out single-object crops (64-way over all object classes) before training
(the pretrained checkpoint) and after it (the trained model's encoder, adapters included): how much
generalization segmentation training cost.

python gpa_toy/tools/toy_report.py OUTPUT_DIR [--crops-per-class 16] [--num-visualizations 8]

Reads OUTPUT_DIR/config.yaml, OUTPUT_DIR/inference/results.json and OUTPUT_DIR/model_final.pth; writes
OUTPUT_DIR/toy_report.md, OUTPUT_DIR/toy_report.json and OUTPUT_DIR/visualizations/<image id>.png
(input | ground truth | prediction; unseen classes are marked with "*").
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import open_clip
import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog
from detectron2.data.catalog import Metadata
from detectron2.utils.visualizer import Visualizer
from PIL import Image, ImageDraw
from tabulate import tabulate

import gpa  # noqa: F401  (registers the model)
import gpa_toy
from gpa.checkpoint import GPACheckpointer
from gpa.engine import Trainer, build_config
from gpa.engine.trainer import RESULTS_FILE
from gpa.evaluation.class_split import harmonic_mean
from gpa.modeling.backbone.clip_model_loading import create_clip_model
from gpa.modeling.backbone.open_clip_configs import register_model_configs
from gpa_toy.zero_shot import DenseEncoderCLIP, object_zero_shot_accuracy

REPORT_JSON, REPORT_MD, VISUALIZATION_DIR = "toy_report.json", "toy_report.md", "visualizations"
UNSEEN_MARK = "*"
PARTS = ("seen", "unseen", "hm", "all")
# table row -> (task key in the evaluation results, metric prefix)
SEGMENTATION_ROWS = {"PQ": ("panoptic_seg", "PQ"), "mIoU": ("sem_seg", "mIoU")}
CROP_ROWS = {"before": "crop zero-shot acc., pretrained CLIP", "after": "crop zero-shot acc., after training"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", type=Path, help="OUTPUT_DIR of a finished tools/train_net.py run")
    parser.add_argument("--dataset", help="evaluated dataset with unseen classes (default: the first of "
                                          "DATASETS.TEST whose results have seen/unseen scores)")
    parser.add_argument("--crops-per-class", type=int, default=16, help="held-out crops per object class")
    parser.add_argument("--num-visualizations", type=int, default=8, help="validation images with unseen classes")
    args = parser.parse_args(argv)
    for name in ("crops_per_class", "num_visualizations"):
        if getattr(args, name) < 0 or (name == "crops_per_class" and args.crops_per_class == 0):
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    return args


def require_run_file(path: Path, what: str) -> Path:
    """`path` if it is a file; otherwise an error naming it and the run that writes it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} ({what}) does not exist; run tools/train_net.py with OUTPUT_DIR "
                                f"{path.parent if what != 'evaluation results' else path.parent.parent} first")
    return path


def load_run(output_dir: Path) -> tuple[CfgNode, dict]:
    """The run's config and its evaluation results (per dataset)."""
    gpa_toy.register()  # the toy datasets and tiny CLIP, also for runs whose config.yaml predates EXTENSIONS
    cfg = build_config(require_run_file(output_dir / "config.yaml", "the run's config"))
    with open(require_run_file(output_dir / "inference" / RESULTS_FILE, "evaluation results"), encoding="utf-8") as f:
        results = json.load(f)
    return cfg, results


def choose_dataset(results: Mapping[str, Mapping], requested: str | None) -> str:
    """The dataset to report: `requested`, or the first one with seen/unseen scores."""
    split = [name for name, tasks in results.items() if "PQ_hm" in tasks.get("panoptic_seg", {})
             or "mIoU_hm" in tasks.get("sem_seg", {})]
    if requested is not None:
        if requested not in split:
            raise ValueError(f"--dataset {requested}: no seen/unseen results for it; datasets with them: {split}")
        return requested
    if not split:
        raise ValueError(f"none of the evaluated datasets {list(results)} has seen/unseen scores; evaluate a dataset "
                         "whose metadata lists unseen_classes (e.g. DATASETS.TEST ('gpa_toy_val',))")
    return split[0]


def segmentation_rows(tasks: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """{"PQ": {seen, unseen, hm, all}, "mIoU": {...}} from one dataset's results (tasks evaluated only)."""
    rows = {}
    for row, (task, metric) in SEGMENTATION_ROWS.items():
        if f"{metric}_hm" in tasks.get(task, {}):
            values = tasks[task]
            rows[row] = {"seen": values[f"{metric}_seen"], "unseen": values[f"{metric}_unseen"],
                         "hm": values[f"{metric}_hm"], "all": values[metric]}
    return rows


def crop_row(accuracy: Mapping[str, float]) -> dict[str, float]:
    return {"seen": accuracy["seen"], "unseen": accuracy["unseen"],
            "hm": harmonic_mean(accuracy["seen"], accuracy["unseen"]), "all": accuracy["all"]}


def format_report_table(dataset: str, segmentation: Mapping[str, Mapping[str, float]],
                        crops: Mapping[str, Mapping[str, float]]) -> str:
    """The one table: segmentation rows, then crop accuracy before / after training and the change."""
    def fmt(value: float | None, signed: bool = False) -> str:
        if value is None or math.isnan(value):
            return "-"
        return f"{value:+.1f}" if signed else f"{value:.1f}"

    rows = [[name] + [fmt(values[p]) for p in PARTS] for name, values in segmentation.items()]
    for key, label in CROP_ROWS.items():
        if key in crops:
            rows.append([label] + [fmt(crops[key][p]) for p in PARTS])
    if {"before", "after"} <= set(crops):
        rows.append(["change of crop acc. (after - before)"]
                    + [fmt(crops["after"][p] - crops["before"][p], signed=True) for p in PARTS])
    headers = [dataset, "seen", "unseen", "harmonic mean", "all"]
    return tabulate(rows, headers=headers, tablefmt="pipe", colalign=("left",) + ("right",) * len(PARTS),
                    disable_numparse=True)


# ---------------------------------------------------------------------------------------------- models
def load_trained_model(cfg: CfgNode, output_dir: Path) -> torch.nn.Module:
    model = Trainer.build_model(cfg)
    final = str(require_run_file(output_dir / "model_final.pth", "the final checkpoint"))
    GPACheckpointer.from_config(cfg, model).resume_or_load(final, resume=False)
    return model.eval()


def crop_accuracies(cfg: CfgNode, model: torch.nn.Module, per_class: int) -> dict[str, dict[str, float]]:
    """Zero-shot crop accuracy of the pretrained CLIP (open_clip's own encoder) and of the trained encoder."""
    clip = cfg.MODEL.CLIP
    register_model_configs(tuple(clip.MODEL_CONFIG_FILES))
    pretrained = create_clip_model(clip.MODEL_NAME, clip.PRETRAINED, clip.CACHE_DIR).eval()
    image_size = pretrained.visual.image_size[0]
    tokenizer = open_clip.get_tokenizer(clip.MODEL_NAME)
    before = object_zero_shot_accuracy(pretrained, tokenizer, per_class, image_size, autocast_dtype=None)
    after = object_zero_shot_accuracy(DenseEncoderCLIP(model.backbone), model.backbone.tokenize, per_class,
                                      image_size, autocast_dtype=None)
    return {"before": crop_row(before), "after": crop_row(after)}


# ---------------------------------------------------------------------------------------------- pictures
def display_metadata(dataset: str) -> Metadata:
    """The dataset's metadata for detectron2's Visualizer: names over all classes (a panoptic segment's
    category id indexes the full contiguous order), unseen names marked with UNSEEN_MARK."""
    metadata = MetadataCatalog.get(dataset)
    unseen = set(metadata.unseen_classes)
    names = [n + UNSEEN_MARK if i in unseen else n for i, n in enumerate(metadata.stuff_classes)]
    colors = metadata.get("stuff_colors") or [[128, 128, 128]] * len(names)
    return Metadata(name=f"{dataset}_display", stuff_classes=names, thing_classes=names, stuff_colors=colors,
                    thing_colors=colors)


def records_with_unseen(dataset: str, limit: int) -> list[dict]:
    """The first `limit` records (by image id) whose ground truth shows an unseen class."""
    unseen = set(MetadataCatalog.get(dataset).unseen_classes)
    records = sorted(DatasetCatalog.get(dataset), key=lambda r: r["image_id"])
    return [r for r in records if any(s["category_id"] in unseen for s in r["segments_info"])][:limit]


def _panel(image: np.ndarray, title: str, width: int) -> np.ndarray:
    """An image with a title bar above it, padded to `width`."""
    bar = Image.new("RGB", (width, 18), (255, 255, 255))
    ImageDraw.Draw(bar).text((4, 3), title, fill=(0, 0, 0))
    body = np.full((image.shape[0], width, 3), 255, dtype=np.uint8)
    body[:, : image.shape[1]] = image
    return np.concatenate([np.asarray(bar), body], axis=0)


@torch.no_grad()
def write_visualizations(cfg: CfgNode, model: torch.nn.Module, dataset: str, limit: int, folder: Path,
                         scale: float = 4.0) -> list[Path]:
    """input | ground truth | prediction (panoptic) of validation images with unseen classes, as PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = display_metadata(dataset)
    mapper = DatasetMapper(cfg, is_train=False)
    written = []
    for record in records_with_unseen(dataset, limit):
        image = np.asarray(Image.open(record["file_name"]).convert("RGB"))
        panoptic, segments = model([mapper(dict(record))])[0]["panoptic_seg"]
        gt = {k: v for k, v in record.items() if k != "sem_seg_file_name"}  # draw the panoptic ground truth only
        drawn_gt = Visualizer(image, metadata, scale=scale).draw_dataset_dict(gt).get_image()
        drawn_pred = Visualizer(image, metadata, scale=scale).draw_panoptic_seg(panoptic.cpu(), segments).get_image()
        big = np.asarray(Image.fromarray(image).resize(drawn_gt.shape[1::-1], Image.NEAREST))
        width = drawn_gt.shape[1]
        row = np.concatenate([_panel(big, "input", width), _panel(drawn_gt, "ground truth", width),
                              _panel(drawn_pred, f"prediction ({UNSEEN_MARK} = unseen in training)", width)], axis=1)
        path = folder / f"{record['image_id']}.png"
        Image.fromarray(row).save(path)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    output_dir = args.output_dir
    cfg, results = load_run(output_dir)
    dataset = choose_dataset(results, args.dataset)
    timings = {}

    start = time.perf_counter()
    model = load_trained_model(cfg, output_dir)
    crops = crop_accuracies(cfg, model, args.crops_per_class)
    timings["crop_accuracy_s"] = time.perf_counter() - start

    start = time.perf_counter()
    pictures = write_visualizations(cfg, model, dataset, args.num_visualizations, output_dir / VISUALIZATION_DIR)
    timings["visualizations_s"] = time.perf_counter() - start

    segmentation = segmentation_rows(results[dataset])
    table = format_report_table(dataset, segmentation, crops)
    notes = (f"{cfg.SOLVER.MAX_ITER} iterations of {cfg.MODEL.CLIP.MODEL_NAME} ({cfg.MODEL.CLIP.PRETRAINED}); "
             f"crop accuracy: 64-way over all object classes, {args.crops_per_class} held-out crops per class; "
             "mIoU over the classes present in the ground truth; harmonic mean = 2 * seen * unseen / (seen + unseen)")
    report = {"dataset": dataset, "segmentation": segmentation, "crop_accuracy": crops,
              "iterations": cfg.SOLVER.MAX_ITER, "seed": cfg.SEED, "config": str(output_dir / "config.yaml"),
              "visualizations": [str(p) for p in pictures], "timings": timings}
    (output_dir / REPORT_JSON).write_text(json.dumps(report, indent=1), encoding="utf-8")
    (output_dir / REPORT_MD).write_text(f"{table}\n\n{notes}\n", encoding="utf-8")
    print(table)
    print(notes)
    if pictures:
        print(f"{len(pictures)} visualizations of validation images with unseen classes: {pictures[0].parent}/")
    else:
        print("no visualizations written (--num-visualizations 0 or no image with an unseen class)")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
