"""Spatial mixers: the spatial-dependency step of the adapter, applied to the rank-r map [N, r, H, W].

Mixers register themselves by name with `@SPATIAL_MIXER_REGISTRY.register_as("name")`; `build_spatial_mixer`
builds one by name and fails listing the registered names.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gpa.registry import NamedRegistry

__all__ = [
    "SpatialMixerOptions",
    "SPATIAL_MIXER_REGISTRY",
    "build_spatial_mixer",
    "spatial_mixer_names",
    "DepthwiseConvMixer",
    "DilatedConvMixer",
    "WindowAttentionMixer",
    "IdentityMixer",
    "window_partition",
    "window_merge",
]


@dataclass(frozen=True)
class SpatialMixerOptions:
    """Options a mixer may read (MODEL.ADAPTER.KERNEL_SIZE / DILATION / NUM_HEADS)."""

    kernel_size: int = 7  # conv kernel (conv kinds) or window side (attention kind)
    dilation: int = 2  # dilation of "dilated_conv"
    num_heads: int = 4  # heads of "window_attention"


SPATIAL_MIXER_REGISTRY = NamedRegistry("SPATIAL_MIXER", "spatial mixer")
SPATIAL_MIXER_REGISTRY.__doc__ = "Spatial mixers by MODEL.ADAPTER.SPATIAL_KIND, each built as `cls(channels, options)`."


def spatial_mixer_names() -> list[str]:
    """Names accepted by MODEL.ADAPTER.SPATIAL_KIND."""
    return SPATIAL_MIXER_REGISTRY.names()


def build_spatial_mixer(kind: str, channels: int, options: SpatialMixerOptions) -> nn.Module:
    """Build the mixer registered as `kind` for a `channels`-channel map."""
    return SPATIAL_MIXER_REGISTRY.get_for(kind, "MODEL.ADAPTER.SPATIAL_KIND")(channels, options)


def _check_odd_kernel(kernel_size: int, kind: str) -> None:
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"{kind} needs an odd kernel size >= 1 to keep the map size (MODEL.ADAPTER.KERNEL_SIZE), got {kernel_size}"
        )


@SPATIAL_MIXER_REGISTRY.register_as("depthwise_conv")
class DepthwiseConvMixer(nn.Module):
    """k x k depthwise convolution, 'same' padding."""

    def __init__(self, channels: int, options: SpatialMixerOptions) -> None:
        super().__init__()
        _check_odd_kernel(options.kernel_size, "depthwise_conv")
        k = options.kernel_size
        self.conv = nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@SPATIAL_MIXER_REGISTRY.register_as("dilated_conv")
class DilatedConvMixer(nn.Module):
    """k x k depthwise convolution with dilation (a wider context at the same cost), 'same' padding."""

    def __init__(self, channels: int, options: SpatialMixerOptions) -> None:
        super().__init__()
        _check_odd_kernel(options.kernel_size, "dilated_conv")
        if options.dilation < 1:
            raise ValueError(f"dilated_conv needs MODEL.ADAPTER.DILATION >= 1, got {options.dilation}")
        k, d = options.kernel_size, options.dilation
        self.conv = nn.Conv2d(channels, channels, k, padding=d * (k - 1) // 2, dilation=d, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """[N, C, H, W] with H, W multiples of `window` -> [N * nH * nW, window * window, C] window tokens."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // window, window, w // window, window)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(-1, window * window, c)


def window_merge(tokens: torch.Tensor, window: int, n: int, h: int, w: int) -> torch.Tensor:
    """Inverse of `window_partition`: window tokens -> [N, C, H, W]."""
    c = tokens.shape[-1]
    x = tokens.reshape(n, h // window, w // window, window, window, c)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(n, c, h, w)


@SPATIAL_MIXER_REGISTRY.register_as("window_attention")
class WindowAttentionMixer(nn.Module):
    """Multi-head self-attention inside non-overlapping windows, with a relative position bias.

    The map is zero-padded to a multiple of the window; padded positions are masked out as keys
    and cropped from the output, so results do not depend on the padding.
    """

    def __init__(self, channels: int, options: SpatialMixerOptions) -> None:
        super().__init__()
        window, heads = options.kernel_size, options.num_heads
        if window < 1:
            raise ValueError(f"window_attention needs a window (MODEL.ADAPTER.KERNEL_SIZE) >= 1, got {window}")
        if heads < 1 or channels % heads != 0:
            raise ValueError(
                f"window_attention: rank {channels} (MODEL.ADAPTER.RANK) must be divisible by "
                f"MODEL.ADAPTER.NUM_HEADS={heads}"
            )
        self.window = window
        self.num_heads = heads
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.relative_position_bias = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        delta = (coords[:, :, None] - coords[:, None, :]) + (window - 1)  # [2, w*w, w*w], each in [0, 2w-2]
        self.register_buffer("relative_position_index", delta[0] * (2 * window - 1) + delta[1], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        win = self.window
        pad_h, pad_w = (-h) % win, (-w) % win
        x = F.pad(x, (0, pad_w, 0, pad_h))
        hp, wp = h + pad_h, w + pad_w
        valid = torch.zeros(1, 1, hp, wp, dtype=x.dtype, device=x.device)
        valid[..., :h, :w] = 1
        key_valid = window_partition(valid, win)[..., 0] > 0  # [windows, w*w]
        key_valid = key_valid.repeat(n, 1)

        tokens = window_partition(x, win)  # [B, L, C]
        b, length, _ = tokens.shape
        qkv = self.qkv(tokens).reshape(b, length, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias[self.relative_position_index].permute(2, 0, 1)  # [heads, L, L]
        mask = bias.unsqueeze(0).to(qkv.dtype).masked_fill(~key_valid[:, None, None, :], float("-inf"))
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
        out = self.proj(out.transpose(1, 2).reshape(b, length, c))
        return window_merge(out, win, n, hp, wp)[..., :h, :w]


@SPATIAL_MIXER_REGISTRY.register_as("identity")
class IdentityMixer(nn.Module):
    """No spatial modeling: the adapter reduces to a per-position low-rank bottleneck."""

    def __init__(self, channels: int, options: SpatialMixerOptions) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
