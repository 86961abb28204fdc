#!/usr/bin/env python
"""Pretrain a tiny CLIP on the toy world's image-caption pairs (the toy stand-in for web-scale pretraining).

The pairs cover all 64 colour x shape combinations, seen and unseen. Training is contrastive with identical
captions of a batch counted as positives, bf16 autocast on the CPU, AdamW with warmup and a cosine schedule,
and deterministic for a given seed and thread count. The fp16 state dict it saves loads with
`open_clip.create_model(name, pretrained=path)`.

python gpa_toy/tools/pretrain_toy_clip.py --steps 1500 --output gpa_toy/pretrained/gpa_toy_vit.pt \
    --log docs/toy/pretrain_gpa_toy_vit.log
python gpa_toy/tools/pretrain_toy_clip.py --eval-only --checkpoint gpa_toy/pretrained/gpa_toy_vit.pt

`--init CHECKPOINT` continues from saved weights with a fresh optimizer, warmup and schedule; give it another
`--seed` so the continuation draws new image-caption pairs. `--region-batch-size N` adds the region-caption
alignment loss on N segmentation-like scenes per step (gpa_toy/region_alignment.py), so that the dense
features, pooled over one segment, name it; the final evaluation always reports this region accuracy.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import open_clip
import torch

from gpa.modeling.backbone.encoders import DENSE_FEATURE
from gpa.modeling.backbone.open_clip_configs import register_model_configs
from gpa_toy.captions import sample_captioned_batch, single_object_images, texture_images
from gpa_toy.contrastive_loss import caption_group_ids, multi_positive_contrastive_loss
from gpa_toy.pretrained_clip import TOY_CLIP_CONFIG, TOY_CLIP_MODEL
from gpa_toy.region_alignment import (
    class_prompts,
    dense_encoder,
    region_alignment_loss,
    region_embeddings,
    region_zero_shot_accuracy,
    sample_region_batch,
)
from gpa_toy.world import STUFF_CLASSES, THING_CLASSES
from gpa_toy.zero_shot import HELD_OUT_SEED, images_to_tensor, object_accuracies, zero_shot_predictions

EVAL_SEED = HELD_OUT_SEED  # held-out zero-shot images: a stream of their own, never used for training
MAX_LOGIT_SCALE = math.log(100.0)  # CLIP's clamp of the learned temperature
PRECISIONS = {"bf16": torch.bfloat16, "fp32": None}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=TOY_CLIP_MODEL,
                        help="open_clip model name (gpa/model_configs/*.json, or gpa_toy/pretrained/gpa_toy_vit.json)")
    parser.add_argument("--model-config", action="append", default=[], help="extra open_clip model-config JSON")
    parser.add_argument("--steps", type=int, help="training steps; the cosine schedule spans them")
    parser.add_argument("--minutes", type=float, help="wall-clock budget; alone, the schedule follows elapsed time")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--grad-clip", type=float, default=1.0, help="max gradient norm (0 = no clipping)")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="bf16", help="autocast dtype on the CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (results depend on it)")
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=250, help="steps between zero-shot checks (0 = none)")
    parser.add_argument("--eval-per-class", type=int, default=32, help="held-out images per class, final eval")
    parser.add_argument("--region-batch-size", type=int, default=0,
                        help="scenes per step for the region-caption alignment loss (0 = whole images only)")
    parser.add_argument("--region-image-size", type=int, default=96, help="side of the region scenes (pixels)")
    parser.add_argument("--region-weight", type=float, default=1.0, help="weight of the region alignment loss")
    parser.add_argument("--eval-scenes", type=int, default=200,
                        help="held-out scenes for the region accuracy of the final eval")
    parser.add_argument("--output", type=Path, help="where to save the fp16 state dict (.pt)")
    parser.add_argument("--log", type=Path, help="log file (default: the output path with .log)")
    parser.add_argument("--eval-only", action="store_true", help="only print the zero-shot accuracy of --checkpoint")
    parser.add_argument("--checkpoint", type=Path, help="state dict to evaluate with --eval-only")
    parser.add_argument("--init", type=Path, help="start training from this state dict (fresh optimizer/schedule)")
    args = parser.parse_args(argv)
    if args.init is not None:
        if args.eval_only:
            parser.error("--init starts training; to evaluate a state dict use --eval-only --checkpoint PATH")
        if not args.init.is_file():
            parser.error(f"--init {args.init} does not exist")
    if args.eval_only:
        if args.checkpoint is None:
            parser.error("--eval-only needs --checkpoint PATH")
        if not args.checkpoint.is_file():
            parser.error(f"--checkpoint {args.checkpoint} does not exist")
    else:
        if args.output is None:
            parser.error("training needs --output PATH for the checkpoint (or use --eval-only --checkpoint PATH)")
        if args.steps is None and args.minutes is None:
            parser.error("give a training budget: --steps N and/or --minutes M")
    if args.region_batch_size < 0:
        parser.error(f"--region-batch-size must be 0 (off) or positive, got {args.region_batch_size}")
    if args.region_weight <= 0:
        parser.error(f"--region-weight must be positive, got {args.region_weight} "
                     "(--region-batch-size 0 turns the region loss off)")
    for name in ("steps", "minutes", "batch_size", "threads", "eval_per_class", "region_image_size", "eval_scenes"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


class Log:
    """Prints lines and appends them to a file."""

    def __init__(self, path: Path | None) -> None:
        self.file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(path, "w", encoding="utf-8")  # closed by close()

    def __call__(self, line: str) -> None:
        print(line, flush=True)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class Budget:
    """Training progress in [0, 1] from steps (deterministic) or, with only --minutes, from elapsed time."""

    def __init__(self, steps: int | None, minutes: float | None) -> None:
        self.steps, self.seconds = steps, minutes * 60 if minutes is not None else None

    def progress(self, step: int, elapsed: float) -> float:
        if self.steps is not None:
            return step / self.steps
        return min(1.0, elapsed / self.seconds)

    def done(self, step: int, elapsed: float) -> bool:
        over_time = self.seconds is not None and elapsed >= self.seconds
        return over_time or (self.steps is not None and step >= self.steps)


def learning_rate(base_lr: float, step: int, warmup_steps: int, progress: float) -> float:
    """Linear warmup over `warmup_steps`, then cosine decay to 0 at progress 1."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return 0.5 * base_lr * (1 + math.cos(math.pi * min(1.0, progress)))


