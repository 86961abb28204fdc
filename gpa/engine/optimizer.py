"""Optimizer with parameter groups declared by the modules that own the parameters.

The model says which of its trainable parameters are pretrained encoder weights, adapters or
heads (`trainable_parameter_groups()`); each group gets its own LR multiplier, and inside every
group normalization and embedding parameters get their own weight decay. Full-model gradient
clipping clips the norm of all gradients together, as Mask2Former does.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from detectron2.config import CfgNode
from tabulate import tabulate
from torch import nn

from gpa.registry import NamedRegistry

__all__ = [
    "DECAY_KINDS",
    "OPTIMIZER_REGISTRY",
    "build_optimizer",
    "classify_decay_kind",
    "make_param_groups",
    "format_param_groups",
    "maybe_add_full_model_gradient_clipping",
]

logger = logging.getLogger(__name__)

NORM_MODULE_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LayerNorm,
    nn.LocalResponseNorm,
)
DECAY_KINDS = ("default", "norm", "embed")


def _norm_types() -> tuple[type[nn.Module], ...]:
    """torch norms plus detectron2's own LayerNorm / FrozenBatchNorm2d."""
    from detectron2.layers import FrozenBatchNorm2d
    from detectron2.layers.batch_norm import LayerNorm as D2LayerNorm

    return NORM_MODULE_TYPES + (D2LayerNorm, FrozenBatchNorm2d)


def classify_decay_kind(module: nn.Module, param: nn.Parameter) -> str:
    """Which weight-decay kind a parameter directly owned by `module` belongs to."""
    if isinstance(module, _norm_types()):
        return "norm"
    if isinstance(module, nn.Embedding) or param.ndim == 0:
        return "embed"  # embedding tables and learnable scalars (logit scales)
    return "default"


def make_param_groups(
    model: nn.Module,
    named_groups: Mapping[str, Iterable[tuple[str, nn.Parameter]]],
    base_lr: float,
    lr_multipliers: Mapping[str, float],
    weight_decay: Mapping[str, float],
) -> list[dict[str, Any]]:
    """One optimizer group per (owner group, decay kind) that has parameters.

    `named_groups` maps an owner group ("encoder", "adapter", "head") to its trainable parameters;
    every trainable parameter of `model` must appear in exactly one group.
    """
    kind_of: dict[int, str] = {}
    for module in model.modules():
        for param in module.parameters(recurse=False):
            kind_of[id(param)] = classify_decay_kind(module, param)

    unknown = set(named_groups) - set(lr_multipliers)
    if unknown:
        raise KeyError(f"no LR multiplier for parameter group(s) {sorted(unknown)}; known: {sorted(lr_multipliers)}")
    groups: list[dict[str, Any]] = []
    owner_of: dict[int, str] = {}
    for owner, named in named_groups.items():
        by_kind: dict[str, list[tuple[str, nn.Parameter]]] = {k: [] for k in DECAY_KINDS}
        for name, param in named:
            if not param.requires_grad:
                raise ValueError(f"parameter {name} of group {owner!r} is frozen; declare only trainable parameters")
            if id(param) in owner_of:
                raise ValueError(f"parameter {name} is declared in groups {owner_of[id(param)]!r} and {owner!r}")
            owner_of[id(param)] = owner
            by_kind[kind_of[id(param)]].append((name, param))
        for kind, members in by_kind.items():
            if members:
                groups.append(
                    {
                        "params": [p for _, p in members],
                        "param_names": [n for n, _ in members],
                        "name": f"{owner}/{kind}",
                        "lr": base_lr * lr_multipliers[owner],
                        "weight_decay": weight_decay[kind],
                    }
                )
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in owner_of]
    if missing:
        raise ValueError(f"trainable parameters not declared in any group: {missing[:5]} ({len(missing)} in all)")
    return groups


