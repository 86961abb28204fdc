#!/usr/bin/env python
"""Segment images or a video into any classes, and write what was found.

python tools/demo.py --config-file configs/coco/gpa_convnext_large.yaml --weights model_final.pth \\
    --input photos/ "more/*.jpg" --output out/ --vocabulary "car,automobile;person;sky;road" --stuff "sky;road"

Classes are separated by ";" and synonyms by "," (the first name is the one displayed). Classes are things
(one segment per object) unless listed in --stuff (one segment per class). Instead of --vocabulary:
--vocabulary-file (an `id:name,synonym` class file) or --builtin-vocabulary (coco, ade20k_150, large, ...).

Per image it writes <stem>_visualization.png, <stem>_<task>.png (panoptic / instance: segment ids as
R + 256 G + 256^2 B; semantic: class ids) and <stem>_segments.json (segments with class names, scores,
areas, boxes; their ids are the ids in the PNG). With --video-input it writes <stem>_<task>.mp4 with the
segmentation drawn over every frame. Paths are taken relative to the current directory.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from gpa.argument_types import bounded_float, bounded_int
from gpa.data import BUILTIN_VOCABULARIES
from gpa.inference import PRECISIONS, TASKS, Predictor, collect_image_paths
from gpa.inference.result import PredictionResult
from gpa.inference.result_files import save_outputs
from gpa.inference.video import VideoReader, VideoWriter
from gpa.inference.visualization import draw_result, vocabulary_metadata
from gpa.vocabulary import parse_vocabulary_string, read_vocabulary_file

DEFAULT_CONFIDENCE = 0.5  # --confidence-threshold of the instance task


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True, help="the config the weights were trained with")
    parser.add_argument("--weights", default=None, help="trained checkpoint (default: MODEL.WEIGHTS)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: MODEL.DEVICE)")
    parser.add_argument("--precision", choices=list(PRECISIONS), default=None,
                        help="bf16 / fp16: run the network under autocast (faster on GPUs, results differ "
                             "slightly); default: the config's TEST.AMP (fp32 unless set)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", nargs="+", help="image files, folders (their images) and glob patterns")
    source.add_argument("--video-input", help="a video file; frames are segmented one by one")
    parser.add_argument("--output", required=True, help="folder for the results (created if missing)")
    classes = parser.add_mutually_exclusive_group(required=True)
    classes.add_argument("--vocabulary", help='classes: "car,automobile;person;sky"')
    classes.add_argument("--vocabulary-file", help="an `id:name,synonym,...` class file, one class per line")
    classes.add_argument("--builtin-vocabulary", choices=list(BUILTIN_VOCABULARIES), help="a named class list")
    parser.add_argument("--stuff", default="", help='classes of --vocabulary(-file) that are stuff: "sky;road"')
    parser.add_argument("--task", choices=list(TASKS), default="panoptic")
    parser.add_argument("--confidence-threshold", type=bounded_float(0.0, 1.0), default=None,
                        help=f"instance task: keep instances scoring at least this (default {DEFAULT_CONFIDENCE})")
    parser.add_argument("--batch-size", type=bounded_int(1), default=1, help="images per model call")
    parser.add_argument("--num-workers", type=bounded_int(0), default=2,
                        help="DataLoader workers reading and resizing images")
    parser.add_argument("--vis-scale", type=bounded_float(0.0, 100.0, low_open=True), default=1.0,
                        help="size of the drawings relative to the image (above 1 for small images)")
    parser.add_argument("--video-fps", type=bounded_float(0.0, low_open=True), default=None,
                        help="output frame rate (default: the input's)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="config overrides: KEY VALUE ...")
    return parser


def vocabulary_from_args(args: argparse.Namespace) -> tuple[list[str] | str, list[str]]:
    """(vocabulary for the Predictor, stuff names) from the command line."""
    stuff = parse_vocabulary_string(args.stuff, "--stuff") if args.stuff else []
    if args.builtin_vocabulary:
        if stuff:
            raise SystemExit("--stuff applies to --vocabulary / --vocabulary-file; builtin vocabularies carry "
                             "their own thing/stuff split")
        return args.builtin_vocabulary, []
    if args.vocabulary_file:
        return read_vocabulary_file(args.vocabulary_file), stuff
    return parse_vocabulary_string(args.vocabulary), stuff


def check_unique_stems(paths: Sequence[Path]) -> None:
    """Outputs are named by file stem; two inputs with one stem would overwrite each other's results."""
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        by_stem[path.stem].append(path)
    clashes = {stem: files for stem, files in by_stem.items() if len(files) > 1}
    if clashes:
        stem, files = next(iter(clashes.items()))
        raise SystemExit(f"{len(clashes)} output names are shared by several inputs, e.g. {stem!r}: "
                         f"{', '.join(map(str, files))}; rename them or run them separately")


