"""The spatial adaptation module: a low-rank, spatially mixed modulation of an encoder block's output.

For a block output x [N, C, H, W]:
    delta = up(GELU(mixer(down(x))))        down: 1x1 C->r, mixer: on the rank-r map, up: 1x1 r->k*C
    "scale_shift" (k=2): gamma, beta = delta; y = x * (1 + gamma) + beta
    "residual"    (k=1): y = x + delta
`up` is zero-initialized, so at initialization y == x exactly: the adapted encoder starts as the
pretrained one and all change lives in a rank-r subspace.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from gpa.registry import NamedRegistry

from .spatial_mixers import SpatialMixerOptions, build_spatial_mixer

__all__ = [
    "Modulation",
    "MODULATION_REGISTRY",
    "scale_shift_modulation",
    "residual_modulation",
    "SpatialAdapter",
]


def scale_shift_modulation(x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """y = x * (1 + gamma) + beta with (gamma, beta) the two channel halves of `delta` [N, 2C, ...]."""
    whole = delta.shape == (x.shape[0], 2 * x.shape[1], *x.shape[2:])  # no broadcasting to reduce in backward
    if whole and torch.is_grad_enabled() and (x.requires_grad or delta.requires_grad):
        return _ScaleShift.apply(x, delta)
    gamma, beta = delta.chunk(2, dim=1)
    return x * (1 + gamma) + beta


class _ScaleShift(torch.autograd.Function):
    """scale_shift_modulation with autograd's own gradients, the two halves' written into one tensor laid
    out as `delta` instead of concatenated by `chunk`'s backward. With gradients entering the ConvNeXt encoder
    as NCHW maps, the concatenation was followed by a 2C-wide layout copy in the `up` convolution's backward,
    per adapter and step (torch.profiler); the real decoder's channels-last gradients show no measured
    difference (docs/benchmarks.md)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        gamma, beta = delta.chunk(2, dim=1)
        scale = 1 + gamma
        ctx.save_for_backward(x, scale)
        ctx.delta_layout = (delta.shape, delta.stride(), delta.dtype)
        return x * scale + beta

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x, scale = ctx.saved_tensors
        grad_x = (grad * scale).to(x.dtype) if ctx.needs_input_grad[0] else None
        grad_delta = None
        if ctx.needs_input_grad[1]:
            shape, stride, dtype = ctx.delta_layout
            grad_delta = torch.empty_strided(shape, stride, dtype=dtype, device=grad.device)
            grad_gamma, grad_beta = grad_delta.chunk(2, dim=1)
            torch.mul(grad, x, out=grad_gamma)  # computed in the promoted dtype, rounded to delta's on store
            grad_beta.copy_(grad)
        return grad_x, grad_delta


def residual_modulation(x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """y = x + delta (LoRA-style additive low-rank update)."""
    return x + delta


class Modulation(NamedTuple):
    """How the adapter's output combines with the block output."""

    channel_factor: int  # `up` produces channel_factor * C channels
    apply: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# MODEL.ADAPTER.MODULATION -> Modulation
MODULATION_REGISTRY = NamedRegistry("MODULATION", "modulation")
MODULATION_REGISTRY.register_as("scale_shift")(Modulation(2, scale_shift_modulation))
MODULATION_REGISTRY.register_as("residual")(Modulation(1, residual_modulation))


class SpatialAdapter(nn.Module):
    """Low-rank spatial adapter on NCHW maps; the identity at initialization."""

    def __init__(
        self,
        channels: int,
        rank: int = 32,
        spatial_kind: str = "depthwise_conv",
        mixer_options: SpatialMixerOptions | None = None,
        modulation: str = "scale_shift",
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"adapter rank (MODEL.ADAPTER.RANK) must be >= 1, got {rank}")
        combine = MODULATION_REGISTRY.get_for(modulation, "MODEL.ADAPTER.MODULATION")
        self.channels = channels
        self.rank = rank
        self.modulation = modulation
        self._combine = combine.apply
        self.down = nn.Conv2d(channels, rank, kernel_size=1)
        self.mixer = build_spatial_mixer(spatial_kind, rank, mixer_options or SpatialMixerOptions())
        self.act = nn.GELU()
        self.up = nn.Conv2d(rank, combine.channel_factor * channels, kernel_size=1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"SpatialAdapter expects [N, {self.channels}, H, W] maps, got {tuple(x.shape)}")
        delta = self.up(self.act(self.mixer(self.down(x))))
        return self._combine(x, delta)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, rank={self.rank}, modulation={self.modulation}"
