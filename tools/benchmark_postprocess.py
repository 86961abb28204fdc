#!/usr/bin/env python
"""Peak memory and time of GPA's post-processing alone (GPA.postprocess) on one large image.

  python tools/benchmark_postprocess.py --size 2048 --queries 250 --classes 150

Random predictions of Q queries over C classes (mask logits at stride 4 of a size x size image, as the
mask generator gives them) go through `GPA.postprocess` of the `gpa` package on the Python path, with
semantic, panoptic and instance results on. Run the script with PYTHONPATH pointing at another checkout
to measure that checkout's post-processing. Memory is the process's resident set (Linux, CPU): its peak
(ru_maxrss) during post-processing, and that peak minus the resident set just before it (inputs and
model-free state included in the first, not in the second). --device cuda reports CUDA allocator peaks.
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from types import SimpleNamespace

import torch


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2048, help="square image size in pixels")
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--classes", type=int, default=150)
    parser.add_argument("--chunk-pixels", type=int, default=None,
                        help="MODEL.MASK_FORMER.TEST.CHUNK_PIXELS (default: the config default)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return parser.parse_args(argv)


def resident_gib() -> float:
    """Current resident set of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**30


def peak_resident_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def random_blobs(queries: int, side: int, generator: torch.Generator) -> torch.Tensor:
    """Mask logits [Q, side, side]: a disc of random centre and radius per query, plus noise, so that
    queries overlap and panoptic inference finds segments as with real predictions."""
    centres = torch.rand(queries, 2, 1, 1, generator=generator) * side
    radii = side * (0.02 + 0.08 * torch.rand(queries, 1, 1, generator=generator))
    ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    distance = ((ys - centres[:, 0]) ** 2 + (xs - centres[:, 1]) ** 2).sqrt()
    return 3 * (radii - distance) / radii + 0.5 * torch.randn(queries, side, side, generator=generator)


def main() -> None:
    args = parse_args()
    from detectron2.structures import ImageList

    import gpa
    from gpa.config import add_gpa_config
    from gpa.modeling.meta_arch import GPA
    from gpa.vocabulary import Vocabulary

    chunk_pixels = args.chunk_pixels
    if chunk_pixels is None:
        from detectron2.config import get_cfg

        cfg = get_cfg()
        add_gpa_config(cfg)
        chunk_pixels = cfg.MODEL.MASK_FORMER.TEST.get("CHUNK_PIXELS", 0)  # older checkouts have no such key
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    size, queries = args.size, args.queries
    vocabulary = Vocabulary.from_strings([f"class {i}" for i in range(args.classes)],
                                         [i % 3 != 0 for i in range(args.classes)])
    probs = (3 * torch.randn(1, queries, args.classes + 1, generator=g)).softmax(-1).to(device)
    mask_logits = random_blobs(queries, size // 4, g)[None].to(device)
    images = ImageList(torch.zeros(1, 3, size, size, device=device), [(size, size)])
    model = SimpleNamespace(  # the attributes GPA.postprocess reads
        device=device, semantic_on=True, panoptic_on=True, instance_on=True, object_mask_threshold=0.0,
        overlap_threshold=0.8, detections_per_image=100, postprocess_chunk_pixels=chunk_pixels,
    )
    before, peak_before = resident_gib(), peak_resident_gib()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        allocated_before = torch.cuda.memory_allocated() / 2**30
    start = time.perf_counter()
    with torch.no_grad():
        results = GPA.postprocess(model, [{"height": size, "width": size}], images, probs, mask_logits, vocabulary)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    segments = len(results[0]["panoptic_seg"][1])
    print(f"gpa from {Path(gpa.__file__).parent}")
    print(f"post-processing of {queries} queries x {args.classes} classes at {size}x{size} on {args.device} "
          f"(chunk pixels {chunk_pixels}): {elapsed:.2f} s, {segments} panoptic segments")
    if device.type == "cuda":
        print(f"CUDA peak allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB "
              f"({torch.cuda.max_memory_allocated() / 2**30 - allocated_before:.2f} GiB above the inputs)")
    else:
        peak = peak_resident_gib()
        note = "" if peak > peak_before else " (no higher than the peak before post-processing: a lower bound)"
        print(f"peak resident set {peak:.2f} GiB, {peak - before:.2f} GiB above the {before:.2f} GiB "
              f"before post-processing{note}")
    output_gib = (args.classes + 100) * size * size * 4 / 2**30
    print(f"(the results alone: semantic scores [C, H, W] and 100 instance masks, float32: {output_gib:.2f} GiB)")


if __name__ == "__main__":
    main()
