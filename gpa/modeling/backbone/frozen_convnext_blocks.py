"""MODEL.CLIP.CHECKPOINT_MODE "minimal": frozen ConvNeXt blocks that recompute only what their input
gradient needs.

The adapters only need gradients with respect to the frozen blocks' inputs. For a timm ConvNeXt block
    y = x + gamma * fc2(GELU(fc1(LN(dwconv(x)))))      (fc1, fc2: linear layers, or 1x1 convolutions)
with frozen weights that gradient needs the depthwise-conv input, the LayerNorm statistics and the GELU
input a = fc1(LN(dwconv(x))); fc2's forward is never needed (its input gradient is the gradient times
its weight). Generic checkpointing must replay fc2 to reach the tensors saved after it; here each unit
"previous adapter, then block" keeps only its input (one C-wide map per block, as "full" does) and its
backward recomputes the adapter, dwconv, LayerNorm and fc1 under autograd, applies the GELU, fc2 and
layer-scale gradients by hand, and lets autograd finish. Autocast, if on in the forward, is restored for
the recomputation, and every hand-applied step casts as autograd would, so gradients are the plain
encoder's up to float rounding.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.layers import DropPath, LayerNorm2d, Mlp
from timm.layers.activations import GELU as TimmGELU
from timm.layers.activations import GELUTanh as TimmGELUTanh
from timm.models.convnext import ConvNeXtBlock
from torch import nn
from torch.utils.checkpoint import checkpoint

from .adapted_blocks import AdaptedBlock

__all__ = ["check_minimal_block", "run_frozen_convnext_blocks"]

_MODE = "MODEL.CLIP.CHECKPOINT_MODE minimal"


def _gelu_approximation(act: nn.Module) -> str | None:
    """The `approximate` argument of F.gelu that `act` applies, or None when it is not an exact GELU module."""
    if type(act) is TimmGELU:  # F.gelu(input)
        return "none"
    if type(act) is TimmGELUTanh:  # F.gelu(input, approximate="tanh")
        return "tanh"
    return act.approximate if isinstance(act, nn.GELU) else None


def _linear_kind(layer: nn.Module, conv: bool) -> bool:
    if conv:
        return isinstance(layer, nn.Conv2d) and tuple(layer.kernel_size) == (1, 1) and layer.groups == 1
    return isinstance(layer, nn.Linear)


def check_minimal_block(block: nn.Module, where: str) -> None:
    """Fail unless `block` is a timm ConvNeXt block of the form whose backward the "minimal" mode writes out:
    conv_dw (stride 1) -> LayerNorm -> Mlp(fc1, GELU, fc2) (linear, or 1x1 convolutions with `conv_mlp`) ->
    layer scale -> + input. Dropout and stochastic depth are allowed here; they must be inactive when run."""
    if not isinstance(block, ConvNeXtBlock):
        problems = [f"it is a {type(block).__name__}, not a timm ConvNeXtBlock"]
    else:
        problems = []
        conv, mlp = block.use_conv_mlp, block.mlp
        if not isinstance(block.norm, nn.LayerNorm) or isinstance(block.norm, LayerNorm2d) != conv:
            problems.append(f"its norm is a {type(block.norm).__name__}, not the LayerNorm its MLP layout needs")
        if type(mlp) is not Mlp or not (_linear_kind(mlp.fc1, conv) and _linear_kind(mlp.fc2, conv)):
            problems.append(f"its MLP is not timm's Mlp of {'1x1 convolutions' if conv else 'linear layers'}")
        elif _gelu_approximation(mlp.act) is None or not isinstance(mlp.norm, nn.Identity):
            problems.append("its MLP has an activation other than GELU, or a norm between its layers")
        if not isinstance(block.shortcut, nn.Identity):
            problems.append("it has a projection shortcut")
        if tuple(block.conv_dw.stride) != (1, 1):
            problems.append("its depthwise convolution is strided")
    if problems:
        raise ValueError(
            f"{_MODE} cannot run {where}: {'; '.join(problems)}. Use MODEL.CLIP.CHECKPOINT_MODE full or selective"
        )


def _check_runnable(block: nn.Module, where: str) -> None:
    """Frozen and deterministic: the backward applies no dropout mask and computes no weight gradient."""
    if any(p.requires_grad for p in block.parameters()):
        raise ValueError(
            f"{_MODE} computes only input gradients of frozen blocks, but {where} has trainable parameters "
            "(MODEL.CLIP.FREEZE_ENCODER False). Use MODEL.CLIP.CHECKPOINT_MODE full or selective"
        )
    if block.training and any(
        (isinstance(m, nn.Dropout) and m.p > 0) or (isinstance(m, DropPath) and m.drop_prob > 0)
        for m in block.modules()
    ):
        raise ValueError(
            f"{_MODE} needs deterministic blocks, but {where} is in training mode with dropout or stochastic "
            "depth; keep the frozen encoder in eval mode (CLIPBackbone.train does) or use full or selective"
        )


class _AdapterThenFrozenBlock(torch.autograd.Function):
    """y = block(adapter(y_prev)) (adapter optional); keeps y_prev only. Inputs after `block` are the
    adapter's trainable parameters (`_trainable_parameters`), so that their gradients flow through this node."""

    @staticmethod
    def forward(ctx, y_prev: torch.Tensor, adapter: nn.Module | None, block: nn.Module, *params: torch.Tensor):
        device = y_prev.device.type
        ctx.autocast = (device, torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
        ctx.adapter, ctx.block = adapter, block
        ctx.save_for_backward(y_prev)
        with torch.no_grad():
            return block(adapter(y_prev) if adapter is not None else y_prev)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        (y_prev,) = ctx.saved_tensors
        adapter, block = ctx.adapter, ctx.block
        params = _trainable_parameters(adapter)
        device, autocast_on, autocast_dtype = ctx.autocast
        with torch.enable_grad(), torch.autocast(device, dtype=autocast_dtype, enabled=autocast_on):
            y_in = y_prev.detach().requires_grad_(ctx.needs_input_grad[0])
            x = adapter(y_in) if adapter is not None else y_in
            mixed = block.conv_dw(x)
            hidden_in = block.mlp.fc1(block.norm(mixed if block.use_conv_mlp else mixed.permute(0, 2, 3, 1)))
        with torch.no_grad():
            fc2 = block.mlp.fc2
            if block.use_conv_mlp:  # NCHW throughout
                grad_out = grad_y if block.gamma is None else grad_y * block.gamma.reshape(1, -1, 1, 1)
            else:  # the MLP ran channels last
                grad_out = grad_y.permute(0, 2, 3, 1)
                grad_out = grad_out if block.gamma is None else grad_out * block.gamma
            grad_out = grad_out.to(hidden_in.dtype)  # layer scale ran in the promoted dtype, fc2 in the hidden's
            weight = fc2.weight.to(hidden_in.dtype)
            if block.use_conv_mlp:
                grad_hidden = torch.ops.aten.convolution_backward(
                    grad_out, hidden_in, weight, None, fc2.stride, fc2.padding, fc2.dilation, False, [0, 0],
                    fc2.groups, [True, False, False],
                )[0]
            else:
                grad_hidden = torch.matmul(grad_out, weight)
            grad_hidden_in = torch.ops.aten.gelu_backward(
                grad_hidden, hidden_in, approximate=_gelu_approximation(block.mlp.act)
            )
        # the node exists because y_prev or the adapter needs a gradient, so x (the residual branch) has one
        inputs = ([y_in] if y_in.requires_grad else []) + params
        grads_out = [grad_hidden_in, grad_y.to(x.dtype)]
        grads = list(torch.autograd.grad([hidden_in, x], inputs, grads_out, allow_unused=True))
        grad_prev = grads.pop(0) if y_in.requires_grad else None
        return (grad_prev, None, None, *grads)


def _trainable_parameters(module: nn.Module | None) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad] if module is not None else []


