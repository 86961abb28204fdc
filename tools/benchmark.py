#!/usr/bin/env python
"""Speed, memory, parameter and FLOP figures of one or more configs' models.

  python tools/benchmark.py --config-file configs/coco/gpa_convnext_large.yaml \
      configs/coco/ablations/frozen_clip.yaml --size 1024 --batch 1 --iters 3 --warmup 1 \
      --opts MODEL.CLIP.PRETRAINED ""

Each config runs in its own process (so peak memory is its own). For training and inference it prints
seconds per iteration (median over --iters after --warmup), images/s, peak memory (CUDA allocator, or
the process's peak RSS on CPU; on CPU also the peak tensor memory of one more, untimed iteration, which
unlike the RSS does not vary between runs: tools/cpu_tensor_memory.py), total / trainable parameters,
GFLOPs of one inference forward (fvcore; operators fvcore cannot count are listed), and a breakdown by
stage: encoder forward, pixel decoder, transformer decoder, aggregation head, losses, encoder backward
(the time from the gradient reaching the encoder outputs to the end of backward) and the rest of
backward. Inputs are random images with random instance masks over the training vocabulary. With several
configs the last one is the baseline: every other's time and peak-memory ratios against it are printed
(e.g. GPA against the frozen-CLIP ablation, as above). With --interleave all configs run in this one
process, their iterations alternating (A B, B A, ...): a machine whose speed drifts between and during runs
then slows each config alike, so the time ratio holds still; peak memory is then not reported (the process
holds every model), except the CPU's peak tensor memory, which counts one config's step.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import nullcontext
from functools import partial

import torch

AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", nargs="+", required=True, help="one or more config files")
    parser.add_argument("--size", type=int, nargs="+", default=[1024],
                        help="input size in pixels: one number (square) or HEIGHT WIDTH")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5, help="timed iterations (median reported)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--amp", default="none", choices=sorted(AMP))
    parser.add_argument("--tasks", nargs="+", default=["train", "inference"], choices=["train", "inference"])
    parser.add_argument("--no-flops", action="store_true", help="skip the fvcore FLOP count")
    parser.add_argument("--json", help="also write all results to this JSON file")
    parser.add_argument("--interleave", action="store_true",
                        help="run all configs in this process, alternating their iterations (steadier time ratios; "
                        "no peak-memory figure)")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    if len(args.size) not in (1, 2) or min(args.size) < 32:
        parser.error(f"--size takes one size or HEIGHT WIDTH, each at least 32 pixels; got {args.size}")
    args.size = (args.size[0], args.size[-1])
    return args


class StageTimer:
    """Wall-clock time of named stages, synchronizing CUDA around each measurement."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.totals: dict[str, float] = defaultdict(float)
        self._starts: dict[str, float] = {}

    def now(self) -> float:
        if self.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def hook_module(self, module: torch.nn.Module, name: str) -> None:
        module.register_forward_pre_hook(lambda *_: self._starts.__setitem__(name, self.now()))
        module.register_forward_hook(
            lambda *_: self.totals.__setitem__(name, self.totals[name] + self.now() - self._starts[name])
        )

    def wrap_method(self, obj: object, method: str, name: str) -> None:
        """Time calls of `obj.method` (for entry points other than forward, e.g. forward_features)."""
        original = getattr(obj, method)

        def timed(*args, **kwargs):
            start = self.now()
            out = original(*args, **kwargs)
            self.totals[name] += self.now() - start
            return out

        setattr(obj, method, timed)

    def reset(self) -> None:
        self.totals.clear()


