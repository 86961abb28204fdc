#!/usr/bin/env python
"""Where one training iteration's time goes: the real Trainer (data loader, mapper, model, losses, optimizer,
hooks) of a config, profiled with torch.profiler after a warmup.

python tools/profile_training.py --config-file configs/toy/gpa.yaml
python tools/profile_training.py --config-file configs/toy/gpa.yaml --iters 10 --rows 40 --opts SOLVER.IMS_PER_BATCH 4
python tools/profile_training.py --config-file configs/toy/gpa.yaml --autocast bf16 --compile backbone

Prints seconds per iteration without the profiler (median of --iters), then the profiled iterations' self CPU
time by kind of operator (matrix products, attention, convolution, grid sampling, data loading, optimizer,
everything else) and the --rows most expensive operators.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence

import torch
from detectron2.utils.events import EventStorage

from gpa.config_loading import ConfigError
from gpa.engine import Trainer, build_config

# operator-name prefixes of each kind, first match wins; the rest is "other (elementwise, copies, indexing, ...)"
KINDS: list[tuple[str, tuple[str, ...]]] = [
    ("data loading", ("enumerate(DataLoader)",)),
    ("optimizer step", ("Optimizer.",)),
    ("matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear", "aten::matmul")),
    ("attention", ("aten::_scaled_dot_product", "aten::scaled_dot_product")),
    ("convolution", ("aten::convolution", "aten::mkldnn_convolution", "aten::_slow_conv2d",
                     "aten::_convolution", "aten::conv")),
    ("grid sampling", ("aten::grid_sampler",)),
]
AUTOCAST = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
OTHER = "other (elementwise, copies, reductions, indexing)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--iters", type=int, default=10, help="timed and profiled iterations, each")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rows", type=int, default=25, help="operators listed")
    parser.add_argument("--autocast", choices=sorted(AUTOCAST), default="none",
                        help="run each iteration under torch.autocast with this dtype (on any device)")
    parser.add_argument("--compile", nargs="+", default=[], metavar="MODULE",
                        help="torch.compile these child modules of the model (e.g. backbone sem_seg_head)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    for name in ("iters", "rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    return args


def kind_of(name: str) -> str:
    """The kind of an operator (KINDS), by its profiler name."""
    for kind, prefixes in KINDS:
        if name.startswith(prefixes):
            return kind
    return OTHER


def self_time_by_kind(events: Sequence) -> dict[str, float]:
    """Seconds of self CPU time per kind over profiler key averages (events with .key and .self_cpu_time_total)."""
    totals: dict[str, float] = defaultdict(float)
    for event in events:
        totals[kind_of(event.key)] += event.self_cpu_time_total / 1e6
    return dict(totals)


class TrainingLoop:
    """The Trainer of a config stepped one iteration at a time, hooks included, as Trainer.train runs it."""

    def __init__(self, config_file: str, opts: Sequence[str], output_dir: str, autocast: torch.dtype | None = None,
                 compile_modules: Sequence[str] = ()) -> None:
        cfg = build_config(config_file, [*opts, "OUTPUT_DIR", output_dir])
        self.trainer = Trainer(cfg)
        self.trainer.resume_or_load(resume=False)
        self.autocast = autocast
        model = self.trainer._trainer.model
        for name in compile_modules:
            child = getattr(model, name, None)
            if not isinstance(child, torch.nn.Module):
                names = ", ".join(n for n, _ in model.named_children())
                raise ValueError(f"--compile {name}: the model has no child module {name!r}; children: {names}")
            child.compile()
        self.storage = EventStorage(0)
        self.storage.__enter__()
        self.trainer.storage = self.trainer._trainer.storage = self.storage
        self.trainer.iter = self.trainer.start_iter = 0
        self.trainer.max_iter = cfg.SOLVER.MAX_ITER
        self.trainer.before_train()

    def step(self) -> None:
        if self.trainer.iter >= self.trainer.max_iter:
            raise ValueError(f"SOLVER.MAX_ITER={self.trainer.max_iter} is reached; raise it or lower --iters/--warmup")
        self.storage.iter = self.trainer.iter
        self.trainer.before_step()
        device = self.trainer._trainer.model.device.type
        with torch.autocast(device, dtype=self.autocast, enabled=self.autocast is not None):
            self.trainer.run_step()
        self.trainer.after_step()
        self.trainer.iter += 1


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gpa-profile-") as output_dir:
        loop = TrainingLoop(args.config_file, args.opts, output_dir, AUTOCAST[args.autocast], args.compile)
        for _ in range(args.warmup):
            loop.step()
        seconds = []
        for _ in range(args.iters):
            start = time.perf_counter()
            loop.step()
            seconds.append(time.perf_counter() - start)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(args.iters):
                loop.step()
    events = prof.key_averages()
    by_kind = self_time_by_kind(events)
    total = sum(by_kind.values())
    per_iter = statistics.median(seconds)
    variant = " ".join([*args.opts, *([f"autocast {args.autocast}"] if args.autocast != "none" else []),
                        *([f"compiled {' '.join(args.compile)}"] if args.compile else [])])
    print(f"{args.config_file}{' (' + variant + ')' if variant else ''}: {per_iter:.3f} s/iteration (median of "
          f"{args.iters}, {torch.get_num_threads()} threads), {total / args.iters:.3f} s/iteration profiled")
    print("\nself CPU time by kind of operator (profiled iterations):")
    for kind, value in sorted(by_kind.items(), key=lambda item: -item[1]):
        print(f"  {kind:<52} {value / args.iters * 1e3:8.1f} ms/iteration  {100 * value / total:5.1f}%")
    print()
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=60))
    return {"s_per_iter": per_iter, "ms_per_iter_by_kind": {k: v / args.iters * 1e3 for k, v in by_kind.items()}}


if __name__ == "__main__":
    try:
        main()
    except ConfigError as err:
        sys.exit(f"error: {err}")