def run_frozen_convnext_blocks(blocks: Sequence[nn.Module], x: torch.Tensor, where: str) -> torch.Tensor:
    """x through a stage's blocks (timm ConvNeXt blocks, some wrapped with their adapter) in "minimal" mode.

    Runs the blocks plainly when no gradient is needed; otherwise every "previous adapter, then block"
    is one node that keeps its input, and the stage's last adapter runs under checkpointing.
    """
    if not torch.is_grad_enabled():
        for block in blocks:
            x = block(x)
        return x
    adapter = None  # the adapter of the previous block, run by the next unit
    for index, module in enumerate(blocks):
        block = module.block if isinstance(module, AdaptedBlock) else module
        check_minimal_block(block, f"{where}.{index}")
        _check_runnable(block, f"{where}.{index}")
        params = _trainable_parameters(adapter)
        if x.requires_grad or params:
            x = _AdapterThenFrozenBlock.apply(x, adapter, block, *params)
        else:
            x = block(adapter(x) if adapter is not None else x)
        adapter = module.adapter if isinstance(module, AdaptedBlock) else None
    if adapter is not None:
        needs_gradient = x.requires_grad or _trainable_parameters(adapter)
        x = checkpoint(adapter, x, use_reentrant=False) if needs_gradient else adapter(x)
    return x