def keep(result: PredictionResult, args: argparse.Namespace) -> PredictionResult:
    if result.task != "instance":
        return result
    threshold = DEFAULT_CONFIDENCE if args.confidence_threshold is None else args.confidence_threshold
    return result.filter_by_score(threshold)


def run_images(predictor: Predictor, args: argparse.Namespace, vocabulary, stuff: list[str]) -> None:
    paths = collect_image_paths(args.input)
    check_unique_stems(paths)
    output = Path(args.output)
    metadata = vocabulary_metadata(predictor.vocabulary(vocabulary, stuff))
    start = time.perf_counter()
    results = predictor.predict_files(paths, vocabulary, task=args.task, stuff=stuff,
                                      batch_size=args.batch_size, num_workers=args.num_workers)
    for path, image, result in tqdm(results, total=len(paths), unit="image"):
        save_outputs(keep(result, args), image, output, path.stem, image_name=str(path), metadata=metadata,
                     visualization_scale=args.vis_scale)
    elapsed = time.perf_counter() - start
    print(f"{len(paths)} images in {elapsed:.1f} s: {len(paths) / elapsed:.2f} images/s "
          f"(reading, inference and writing; {args.num_workers} reader workers); results in {output}")


def run_video(predictor: Predictor, args: argparse.Namespace, vocabulary, stuff: list[str]) -> None:
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"{Path(args.video_input).stem}_{args.task}.mp4"
    metadata = vocabulary_metadata(predictor.vocabulary(vocabulary, stuff))
    start, frames = time.perf_counter(), 0
    with VideoReader(args.video_input) as reader:
        fps = args.video_fps if args.video_fps is not None else reader.fps
        if not fps > 0:
            raise SystemExit(f"video {args.video_input} reports no frame rate; pass --video-fps")
        writer = None
        try:
            for frame in tqdm(reader, total=reader.frame_count or None, unit="frame"):
                result = keep(predictor.predict(frame, vocabulary, task=args.task, stuff=stuff), args)
                drawing = draw_result(frame, result, metadata, args.vis_scale)
                if writer is None:
                    writer = VideoWriter(target, fps, drawing.shape[:2])
                writer.write(drawing)
                frames += 1
        finally:
            if writer is not None:
                writer.close()
    if frames == 0:
        raise SystemExit(f"video {args.video_input} has no frames OpenCV can decode")
    elapsed = time.perf_counter() - start
    print(f"{frames} frames in {elapsed:.1f} s: {frames / elapsed:.2f} frames/s; video in {target}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if Path(args.output).exists() and not Path(args.output).is_dir():
        parser.error(f"--output {args.output} is a file; it must be a folder (created if missing)")
    if args.confidence_threshold is not None and args.task != "instance":
        parser.error(f"--confidence-threshold filters instance results only; it does nothing for --task {args.task}")
    vocabulary, stuff = vocabulary_from_args(args)
    predictor = Predictor(args.config_file, args.weights, device=args.device, opts=args.opts,
                          precision=args.precision)
    predictor.vocabulary(vocabulary, stuff)  # a bad vocabulary fails before any image is read
    if args.video_input:
        run_video(predictor, args, vocabulary, stuff)
    else:
        run_images(predictor, args, vocabulary, stuff)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (FileNotFoundError, ValueError) as err:  # bad input: the message says what and how to fix it
        sys.exit(f"error: {err}")
