"""CHECKPOINT_MODE minimal: frozen ConvNeXt blocks with a hand-written input-gradient backward.

Reference: plain autograd through the same timm blocks and adapters (nothing recomputed)."""
import pytest
import torch
from timm.models.convnext import ConvNeXtBlock
from torch import nn

from gpa.modeling.backbone import SpatialMixerOptions
from gpa.modeling.backbone.activation_checkpointing import run_blocks
from gpa.modeling.backbone.adapted_blocks import AdaptedConvBlock
from gpa.modeling.backbone.frozen_convnext_blocks import check_minimal_block, run_frozen_convnext_blocks
from gpa.modeling.backbone.spatial_adapter import SpatialAdapter

WIDTH = 8


def stage(conv_mlp: bool, ls_init_value: float | None, adapted=(0, 2), act_layer: str = "gelu") -> nn.ModuleList:
    """Three frozen timm ConvNeXt blocks in eval mode; `adapted` ones wrapped with a random adapter."""
    torch.manual_seed(0)
    modules = []
    for index in range(3):
        block = ConvNeXtBlock(WIDTH, conv_mlp=conv_mlp, ls_init_value=ls_init_value, act_layer=act_layer)
        block.requires_grad_(False).eval()
        if index in adapted:
            adapter = SpatialAdapter(WIDTH, rank=4, mixer_options=SpatialMixerOptions(kernel_size=3))
            with torch.no_grad():  # a random up-projection, so every adapter parameter gets a gradient
                for param in adapter.parameters():
                    param.copy_(0.3 * torch.randn(param.shape))
            modules.append(AdaptedConvBlock(block, adapter))
        else:
            modules.append(block)
    return nn.ModuleList(modules)


def forward_backward(blocks: nn.ModuleList, run, input_grad: bool = True) -> tuple[torch.Tensor, dict]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, WIDTH, 9, 11, generator=generator).requires_grad_(input_grad)
    out = run(blocks, x)
    (out * torch.randn(out.shape, generator=generator)).sum().backward()
    grads = {name: p.grad.clone() for name, p in blocks.named_parameters() if p.requires_grad}
    if input_grad:
        grads["input"] = x.grad.clone()
    return out.detach(), grads


def plain(blocks, x):
    for block in blocks:
        x = block(x)
    return x


def minimal(blocks, x):
    return run_frozen_convnext_blocks(blocks, x, "stage")


@pytest.mark.parametrize("conv_mlp", [False, True], ids=["linear_mlp", "conv_mlp"])
@pytest.mark.parametrize("ls_init_value", [0.5, None], ids=["layer_scale", "no_layer_scale"])
@pytest.mark.parametrize("input_grad", [True, False])
def test_minimal_blocks_give_the_plain_outputs_and_gradients(conv_mlp, ls_init_value, input_grad):
    blocks = stage(conv_mlp, ls_init_value)
    ref_out, ref = forward_backward(blocks, plain, input_grad)
    blocks.zero_grad()
    out, grads = forward_backward(blocks, minimal, input_grad)
    assert len(ref) == 12 + input_grad  # two adapters of 6 tensors each (and the input)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for name in ref:
        assert ref[name].abs().sum() > 0, name
        torch.testing.assert_close(grads[name], ref[name], rtol=0, atol=0, msg=name)  # same products, same order


def test_minimal_blocks_follow_autocast_like_autograd():
    blocks = stage(conv_mlp=False, ls_init_value=0.5, act_layer="gelu_tanh")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref_out, ref = forward_backward(blocks, plain)
        blocks.zero_grad()
        out, grads = forward_backward(blocks, minimal)
    assert out.dtype == ref_out.dtype
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for name in ref:  # the hand-applied steps cast as autograd does: the same bf16 products
        torch.testing.assert_close(grads[name], ref[name], rtol=0, atol=0, msg=name)


def test_minimal_blocks_keep_one_map_per_block():
    blocks = stage(conv_mlp=False, ls_init_value=0.5, adapted=(0, 1, 2))
    x = torch.randn(1, WIDTH, 16, 16, requires_grad=True)
    kept: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        if not isinstance(tensor, nn.Parameter):
            kept[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run_frozen_convnext_blocks(blocks, x, "stage")
    # each block keeps its input (the previous adapter's input), the last adapter its input: 4 maps
    assert sorted(kept.values()) == [x.numel() * 4] * 4


def test_minimal_mode_rejects_blocks_it_cannot_run():
    blocks = stage(conv_mlp=False, ls_init_value=0.5)
    blocks[1].requires_grad_(True)
    with pytest.raises(ValueError, match=r"minimal computes only input gradients of frozen blocks, but stage.1 has"):
        forward_backward(blocks, minimal)

    block = ConvNeXtBlock(WIDTH, drop_path=0.1).requires_grad_(False)  # training mode, stochastic depth
    with pytest.raises(ValueError, match=r"stage.0 is in training mode with dropout or stochastic depth"):
        run_frozen_convnext_blocks([block], torch.randn(1, WIDTH, 4, 4, requires_grad=True), "stage")
    with torch.no_grad():  # without gradients the blocks run plainly, whatever they are
        run_frozen_convnext_blocks([block.eval()], torch.randn(1, WIDTH, 4, 4), "stage")

    with pytest.raises(ValueError, match=r"cannot run s.0: it is a Linear, not a timm ConvNeXtBlock\. Use"):
        check_minimal_block(nn.Linear(4, 4), "s.0")
    with pytest.raises(ValueError, match="its MLP has an activation other than GELU"):
        check_minimal_block(ConvNeXtBlock(WIDTH, act_layer="relu"), "s.0")
    with pytest.raises(ValueError, match="it has a projection shortcut; its depthwise convolution is strided"):
        check_minimal_block(ConvNeXtBlock(WIDTH, 2 * WIDTH, stride=2), "s.0")
    check_minimal_block(ConvNeXtBlock(WIDTH, drop_path=0.1, act_layer="gelu_tanh"), "s.0")
    with pytest.raises(ValueError, match="run_blocks runs the full and selective modes; minimal runs in"):
        run_blocks(blocks, torch.randn(1, WIDTH, 4, 4), 1, mode="minimal")
