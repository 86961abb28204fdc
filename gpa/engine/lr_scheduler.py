"""Learning-rate schedules, by SOLVER.LR_SCHEDULER_NAME: polynomial decay with warmup, and detectron2's."""

from __future__ import annotations

import torch
from detectron2.config import CfgNode
from detectron2.solver import LRMultiplier, WarmupParamScheduler
from detectron2.solver import build_lr_scheduler as d2_build_lr_scheduler
from fvcore.common.param_scheduler import PolynomialDecayParamScheduler

from gpa.registry import NamedRegistry

__all__ = ["DETECTRON2_SCHEDULES", "LR_SCHEDULER_REGISTRY", "build_lr_scheduler", "warmup_poly_lr"]

# SOLVER.LR_SCHEDULER_NAME -> f(cfg, optimizer): the learning-rate scheduler
LR_SCHEDULER_REGISTRY = NamedRegistry("LR_SCHEDULER", "learning-rate schedule")

# The schedules detectron2's build_lr_scheduler knows, built by it.
DETECTRON2_SCHEDULES = ("WarmupMultiStepLR", "WarmupCosineLR", "WarmupStepWithFixedGammaLR")
for _name in DETECTRON2_SCHEDULES:
    LR_SCHEDULER_REGISTRY.register_as(_name)(d2_build_lr_scheduler)


@LR_SCHEDULER_REGISTRY.register_as("WarmupPolyLR")
def warmup_poly_lr(cfg: CfgNode, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """lr * (1 - t)^SOLVER.POLY_LR_POWER after detectron2's warmup (Mask2Former's schedule)."""
    sched = WarmupParamScheduler(
        PolynomialDecayParamScheduler(1.0, cfg.SOLVER.POLY_LR_POWER),
        cfg.SOLVER.WARMUP_FACTOR,
        min(cfg.SOLVER.WARMUP_ITERS / cfg.SOLVER.MAX_ITER, 1.0),
        cfg.SOLVER.WARMUP_METHOD,
        cfg.SOLVER.RESCALE_INTERVAL,
    )
    return LRMultiplier(optimizer, multiplier=sched, max_iter=cfg.SOLVER.MAX_ITER)


def build_lr_scheduler(cfg: CfgNode, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule named by SOLVER.LR_SCHEDULER_NAME (a member of LR_SCHEDULER_REGISTRY)."""
    return LR_SCHEDULER_REGISTRY.get_for(cfg.SOLVER.LR_SCHEDULER_NAME, "SOLVER.LR_SCHEDULER_NAME")(cfg, optimizer)
