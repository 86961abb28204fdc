"""Activation checkpointing of encoder blocks: keep a group's input, recompute its activations in backward.

With adapters after frozen blocks, the adapters of early blocks need gradients with respect to every
later block's input, so autograd would keep every frozen block's intermediate activations (for
ConvNeXt-L at 1024 x 1024, gigabytes). Running groups of consecutive blocks under
`torch.utils.checkpoint` (non-reentrant) keeps only each group's input and recomputes the group in
backward: about one more encoder forward per step for most of those activations. Gradients are
unchanged (the recomputation is the same computation; RNG state is restored for dropout / drop-path).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .stage_indices import check_stage_indices

__all__ = ["check_checkpoint_options", "run_blocks"]

BlockCall = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def check_checkpoint_options(stages: Sequence[int], group_size: int, num_stages: int) -> None:
    """Fail with the config key's name on a stage index the encoder lacks or a group size below 1."""
    if group_size < 1:
        raise ValueError(f"MODEL.CLIP.CHECKPOINT_GROUP_SIZE must be >= 1 (blocks per group), got {group_size}")
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
) -> torch.Tensor:
    """x through `blocks` in order, each as `call(block, x)`.

    With `group_size` (>= 1), every `group_size` consecutive blocks run under non-reentrant activation
    checkpointing when autograd will need their activations (gradients enabled and the input or a
    parameter of the group requires grad); otherwise, and with `group_size` None, they run plainly.
    """
    blocks = list(blocks)
    if group_size is None or not torch.is_grad_enabled():
        return _call_blocks(call, x, blocks)
    for start in range(0, len(blocks), group_size):
        group = blocks[start : start + group_size]
        if _needs_gradient(x, group):
            x = checkpoint(_call_blocks, call, x, group, use_reentrant=False)
        else:
            x = _call_blocks(call, x, group)
    return x
