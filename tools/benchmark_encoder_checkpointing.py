#!/usr/bin/env python
"""Time and peak memory of the CLIP image encoder alone, with and without activation checkpointing.

  python tools/benchmark_encoder_checkpointing.py ckpt      (one variant per process: min, sac, ckpt, plain, frozen)

Variants: "frozen" (no adapters, forward without gradients: the frozen baseline's encoder), "plain"
(adapters, no checkpointing), "ckpt" (adapters, MODEL.CLIP.CHECKPOINT_MODE full on every stage), "sac"
(adapters, CHECKPOINT_MODE selective on every stage), "min" (adapters, CHECKPOINT_MODE minimal on every
stage). One forward and backward (loss = a fixed random weighting of every output,
whose gradients enter the encoder laid out as its maps) of a random-init model on a random image;
prints the times and the process's peak resident set.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

VARIANTS = {
    "frozen": dict(adapter_enabled=False),
    "plain": dict(),
    "ckpt": dict(checkpoint_stages=(0, 1, 2, 3), checkpoint_mode="full"),
    "sac": dict(checkpoint_stages=(0, 1, 2, 3), checkpoint_mode="selective"),
    "min": dict(checkpoint_stages=(0, 1, 2, 3), checkpoint_mode="minimal"),
}


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def loss_weights(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fixed random weights of the loss sum(w * output), laid out as the outputs (channels-last maps), so that
    gradients enter the encoder in that layout, as the pixel decoder's convolutions send them. A mean's gradient
    is an expanded scalar that reaches the encoder as contiguous NCHW maps, and every step of the backward then
    mixes two layouts (converting such gradients to channels-last at each stage's output made the encoder's
    backward at 512 x 512 7-14% faster in two in-process comparisons, with the same gradients)."""
    generator = torch.Generator().manual_seed(0)
    weights = {}
    for name, value in outputs.items():
        noise = torch.randn(value.shape, generator=generator) / value.numel()
        weights[name] = torch.empty_like(value, dtype=torch.float32).copy_(noise)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=list(VARIANTS))
    parser.add_argument("--model", default="convnext_large_d_320", help="open_clip ConvNeXt model name")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--iters", type=int, default=1)
    args = parser.parse_args()
    from gpa.modeling.backbone import CLIPBackbone

    torch.manual_seed(0)
    backbone = CLIPBackbone(args.model, **VARIANTS[args.variant]).train()
    image = torch.randn(1, 3, args.size, args.size)
    weights: dict[str, torch.Tensor] = {}
    built = peak_gib()
    for step in range(args.iters):
        start = time.perf_counter()
        if args.variant == "frozen":
            with torch.no_grad():
                outputs = backbone(image)
            forward_end = backward_start = backward_end = time.perf_counter()
        else:
            outputs = backbone(image)
            forward_end = time.perf_counter()
            weights = weights or loss_weights(outputs)  # made once, outside the timed backward
            backward_start = time.perf_counter()
            sum((v.float() * weights[k]).sum() for k, v in outputs.items()).backward()
            backward_end = time.perf_counter()
        del outputs
        print(f"{args.variant} iter {step}: forward {forward_end - start:.1f} s, backward "
              f"{backward_end - backward_start:.1f} s, peak RSS {peak_gib():.2f} GiB (after build {built:.2f})")


if __name__ == "__main__":
    main()
