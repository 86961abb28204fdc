#!/usr/bin/env python
"""Bytes of a training checkpoint of a config's model, full and lean, as GPACheckpointer writes them.

  python tools/checkpoint_sizes.py --config-file configs/coco/gpa_convnext_large.yaml

Builds the model with random weights (MODEL.CLIP.PRETRAINED "" so nothing downloads; which keys a lean
checkpoint leaves out does not depend on the weights), takes one optimizer step on zero gradients so the
optimizer holds its state, and serializes {"model", "optimizer", "scheduler", "iteration"} in memory both ways.
"""

from __future__ import annotations

import argparse
import io

import torch


def _serialized_bytes(obj) -> int:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.tell()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    args = parser.parse_args(argv)

    from gpa.checkpoint import pretrained_clip_keys
    from gpa.engine import Trainer, build_config

    cfg = build_config(args.config_file, ["MODEL.CLIP.PRETRAINED", "", "MODEL.DEVICE", "cpu", *args.opts])
    model = Trainer.build_model(cfg)
    optimizer = Trainer.build_optimizer(cfg, model)
    scheduler = Trainer.build_lr_scheduler(cfg, optimizer)
    for group in optimizer.param_groups:
        for param in group["params"]:
            param.grad = torch.zeros_like(param)
    optimizer.step()

    state = model.state_dict()
    frozen = pretrained_clip_keys(model)
    lean_state = {k: v for k, v in state.items() if k not in frozen}
    rest = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "iteration": 0}
    full = _serialized_bytes({"model": state, **rest})
    lean = _serialized_bytes({"model": lean_state, **rest})
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(v.numel() for v in state.values())
    print(f"config: {args.config_file}")
    print(f"model state: {total / 1e6:.1f} M values, of which {trainable / 1e6:.1f} M trainable; "
          f"a lean checkpoint leaves out {len(frozen)} frozen CLIP tensors "
          f"({sum(state[k].numel() for k in frozen) / 1e6:.1f} M values)")
    print(f"one checkpoint: full {full / 2**20:.1f} MiB, lean {lean / 2**20:.1f} MiB ({lean / full:.2f}x)")
    if cfg.SOLVER.CHECKPOINT_PERIOD > 0:
        count = cfg.SOLVER.MAX_ITER // cfg.SOLVER.CHECKPOINT_PERIOD + 1  # the periodic ones and model_final
        print(f"{count} checkpoints of the {cfg.SOLVER.MAX_ITER}-iteration run (SOLVER.CHECKPOINT_PERIOD "
              f"{cfg.SOLVER.CHECKPOINT_PERIOD}): full {count * full / 2**30:.1f} GiB, "
              f"lean {count * lean / 2**30:.1f} GiB; with SOLVER.CHECKPOINT_KEEP_LAST 2: "
              f"lean {3 * lean / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
