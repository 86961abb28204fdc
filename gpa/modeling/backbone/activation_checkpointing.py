"""Activation checkpointing of encoder blocks: keep a group's input, recompute its activations in backward.

With adapters after frozen blocks, the adapters of early blocks need gradients with respect to every
later block's input, so autograd would keep every frozen block's intermediate activations (for
ConvNeXt-L at 1024 x 1024, gigabytes). Running groups of consecutive blocks under
`torch.utils.checkpoint` (non-reentrant) keeps only each group's input and recomputes the group in
backward: about one more encoder forward per step for most of those activations. Gradients are
unchanged (the recomputation is the same computation; RNG state is restored for dropout / drop-path).

Modes (MODEL.CLIP.CHECKPOINT_MODE):
- "full": everything inside a group is recomputed.
- "selective": the outputs of matrix products that narrow the width (an MLP's output layer, C wide,
  after its 4C-wide hidden layer) are kept from the forward pass, so backward recomputes each block only
  up to its MLP's hidden layer: about half of the recomputation, for one more C-wide map per block.
- "minimal": frozen timm ConvNeXt blocks only; each block keeps its input and its backward recomputes only
  what the input gradient needs (frozen_convnext_blocks.py). One block at a time, so the group size is 1.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from .stage_indices import check_stage_indices

__all__ = ["CHECKPOINT_MODES", "MINIMAL", "check_checkpoint_options", "keep_narrowing_products", "run_blocks"]

MINIMAL = "minimal"
CHECKPOINT_MODES = ("full", "selective", MINIMAL)
_MATRIX_PRODUCTS = (torch.ops.aten.mm.default, torch.ops.aten.addmm.default)

BlockCall = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def keep_narrowing_products(ctx: object, op: object, *args: object, **kwargs: object) -> CheckpointPolicy:
    """Selective-checkpointing policy: keep the output of `mm` / `addmm` when its second matrix [K, N] has
    N < K (the product narrows the width); recompute every other op."""
    if op in _MATRIX_PRODUCTS and args[-1].shape[-1] < args[-1].shape[-2]:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


def check_checkpoint_options(stages: Sequence[int], group_size: int, num_stages: int, mode: str = "full") -> None:
    """Fail with the config key's name on a stage index the encoder lacks, a group size below 1 or an
    unknown mode."""
    if mode not in CHECKPOINT_MODES:
        raise ValueError(f"MODEL.CLIP.CHECKPOINT_MODE is {mode!r}; valid: {', '.join(CHECKPOINT_MODES)}")
    if group_size < 1:
        raise ValueError(f"MODEL.CLIP.CHECKPOINT_GROUP_SIZE must be >= 1 (blocks per group), got {group_size}")
    if mode == MINIMAL and group_size != 1:
        raise ValueError(
            f"MODEL.CLIP.CHECKPOINT_GROUP_SIZE is {group_size}, but MODEL.CLIP.CHECKPOINT_MODE minimal recomputes one "
            "block at a time; set the group size to 1"
        )
    check_stage_indices(stages, num_stages, "MODEL.CLIP.CHECKPOINT_STAGES", "; () turns checkpointing off")


def _call_blocks(call: BlockCall, x: torch.Tensor, blocks: Sequence[nn.Module]) -> torch.Tensor:
    for block in blocks:
        x = call(block, x)
    return x


def _needs_gradient(x: torch.Tensor, blocks: Sequence[nn.Module]) -> bool:
    return x.requires_grad or any(p.requires_grad for block in blocks for p in block.parameters())


def run_blocks(
    blocks: Sequence[nn.Module],
    x: torch.Tensor,
    group_size: int | None,
    call: BlockCall = lambda block, x: block(x),
    mode: str = "full",
) -> torch.Tensor:
    """x through `blocks` in order, each as `call(block, x)`.

    With `group_size` (>= 1), every `group_size` consecutive blocks run under non-reentrant activation
    checkpointing when autograd will need their activations (gradients enabled and the input or a
    parameter of the group requires grad); otherwise, and with `group_size` None, they run plainly.
    `mode` is "full" or "selective" (see the module doc); "minimal" has its own runner.
    """
    if mode == MINIMAL:
        raise ValueError("run_blocks runs the full and selective modes; minimal runs in run_frozen_convnext_blocks")
    blocks = list(blocks)
    if group_size is None or not torch.is_grad_enabled():
        return _call_blocks(call, x, blocks)
    options = {}
    if mode == "selective":
        options["context_fn"] = functools.partial(create_selective_checkpoint_contexts, keep_narrowing_products)
    for start in range(0, len(blocks), group_size):
        group = blocks[start : start + group_size]
        if _needs_gradient(x, group):
            x = checkpoint(_call_blocks, call, x, group, use_reentrant=False, **options)
        else:
            x = _call_blocks(call, x, group)
    return x