def make_inputs(cfg, size: tuple[int, int], batch: int, vocabulary_size: int, train_dataset: str) -> list[dict]:
    from detectron2.structures import BitMasks, Instances

    g = torch.Generator().manual_seed(0)
    inputs = []
    for _ in range(batch):
        height, width = size
        image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=g)
        instances = Instances((height, width))
        masks = torch.zeros(8, height, width, dtype=torch.bool)
        for i in range(8):
            y0 = int(torch.randint(0, height // 2, (1,), generator=g))
            x0 = int(torch.randint(0, width // 2, (1,), generator=g))
            masks[i, y0 : y0 + height // 3, x0 : x0 + width // 3] = True
        instances.gt_masks = BitMasks(masks)
        instances.gt_classes = torch.randint(0, vocabulary_size, (8,), generator=g)
        inputs.append(
            {"image": image, "instances": instances, "height": height, "width": width, "dataset_name": train_dataset}
        )
    return inputs


class ConfigBench:
    """One config's model, random inputs, optimizer and stage timer; `step(task)` runs one timed iteration."""

    def __init__(self, config_file: str, args: argparse.Namespace) -> None:
        from detectron2.modeling import build_model

        import gpa  # noqa: F401
        from gpa.engine import build_config
        from gpa.modeling.heads.context_aggregation import ContextAwareAggregation
        from gpa.vocabulary import resolve_vocabulary

        cfg = build_config(config_file, ["MODEL.DEVICE", args.device, *args.opts])
        torch.manual_seed(0)
        self.model = model = build_model(cfg)
        train_dataset = cfg.DATASETS.TRAIN[0]
        vocabulary = resolve_vocabulary(train_dataset)
        self.inputs = make_inputs(cfg, args.size, args.batch, len(vocabulary), train_dataset)
        self.autocast = (
            torch.autocast(device_type=args.device, dtype=AMP[args.amp]) if AMP[args.amp] is not None else nullcontext()
        )
        self.timer = timer = StageTimer(args.device)
        timer.hook_module(model.backbone, "encoder_forward")
        timer.wrap_method(model.sem_seg_head.pixel_decoder, "forward_features", "pixel_decoder")
        timer.hook_module(model.sem_seg_head.predictor, "transformer_decoder")
        if isinstance(model.cfa_head, ContextAwareAggregation):  # plain mask pooling gets no row of its own
            timer.hook_module(model.cfa_head, "aggregation_head")
        timer.hook_module(model.criterion, "losses")
        self.result = {
            "config": config_file,
            "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
            "size": args.size,
            "batch": args.batch,
            "amp": args.amp,
            "params_total": sum(p.numel() for p in model.parameters()),
            "params_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "params_image_encoder": sum(p.numel() for p in model.backbone.clip_model.visual.parameters()),
        }
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)

    def _encoder_backward_probe(self) -> dict:
        """Record when the first gradient reaches an encoder output."""
        model, timer = self.model, self.timer
        state = {"t": None}
        original = model.backbone.forward

        def forward(x):
            out = original(x)
            for value in out.values():
                if value.requires_grad:
                    value.register_hook(lambda g: state.__setitem__("t", state["t"] or timer.now()) or g)
            return out

        model.backbone.forward = forward
        return state

    def step(self, task: str) -> tuple[float, dict[str, float]]:
        """One training (forward, backward, optimizer step) or inference iteration: its time and stages."""
        model, timer, inputs = self.model, self.timer, self.inputs
        timer.reset()
        if task == "train":
            model.train()
            probe = self._encoder_backward_probe()
            start = timer.now()
            with self.autocast:
                losses = model(inputs)
            loss = sum(losses.values())
            backward_start = timer.now()
            loss.backward()
            end = timer.now()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            model.backbone.forward = type(model.backbone).forward.__get__(model.backbone)
            stages = dict(timer.totals)
            encoder_bwd = end - probe["t"] if probe["t"] else 0.0
            stages["encoder_backward"] = encoder_bwd
            stages["rest_of_backward"] = end - backward_start - encoder_bwd
            return timer.now() - start, stages
        model.eval()
        start = timer.now()
        with torch.no_grad(), self.autocast:
            model([{k: v for k, v in x.items() if k != "instances"} for x in inputs])
        return timer.now() - start, dict(timer.totals)

    def record(self, task: str, timings: list[tuple[float, dict[str, float]]], peak_memory_gb: float | None) -> None:
        """Store the median time and stages of the timed iterations; on CPU also the peak tensor memory."""
        median = statistics.median(elapsed for elapsed, _ in timings)
        breakdowns = [stages for _, stages in timings]
        self.result[task] = {
            "sec_per_iter": median,
            "iteration_sec": [elapsed for elapsed, _ in timings],
            "images_per_sec": self.result["batch"] / median,
            "peak_memory_gb": peak_memory_gb,
            "breakdown_sec": {k: statistics.median(b.get(k, 0.0) for b in breakdowns) for k in breakdowns[0]},
        }
        if self.result["device"] == "cpu":
            self.result[task]["peak_tensor_gb"] = (
                peak_tensor_bytes(self.model, self.optimizer, partial(self.step, task)) / 2**30
            )

    def count_flops(self) -> None:
        self.result["gflops_inference"], self.result["flops_uncounted_ops"] = count_flops(self.model, self.inputs[:1])


def task_order(tasks: list[str]) -> list[str]:
    """Inference first: on CPU the peak is the process's peak RSS so far, and training needs more."""
    return sorted(tasks, key=["inference", "train"].index)


def run_single(args: argparse.Namespace) -> dict:
    """Benchmark one config in this process; returns the figures."""
    bench = ConfigBench(args.config_file[0], args)
    for task in task_order(args.tasks):
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        timings = [bench.step(task) for _ in range(args.warmup + args.iters)][args.warmup :]
        peak = (
            torch.cuda.max_memory_allocated() / 2**30
            if args.device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        )
        bench.record(task, timings, peak)
    if not args.no_flops:
        bench.count_flops()
    return bench.result


def alternating_order(num_configs: int, rounds: int) -> list[int]:
    """Config indices in run order: 0..n-1, then n-1..0, and so on for `rounds` rounds."""
    forward = list(range(num_configs))
    return [i for r in range(rounds) for i in (forward if r % 2 == 0 else forward[::-1])]


def run_interleaved(args: argparse.Namespace) -> list[dict]:
    """All configs in this process, their iterations alternating (A B, then B A, ...), so that a machine whose
    speed drifts slows every config alike and the time ratios hold still. Peak memory is not reported (the
    process holds every model): run without --interleave for it; on CPU the peak tensor memory still is."""
    benches = [ConfigBench(config_file, args) for config_file in args.config_file]
    for task in task_order(args.tasks):
        timings: list[list[tuple[float, dict[str, float]]]] = [[] for _ in benches]
        for position, index in enumerate(alternating_order(len(benches), args.warmup + args.iters)):
            timed = benches[index].step(task)
            if position >= args.warmup * len(benches):
                timings[index].append(timed)
        for bench, bench_timings in zip(benches, timings):
            bench.record(task, bench_timings, None)
    if not args.no_flops:
        for bench in benches:
            bench.count_flops()
    return [bench.result for bench in benches]


def peak_tensor_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer, run_step) -> int:
    """Peak CPU tensor bytes of one more (untimed) step: the model's parameters, buffers and optimizer state
    at its start, plus the highest allocation above them during it (the counterpart of the CUDA figure)."""
    from cpu_tensor_memory import CPUTensorMemory, state_bytes

    state = [*model.parameters(), *model.buffers()]
    state += [v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    held = state_bytes(state)
    with CPUTensorMemory() as memory:
        run_step()
    return held + memory.peak_increase_bytes


def sdpa_flop_jit(inputs, outputs) -> int:
    """Multiply-adds of attention: QK^T and AV, each B*H*Lq*Lk*D (fvcore counts one per multiply-add)."""
    from fvcore.nn.jit_handles import get_shape

    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    batch_heads = 1
    for d in q[:-2]:
        batch_heads *= d
    return 2 * batch_heads * q[-2] * k[-2] * q[-1]


def mm_flop_jit(inputs, outputs) -> int:
    """Multiply-adds of aten::mm, also in its out= form (three inputs, which fvcore's matmul handle refuses)."""
    from fvcore.nn.jit_handles import get_shape

    a, b = get_shape(inputs[0]), get_shape(inputs[1])
    return a[0] * a[1] * b[1]


def count_flops(model, inputs) -> tuple[float, list[str]]:
    from fvcore.nn import FlopCountAnalysis

    model.eval()

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, image):
            x = {k: v for k, v in inputs[0].items() if k != "instances"}
            x["image"] = image
            out = self.inner([x])[0]
            return out["sem_seg"] if "sem_seg" in out else next(iter(out.values()))

    with torch.no_grad():
        analysis = FlopCountAnalysis(Wrapper(model), (inputs[0]["image"].to(model.device),))
        analysis.set_op_handle("aten::scaled_dot_product_attention", sdpa_flop_jit)
        analysis.set_op_handle("aten::mm", mm_flop_jit)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = analysis.total() / 1e9
    return total, sorted(analysis.unsupported_ops())


def print_results(results: list[dict]) -> None:
    from tabulate import tabulate

    rows = []
    for r in results:
        for task in ("train", "inference"):
            if task in r:
                t = r[task]
                rows.append(
                    [
                        r["config"],
                        task,
                        f"{t['sec_per_iter']:.3f}",
                        f"{t['images_per_sec']:.3f}",
                        f"{t['peak_memory_gb']:.2f}" if t["peak_memory_gb"] is not None else "-",
                        f"{t['peak_tensor_gb']:.2f}" if "peak_tensor_gb" in t else "-",
                    ]
                )
    headers = ["config", "task", "s/iter", "images/s", "peak GB", "peak tensor GB"]
    print(tabulate(rows, headers=headers, tablefmt="pipe"))
    print()
    for r in results:
        for task in ("train", "inference"):
            if task in r:
                times = ", ".join(f"{t:.3f}" for t in r[task]["iteration_sec"])
                print(f"{r['config']} {task}: timed iterations {times} s")
    print()
    stage_rows = []
    for r in results:
        for task in ("train", "inference"):
            if task in r:
                for stage, sec in r[task]["breakdown_sec"].items():
                    stage_rows.append([r["config"], task, stage, f"{sec:.3f}"])
    print(tabulate(stage_rows, headers=["config", "task", "stage", "s"], tablefmt="pipe"))
    print()
    param_rows = [
        [
            r["config"],
            f"{r['params_total'] / 1e6:.2f}M",
            f"{r['params_trainable'] / 1e6:.3f}M",
            f"{r['params_image_encoder'] / 1e6:.2f}M",
            f"{r.get('gflops_inference', float('nan')):.1f}",
        ]
        for r in results
    ]
    print(
        tabulate(
            param_rows,
            headers=["config", "params", "trainable", "image encoder", "GFLOPs (inference)"],
            tablefmt="pipe",
        )
    )
    for r in results:
        if r.get("flops_uncounted_ops"):
            print(f"{r['config']}: fvcore did not count {', '.join(r['flops_uncounted_ops'])}")
    if len(results) > 1:
        for line in ratio_lines(results):
            print(line)
    first = results[0]
    size, batch, amp = first['size'], first['batch'], first['amp']
    print(f"device: {first['device']}, input {size[0]}x{size[1]}, batch {batch}, amp {amp}")


def ratio_lines(results: list[dict]) -> list[str]:
    """Time and peak-memory ratios of every config against the last one (the baseline), per task."""
    base = results[-1]
    lines = []
    for r in results[:-1]:
        for task in ("train", "inference"):
            if task in r and task in base:
                time_ratio = r[task]["sec_per_iter"] / base[task]["sec_per_iter"]
                line = f"{task}: {r['config']} takes {time_ratio:.2f}x the time"
                if r[task]["peak_memory_gb"] is not None and base[task]["peak_memory_gb"] is not None:
                    memory_ratio = r[task]["peak_memory_gb"] / base[task]["peak_memory_gb"]
                    line += f" and {memory_ratio:.2f}x the peak memory"
                line += f" of {base['config']}"
                if "peak_tensor_gb" in r[task] and "peak_tensor_gb" in base[task]:
                    tensor_ratio = r[task]["peak_tensor_gb"] / base[task]["peak_tensor_gb"]
                    line += f" ({tensor_ratio:.2f}x its peak tensor memory)"
                lines.append(line)
    return lines


def run_in_subprocess(config_file: str, args: argparse.Namespace) -> dict:
    """Benchmark one config in its own process (so that its peak memory is its own); returns the figures."""
    command = [
        sys.executable,
        __file__,
        "--single",
        "--config-file",
        config_file,
        "--size",
        *map(str, args.size),
        "--batch",
        str(args.batch),
        "--iters",
        str(args.iters),
        "--warmup",
        str(args.warmup),
        "--device",
        args.device,
        "--amp",
        args.amp,
        "--tasks",
        *args.tasks,
    ]
    if args.no_flops:
        command.append("--no-flops")
    command += ["--opts", *args.opts]
    proc = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCHMARK_JSON ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-5000:])
        raise SystemExit(f"benchmark of {config_file} failed (exit code {proc.returncode})")
    return json.loads(lines[-1][len("BENCHMARK_JSON ") :])


def main() -> None:
    args = parse_args()
    if args.single:
        print("BENCHMARK_JSON " + json.dumps(run_single(args)))
        return
    if args.interleave:
        results = run_interleaved(args)
    else:
        results = [run_in_subprocess(config_file, args) for config_file in args.config_file]
    print_results(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
