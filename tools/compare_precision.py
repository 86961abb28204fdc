#!/usr/bin/env python
"""How much half-precision inference changes a model's panoptic results: fp32 against bf16 / fp16 autocast.

  python tools/compare_precision.py --config-file configs/toy/gpa.yaml --weights output/toy/gpa/model_final.pth

Runs the Predictor once per precision over a dataset's images (default: the toy world's validation
split, 200 images, with its vocabulary) and prints, per lower precision, the share of pixels whose
panoptic label is the same as in fp32: the class of the pixel's segment (no segment counts as one
label), and the stricter share where the segment is also the same one (matched by id). Also the
inference time per image of each precision.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--dataset", default="gpa_toy_val", help="a registered dataset (its images and vocabulary)")
    parser.add_argument("--precisions", nargs="+", default=["bf16"], help="compared with fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (0 = all)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides: KEY VALUE ...")
    return parser.parse_args(argv)


def panoptic_labels(result) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the class id of its segment (-1 = none) and its segment id (0 = none)."""
    ids = result.panoptic_map
    classes = np.full(ids.shape, -1, dtype=np.int64)
    for segment in result.segments:
        classes[ids == segment.id] = segment.class_id
    return classes, ids


def main() -> None:
    args = parse_args()
    from detectron2.data import DatasetCatalog, MetadataCatalog

    import gpa  # noqa: F401  (registers the builtin datasets)
    from gpa.config_loading import load_config
    from gpa.inference import Predictor

    load_config(args.config_file, args.opts)  # loads the config's EXTENSIONS, which register their datasets
    records = DatasetCatalog.get(args.dataset)
    paths = [Path(r["file_name"]) for r in records][: args.limit or None]
    vocabulary = MetadataCatalog.get(args.dataset).vocabulary
    runs = {}
    for precision in ["fp32", *args.precisions]:
        predictor = Predictor(args.config_file, args.weights, device=args.device, opts=args.opts,
                              precision=precision, vocabulary=vocabulary)
        start = time.perf_counter()
        runs[precision] = [panoptic_labels(predictor.predict(path, task="panoptic")) for path in paths]
        print(f"{precision}: {len(paths)} images, {(time.perf_counter() - start) / len(paths) * 1000:.1f} ms/image")
    total = sum(classes.size for classes, _ in runs["fp32"])
    for precision in args.precisions:
        same_class = same_segment = 0
        for (ref_classes, ref_ids), (classes, ids) in zip(runs["fp32"], runs[precision]):
            agree = classes == ref_classes
            same_class += int(agree.sum())
            same_segment += int((agree & (ids == ref_ids)).sum())
        print(f"{precision} vs fp32 on {args.dataset} ({len(paths)} images, {total} pixels): same panoptic class "
              f"{100 * same_class / total:.2f}% of pixels, same class and segment {100 * same_segment / total:.2f}%")


if __name__ == "__main__":
    main()