class CachedTokenizer:
    """The model's tokenizer with a cache: the toy world's captions repeat often."""

    def __init__(self, model_name: str) -> None:
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.cache: dict[str, torch.Tensor] = {}

    def __call__(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.tokenizer(missing)))
        return torch.stack([self.cache[t] for t in texts])


def evaluate(model, tokenizer, per_class: int, image_size: int, scenes: int, scene_size: int,
             dtype) -> dict[str, float]:
    """Zero-shot accuracies (%): held-out single-object images (64-way), texture-only images (4-way) and the
    segments of held-out scenes, classified by their mask-pooled dense features (68-way)."""
    images, labels = single_object_images(per_class, image_size, EVAL_SEED)
    predictions = zero_shot_predictions(model, tokenizer, images, [c.name for c in THING_CLASSES],
                                        autocast_dtype=dtype)
    result = object_accuracies(predictions, labels)
    images, labels = texture_images(per_class, image_size, EVAL_SEED)
    predictions = zero_shot_predictions(model, tokenizer, images, [c.name for c in STUFF_CLASSES],
                                        autocast_dtype=dtype)
    result["texture"] = 100.0 * float((predictions == labels).mean())
    return {**result, **region_zero_shot_accuracy(model, tokenizer, scenes, scene_size, EVAL_SEED, dtype)}


def format_accuracies(acc: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.1f}" for k, v in acc.items())


