"""Encoder blocks followed by a spatial adapter, and their insertion into an encoder's stages.

A chosen block `B` of a stage container is replaced in place by a wrapper whose forward runs the
block, then the adapter. Parameter names change only by one level:
    <container>.B.<name>      ->  <container>.B.block.<name>      (the pretrained block)
                                  <container>.B.adapter.<name>    (the adapter, new)
e.g. `clip_model.visual.trunk.stages.1.blocks.0.conv_dw.weight` becomes
`clip_model.visual.trunk.stages.1.blocks.0.block.conv_dw.weight`. Wrappers accept state dicts
with the un-wrapped names (open_clip / FC-CLIP checkpoints) and map them on load.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .spatial_adapter import SpatialAdapter
from .stage_indices import check_stage_indices

__all__ = ["AdaptedBlock", "AdaptedConvBlock", "AdaptedTokenBlock", "insert_adapters"]


class AdaptedBlock(nn.Module):
    """Base wrapper: holds `block` and `adapter`; loads checkpoints written without the wrapper."""

    def __init__(self, block: nn.Module, adapter: SpatialAdapter) -> None:
        super().__init__()
        self.block = block
        self.adapter = adapter
        self.register_load_state_dict_pre_hook(_accept_unwrapped_names)


def _accept_unwrapped_names(module: AdaptedBlock, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Rename `<prefix><name>` (a block key saved before wrapping) to `<prefix>block.<name>`."""
    for key in [k for k in state_dict if k.startswith(prefix)]:
        first = key[len(prefix):].split(".", 1)[0]
        if first not in module._modules:
            state_dict[f"{prefix}block.{key[len(prefix):]}"] = state_dict.pop(key)


class AdaptedConvBlock(AdaptedBlock):
    """A block mapping NCHW maps to NCHW maps (timm ConvNeXt), then the adapter."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.block(x))


class AdaptedTokenBlock(AdaptedBlock):
    """A transformer block over [class token, patch tokens], then the adapter on the patch map.

    Tokens are (N, L, D) when `batch_first`, else (L, N, D) (open_clip's `Transformer.batch_first`).
    The first `num_prefix_tokens` tokens (the class token) pass through unchanged. The patch grid
    (h, w) is not recoverable from the tokens, so the caller passes it.
    """

    def __init__(
        self, block: nn.Module, adapter: SpatialAdapter, batch_first: bool = True, num_prefix_tokens: int = 1
    ) -> None:
        super().__init__(block, adapter)
        self.batch_first = batch_first
        self.num_prefix_tokens = num_prefix_tokens

    def forward(
        self,
        x: torch.Tensor,
        grid_size: tuple[int, int] | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if grid_size is None:
            raise ValueError(
                "AdaptedTokenBlock needs the patch grid (grid_size=(h, w)); encode images through "
                "CLIPBackbone, not open_clip's VisionTransformer.forward"
            )
        x = self.block(x, attn_mask=attn_mask)
        tokens = x if self.batch_first else x.transpose(0, 1)
        n, length, dim = tokens.shape
        h, w = grid_size
        if length != self.num_prefix_tokens + h * w:
            raise ValueError(
                f"{length} tokens do not match {self.num_prefix_tokens} prefix token(s) + a {h}x{w} patch grid"
            )
        prefix, patches = tokens[:, : self.num_prefix_tokens], tokens[:, self.num_prefix_tokens:]
        patch_map = patches.transpose(1, 2).reshape(n, dim, h, w)
        patches = self.adapter(patch_map).flatten(2).transpose(1, 2)
        tokens = torch.cat([prefix, patches], dim=1)
        return tokens if self.batch_first else tokens.transpose(0, 1)


def insert_adapters(
    stage_blocks: Sequence[nn.Sequential | nn.ModuleList],
    stage_channels: Sequence[int],
    stages: Sequence[int],
    every_k_blocks: int,
    make_adapter: Callable[[int], SpatialAdapter],
    wrap: Callable[[nn.Module, SpatialAdapter], AdaptedBlock],
) -> list[SpatialAdapter]:
    """Wrap every `every_k_blocks`-th block (the k-th, 2k-th, ...) of each chosen stage with an adapter.

    `stage_blocks[s]` is stage s's block container (replaced in place), `stage_channels[s]` its width,
    `make_adapter(channels)` builds an adapter, `wrap(block, adapter)` the wrapper. Returns the adapters.
    """
    num_stages = len(stage_blocks)
    if every_k_blocks < 1:
        raise ValueError(f"MODEL.ADAPTER.EVERY_K_BLOCKS must be >= 1, got {every_k_blocks}")
    check_stage_indices(stages, num_stages, "MODEL.ADAPTER.STAGES")
    adapters: list[SpatialAdapter] = []
    for stage in stages:
        blocks = stage_blocks[stage]
        if len(blocks) < every_k_blocks:
            raise ValueError(
                f"stage {stage} has {len(blocks)} block(s), fewer than MODEL.ADAPTER.EVERY_K_BLOCKS="
                f"{every_k_blocks}, so it would get no adapter; lower EVERY_K_BLOCKS or drop the stage"
            )
        for index in range(every_k_blocks - 1, len(blocks), every_k_blocks):
            if isinstance(blocks[index], AdaptedBlock):
                raise ValueError(f"block {index} of stage {stage} already has an adapter")
            adapter = make_adapter(stage_channels[stage])
            blocks[index] = wrap(blocks[index], adapter)
            adapters.append(adapter)
    return adapters