def format_param_groups(groups: list[dict[str, Any]]) -> str:
    """A table of the optimizer groups: name, tensors, parameters, lr, weight decay, first names."""
    rows = []
    for g in groups:
        names = g["param_names"]
        shown = ", ".join(names[:2]) + (", ..." if len(names) > 2 else "")
        rows.append([g["name"], len(names), sum(p.numel() for p in g["params"]), g["lr"], g["weight_decay"], shown])
    rows.append(["total", sum(r[1] for r in rows), sum(r[2] for r in rows), "", "", ""])
    return tabulate(rows, headers=["group", "tensors", "params", "lr", "wd", "names"], tablefmt="pipe")


def maybe_add_full_model_gradient_clipping(optim_cls: type[torch.optim.Optimizer], cfg: CfgNode):
    """Wrap `optim_cls` so `step()` first clips the norm of all gradients together (CLIP_TYPE full_model)."""
    clip = cfg.SOLVER.CLIP_GRADIENTS
    if not (clip.ENABLED and clip.CLIP_TYPE == "full_model"):
        return optim_cls
    max_norm, norm_type = clip.CLIP_VALUE, clip.NORM_TYPE

    class FullModelGradientClippingOptimizer(optim_cls):
        def step(self, closure=None):
            all_params = itertools.chain(*[g["params"] for g in self.param_groups])
            torch.nn.utils.clip_grad_norm_(all_params, max_norm, norm_type=norm_type)
            return super().step(closure=closure)

    return FullModelGradientClippingOptimizer


# SOLVER.OPTIMIZER -> f(param_groups, cfg): the optimizer over the groups (each group carries its lr and decay)
OPTIMIZER_REGISTRY = NamedRegistry("OPTIMIZER", "optimizer")


@OPTIMIZER_REGISTRY.register_as("ADAMW")
def adamw(groups: list[dict[str, Any]], cfg: CfgNode) -> torch.optim.Optimizer:
    """AdamW with torch's default betas and eps."""
    return torch.optim.AdamW(groups, lr=cfg.SOLVER.BASE_LR)


@OPTIMIZER_REGISTRY.register_as("SGD")
def sgd(groups: list[dict[str, Any]], cfg: CfgNode) -> torch.optim.Optimizer:
    """SGD with SOLVER.MOMENTUM."""
    return torch.optim.SGD(groups, lr=cfg.SOLVER.BASE_LR, momentum=cfg.SOLVER.MOMENTUM)


def build_optimizer(cfg: CfgNode, model: nn.Module) -> torch.optim.Optimizer:
    """Optimizer over the groups the model declares, with full-model or per-parameter clipping."""
    from detectron2.solver.build import maybe_add_gradient_clipping

    make_optimizer = OPTIMIZER_REGISTRY.get_for(cfg.SOLVER.OPTIMIZER, "SOLVER.OPTIMIZER")
    if not hasattr(model, "trainable_parameter_groups"):
        raise TypeError(f"{type(model).__name__} must define trainable_parameter_groups() to build the optimizer")
    groups = make_param_groups(
        model,
        model.trainable_parameter_groups(),
        base_lr=cfg.SOLVER.BASE_LR,
        lr_multipliers={
            "encoder": cfg.SOLVER.ENCODER_LR_MULTIPLIER,
            "adapter": cfg.SOLVER.ADAPTER_LR_MULTIPLIER,
            "head": 1.0,
        },
        weight_decay={
            "default": cfg.SOLVER.WEIGHT_DECAY,
            "norm": cfg.SOLVER.WEIGHT_DECAY_NORM,
            "embed": cfg.SOLVER.WEIGHT_DECAY_EMBED,
        },
    )
    logger.info("Optimizer parameter groups:\n" + format_param_groups(groups))
    optimizer = make_optimizer(groups, cfg)
    if cfg.SOLVER.CLIP_GRADIENTS.ENABLED and cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE == "full_model":
        optimizer.__class__ = maybe_add_full_model_gradient_clipping(type(optimizer), cfg)
        return optimizer
    return maybe_add_gradient_clipping(cfg, optimizer)