def save_fp16(model: torch.nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(state, path)


def train(args: argparse.Namespace, model, tokenizer, image_size: int, log: Log) -> None:
    dtype = PRECISIONS[args.precision]
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]  # biases, norms, logit scale
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-6,
    )
    budget = Budget(args.steps, args.minutes)
    encoder, prompts = dense_encoder(model), tokenizer(class_prompts())
    model.train()
    start = time.perf_counter()
    window_start, window_images, step = start, 0, 0
    while not budget.done(step, time.perf_counter() - start):
        images, captions = sample_captioned_batch(args.seed, step, args.batch_size, image_size)
        lr = learning_rate(args.lr, step, args.warmup_steps, budget.progress(step, time.perf_counter() - start))
        for group in optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            image_features = model.encode_image(images_to_tensor(images), normalize=True)
            text_features = model.encode_text(tokenizer(captions), normalize=True)
        loss = multi_positive_contrastive_loss(image_features, text_features, model.logit_scale.exp(),
                                               caption_group_ids(captions))
        region_loss = None
        if args.region_batch_size:
            regions = sample_region_batch(args.seed, step, args.region_batch_size, args.region_image_size)
            with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
                dense = encoder.forward(images_to_tensor(regions.images))[DENSE_FEATURE]
                pooled = encoder.pool_dense(region_embeddings(dense, torch.from_numpy(regions.masks),
                                                              torch.from_numpy(regions.image_index)))
                class_text = model.encode_text(prompts, normalize=True)
            region_loss = region_alignment_loss(torch.nn.functional.normalize(pooled.float(), dim=-1), class_text,
                                                torch.from_numpy(regions.labels), model.logit_scale.exp())
            loss = loss + args.region_weight * region_loss
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {step}; lower --lr or use --precision fp32")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        step += 1
        window_images += len(captions)
        if step % args.log_every == 0 or step == 1:
            now = time.perf_counter()
            regional = "" if region_loss is None else f" (region {region_loss.item():.4f})"
            log(f"step {step} loss {loss.item():.4f}{regional} lr {lr:.2e} "
                f"logit_scale {model.logit_scale.exp().item():.1f} "
                f"images/s {window_images / (now - window_start):.0f} elapsed {now - start:.0f}s")
            window_start, window_images = now, 0
        if args.eval_every and step % args.eval_every == 0:
            acc = evaluate(model, tokenizer, 8, image_size, 64, args.region_image_size, dtype)
            log(f"eval step {step} zero-shot accuracy (8 images/class, 64 scenes): {format_accuracies(acc)}")
    log(f"trained {step} steps ({step * args.batch_size} images) in {time.perf_counter() - start:.0f}s")


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    register_model_configs([TOY_CLIP_CONFIG, *args.model_config], source="gpa_toy, --model-config")
    known = open_clip.list_models()
    if args.model not in known:
        raise ValueError(f"unknown open_clip model {args.model!r}; gpa's configs: "
                         f"{[m for m in known if m.startswith('gpa_')]} (add one with --model-config FILE)")
    log = Log(None if args.eval_only else (args.log or args.output.with_suffix(".log")))
    try:
        log(f"command: python gpa_toy/tools/pretrain_toy_clip.py {shlex.join(sys.argv[1:] if argv is None else argv)}")
        weights = args.checkpoint if args.eval_only else args.init
        model = open_clip.create_model(args.model, pretrained=str(weights) if weights is not None else None)
        if args.init is not None:
            log(f"initialized from {args.init}")
        tokenizer = CachedTokenizer(args.model)
        image_size = model.visual.image_size[0]
        count = sum(p.numel() for p in model.parameters())
        visual = sum(p.numel() for p in model.visual.parameters())
        log(f"model {args.model}: {count / 1e6:.2f} M parameters (image tower {visual / 1e6:.2f} M), "
            f"{image_size} px, torch {torch.__version__}, open_clip {open_clip.__version__}, "
            f"{args.threads} threads")
        if not args.eval_only:
            train(args, model, tokenizer, image_size, log)
            save_fp16(model, args.output)
            log(f"saved {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, fp16)")
            model = open_clip.create_model(args.model, pretrained=str(args.output))  # evaluate what was saved
        acc = evaluate(model, tokenizer, args.eval_per_class, image_size, args.eval_scenes, args.region_image_size,
                       PRECISIONS[args.precision])
        log(f"zero-shot accuracy on held-out images ({args.eval_per_class}/class; 64 object classes, "
            f"4 textures; regions of {args.eval_scenes} scenes at {args.region_image_size} px, 68 classes): "
            f"{format_accuracies(acc)}")
        return acc
    finally:
        log.close()


if __name__ == "__main__":
    main()
