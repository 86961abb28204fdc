#!/usr/bin/env python
"""Seconds per training iteration of config variants, measured in one process with their iterations alternating.

python tools/compare_training_speed.py --config-file configs/toy/gpa.yaml --rounds 20 \
    --variant "default=" --variant "one encoder layer=MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS 1"

Each variant (LABEL=KEY VALUE ...: config overrides on top of --config-file) is the real training loop of
tools/profile_training.py (data loader, mapper, model, losses, optimizer, hooks). After --warmup iterations of
each, every round runs one iteration of each variant, in reverse order every other round, so that the machine's
drift slows all variants alike (separate processes on a shared machine differ by more than the variants do).
Prints each variant's median and mean seconds per iteration and its ratio to the first variant's median.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from gpa.config_loading import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark import alternating_order  # noqa: E402
from profile_training import TrainingLoop  # noqa: E402


def parse_variant(text: str) -> tuple[str, list[str]]:
    """'LABEL=KEY VALUE ...' -> (label, [KEY, VALUE, ...])."""
    label, sep, overrides = text.partition("=")
    opts = overrides.split()
    if not sep or not label.strip():
        raise ValueError(f"--variant {text!r}: expected LABEL=KEY VALUE ... (e.g. 'default=' or "
                         f"'one layer=MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS 1')")
    if len(opts) % 2:
        raise ValueError(f"--variant {text!r}: config overrides come in KEY VALUE pairs, got {len(opts)} words")
    return label.strip(), opts


def summarize(labels: Sequence[str], seconds: Sequence[Sequence[float]]) -> list[dict]:
    """Median and mean seconds per variant and the ratio of each median to the first variant's."""
    first = statistics.median(seconds[0])
    return [{"variant": label, "median_s": statistics.median(s), "mean_s": statistics.mean(s),
             "ratio": statistics.median(s) / first, "seconds": list(s)} for label, s in zip(labels, seconds)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--variant", action="append", required=True,
                        help="LABEL=KEY VALUE ... (repeat; the first is the reference of the ratios)")
    parser.add_argument("--rounds", type=int, default=20, help="timed iterations of each variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations of each variant first")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    try:
        args.variants = [parse_variant(v) for v in args.variant]
    except ValueError as err:
        parser.error(str(err))
    labels = [label for label, _ in args.variants]
    if len(set(labels)) != len(labels):
        parser.error(f"--variant labels must differ, got {labels}")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gpa-speed-") as output_dir:
        loops = [TrainingLoop(args.config_file, opts, f"{output_dir}/{i}") for i, (_, opts) in
                 enumerate(args.variants)]
        for loop in loops:
            for _ in range(args.warmup):
                loop.step()
        seconds: list[list[float]] = [[] for _ in loops]
        for i in alternating_order(len(loops), args.rounds):
            start = time.perf_counter()
            loops[i].step()
            seconds[i].append(time.perf_counter() - start)
    rows = summarize([label for label, _ in args.variants], seconds)
    print(f"{args.config_file}: {args.rounds} alternating rounds after {args.warmup} warmup iterations each")
    print("| variant | overrides | median s/iteration | mean | ratio |")
    print("|:--|:--|--:|--:|--:|")
    for row, (_, opts) in zip(rows, args.variants):
        print(f"| {row['variant']} | {' '.join(opts) or '-'} | {row['median_s']:.3f} | {row['mean_s']:.3f} | "
              f"{row['ratio']:.2f} |")
    return rows


if __name__ == "__main__":
    try:
        main()
    except ConfigError as err:
        sys.exit(f"error: {err}")
