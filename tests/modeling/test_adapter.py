"""Spatial adapter, spatial mixers, adapted blocks and their insertion."""
import math

import pytest
import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock
from torch import nn

from gpa.modeling.backbone.adapted_blocks import AdaptedConvBlock, AdaptedTokenBlock, insert_adapters
from gpa.modeling.backbone.spatial_adapter import (
    MODULATION_REGISTRY,
    SpatialAdapter,
    residual_modulation,
    scale_shift_modulation,
)
from gpa.modeling.backbone.spatial_mixers import (
    SpatialMixerOptions,
    WindowAttentionMixer,
    build_spatial_mixer,
    spatial_mixer_names,
    window_merge,
    window_partition,
)

MIXERS = ["depthwise_conv", "dilated_conv", "window_attention", "identity"]


def perturb_(module: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(0.2 * torch.randn(param.shape, generator=generator))


def test_registry_lists_the_four_mixers_and_rejects_unknown():
    assert set(MIXERS) <= set(spatial_mixer_names())
    with pytest.raises(ValueError, match="unknown spatial mixer 'conv9'.*depthwise_conv.*window_attention"):
        build_spatial_mixer("conv9", 8, SpatialMixerOptions())


@pytest.mark.parametrize("kind", ["depthwise_conv", "dilated_conv"])
def test_conv_mixers_reject_even_kernels(kind):
    with pytest.raises(ValueError, match="odd kernel size.*KERNEL_SIZE"):
        build_spatial_mixer(kind, 8, SpatialMixerOptions(kernel_size=4))


def test_window_attention_rejects_rank_not_divisible_by_heads():
    with pytest.raises(ValueError, match="rank 6.*divisible.*NUM_HEADS=4"):
        build_spatial_mixer("window_attention", 6, SpatialMixerOptions(num_heads=4))


@pytest.mark.parametrize("kind", MIXERS)
@pytest.mark.parametrize("size", [(13, 10), (7, 7), (1, 5)])
def test_mixers_keep_the_map_size_for_sizes_not_multiple_of_the_window(kind, size):
    mixer = build_spatial_mixer(kind, 8, SpatialMixerOptions(kernel_size=3, dilation=2, num_heads=2))
    x = torch.randn(2, 8, *size)
    assert mixer(x).shape == x.shape


def test_dilated_conv_footprint_is_the_dilated_grid():
    mixer = build_spatial_mixer("dilated_conv", 1, SpatialMixerOptions(kernel_size=3, dilation=3))
    with torch.no_grad():
        mixer.conv.weight.fill_(1.0)
        mixer.conv.bias.zero_()
    impulse = torch.zeros(1, 1, 11, 11)
    impulse[0, 0, 5, 5] = 1.0
    response = mixer(impulse)[0, 0]
    expected = torch.zeros(11, 11)
    for dy in (-3, 0, 3):
        for dx in (-3, 0, 3):
            expected[5 + dy, 5 + dx] = 1.0
    assert torch.equal(response, expected)


def test_window_partition_roundtrip():
    x = torch.randn(2, 3, 8, 12)
    tokens = window_partition(x, 4)
    assert tokens.shape == (2 * 2 * 3, 16, 3)
    assert torch.equal(tokens[0, 5], x[0, :, 1, 1])  # window (0, 0), row 1, col 1
    assert torch.equal(window_merge(tokens, 4, 2, 8, 12), x)


def window_attention_reference(mixer: WindowAttentionMixer, x: torch.Tensor) -> torch.Tensor:
    """Per-window attention over the real (unpadded) pixels only, written with explicit loops."""
    n, c, h, w = x.shape
    win, heads = mixer.window, mixer.num_heads
    head_dim = c // heads
    out = torch.zeros_like(x)
    table = mixer.relative_position_bias
    for b in range(n):
        for y0 in range(0, h, win):
            for x0 in range(0, w, win):
                pos = [(y, xx) for y in range(y0, min(y0 + win, h)) for xx in range(x0, min(x0 + win, w))]
                tokens = torch.stack([x[b, :, y, xx] for y, xx in pos])  # [L, C]
                q, k, v = mixer.qkv(tokens).split(c, dim=-1)
                result = []
                for head in range(heads):
                    sl = slice(head * head_dim, (head + 1) * head_dim)
                    logits = q[:, sl] @ k[:, sl].T / math.sqrt(head_dim)
                    for i, (qy, qx) in enumerate(pos):
                        for j, (ky, kx) in enumerate(pos):
                            rel = (qy - ky + win - 1) * (2 * win - 1) + (qx - kx + win - 1)
                            logits[i, j] = logits[i, j] + table[rel, head]
                    result.append(logits.softmax(dim=-1) @ v[:, sl])
                projected = mixer.proj(torch.cat(result, dim=-1))
                for i, (y, xx) in enumerate(pos):
                    out[b, :, y, xx] = projected[i]
    return out


def test_window_attention_matches_a_loop_reference_with_padding():
    torch.manual_seed(0)
    mixer = build_spatial_mixer("window_attention", 8, SpatialMixerOptions(kernel_size=3, num_heads=2))
    perturb_(mixer)
    x = torch.randn(2, 8, 5, 7)  # pads to 6 x 9
    torch.testing.assert_close(mixer(x), window_attention_reference(mixer, x), atol=1e-5, rtol=1e-5)


def test_modulation_functions():
    x = torch.randn(2, 3, 4, 5)
    gamma, beta = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(scale_shift_modulation(x, torch.cat([gamma, beta], 1)), x + x * gamma + beta)
    torch.testing.assert_close(residual_modulation(x, gamma), x + gamma)
    assert MODULATION_REGISTRY.get("scale_shift").channel_factor == 2
    assert MODULATION_REGISTRY.get("residual").channel_factor == 1


def plain_scale_shift(x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """The formula left to autograd: chunk, scale, shift."""
    gamma, beta = delta.chunk(2, dim=1)
    return x * (1 + gamma) + beta


@pytest.mark.parametrize("x_dtype, delta_dtype", [(torch.float32, torch.float32), (torch.float32, torch.bfloat16),
                                                  (torch.bfloat16, torch.float32)])
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
def test_scale_shift_gradients_are_autograds_bit_for_bit_in_the_layout_of_delta(
    x_dtype, delta_dtype, channels_last, needs
):
    torch.manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(2, 6, 5, 7).to(x_dtype).contiguous(memory_format=layout)
    delta = torch.randn(2, 12, 5, 7).to(delta_dtype).contiguous(memory_format=layout)
    grad = torch.randn(2, 6, 5, 7)  # contiguous, as gradients from other branches often are
    results = []
    for fn in (scale_shift_modulation, plain_scale_shift):
        xs, ds = x.clone().requires_grad_(needs[0]), delta.clone().requires_grad_(needs[1])
        y = fn(xs, ds)
        y.backward(grad.to(y.dtype))
        results.append((y, xs.grad, ds.grad))
    (y, gx, gd), (y_ref, gx_ref, gd_ref) = results
    assert torch.equal(y, y_ref)
    for ours, ref in ((gx, gx_ref), (gd, gd_ref)):
        assert (ours is None) == (ref is None)
        if ours is not None:
            assert ours.dtype == ref.dtype and torch.equal(ours, ref)
    if needs[1]:
        assert gd.stride() == delta.stride()  # as autograd's here; the copy it avoids shows only in the encoder


def test_scale_shift_with_a_broadcast_delta_reduces_its_gradient():
    x = torch.randn(2, 3, 4, 5, requires_grad=True)
    delta = torch.randn(2, 6, 1, 1, requires_grad=True)
    scale_shift_modulation(x, delta).sum().backward()
    expected = torch.cat([x.detach().sum((2, 3), keepdim=True), torch.full((2, 3, 1, 1), 20.0)], 1)
    torch.testing.assert_close(delta.grad, expected)


@pytest.mark.parametrize("kind", MIXERS)
@pytest.mark.parametrize("modulation", ["scale_shift", "residual"])
def test_adapter_is_exactly_the_identity_at_init_and_not_after_training(kind, modulation):
    options = SpatialMixerOptions(kernel_size=3, num_heads=2)
    adapter = SpatialAdapter(12, rank=4, spatial_kind=kind, mixer_options=options, modulation=modulation)
    assert adapter.up.out_channels == MODULATION_REGISTRY.get(modulation).channel_factor * 12
    assert not adapter.up.weight.any() and not adapter.up.bias.any()
    x = torch.randn(2, 12, 9, 11)
    assert torch.equal(adapter(x), x)
    perturb_(adapter)
    assert not torch.allclose(adapter(x), x)


def test_adapter_output_matches_reference_formula():
    torch.manual_seed(1)
    adapter = SpatialAdapter(6, rank=3, spatial_kind="depthwise_conv", mixer_options=SpatialMixerOptions(kernel_size=3))
    perturb_(adapter)
    x = torch.randn(1, 6, 5, 5)
    hidden = F.conv2d(x, adapter.down.weight, adapter.down.bias)
    hidden = F.conv2d(hidden, adapter.mixer.conv.weight, adapter.mixer.conv.bias, padding=1, groups=3)
    delta = F.conv2d(F.gelu(hidden), adapter.up.weight, adapter.up.bias)
    torch.testing.assert_close(adapter(x), x * (1 + delta[:, :6]) + delta[:, 6:])


def test_adapter_errors():
    with pytest.raises(ValueError, match="unknown modulation 'film'.*residual, scale_shift"):
        SpatialAdapter(4, rank=2, modulation="film")
    with pytest.raises(ValueError, match="RANK.*>= 1"):
        SpatialAdapter(4, rank=0)
    with pytest.raises(ValueError, match=r"expects \[N, 4, H, W\]"):
        SpatialAdapter(4, rank=2)(torch.randn(1, 5, 3, 3))


def test_gradients_reach_adapter_parameters():
    adapter = SpatialAdapter(4, rank=2, mixer_options=SpatialMixerOptions(kernel_size=3))
    x = torch.randn(1, 4, 6, 6)
    adapter(x).square().sum().backward()
    assert adapter.up.weight.grad.abs().sum() > 0  # at init only `up` gets a nonzero gradient
    assert not adapter.down.weight.grad.any()
    adapter.zero_grad()
    perturb_(adapter)
    adapter(x).square().sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in adapter.parameters())


def make_token_block(batch_first: bool) -> ResidualAttentionBlock:
    torch.manual_seed(3)
    return ResidualAttentionBlock(8, 2, batch_first=batch_first)


def test_token_block_passes_class_token_and_handles_both_layouts():
    adapter = SpatialAdapter(8, rank=2, mixer_options=SpatialMixerOptions(kernel_size=3))
    perturb_(adapter)
    first = AdaptedTokenBlock(make_token_block(True), adapter, batch_first=True)
    second = AdaptedTokenBlock(make_token_block(False), adapter, batch_first=False)
    tokens = torch.randn(2, 1 + 3 * 4, 8)
    out_nld = first(tokens, grid_size=(3, 4))
    out_lnd = second(tokens.transpose(0, 1), grid_size=(3, 4)).transpose(0, 1)
    torch.testing.assert_close(out_nld, out_lnd)

    plain = first.block(tokens)
    assert torch.equal(out_nld[:, 0], plain[:, 0])  # class token unchanged
    patch_map = plain[:, 1:].reshape(2, 3, 4, 8).permute(0, 3, 1, 2)
    expected = adapter(patch_map).permute(0, 2, 3, 1).reshape(2, 12, 8)
    torch.testing.assert_close(out_nld[:, 1:], expected)


def test_token_block_needs_the_grid():
    block = AdaptedTokenBlock(make_token_block(True), SpatialAdapter(8, rank=2))
    with pytest.raises(ValueError, match="needs the patch grid"):
        block(torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="5 tokens do not match 1 prefix token.*3x3"):
        block(torch.randn(1, 5, 8), grid_size=(3, 3))


def test_wrapped_block_loads_unwrapped_state_dicts():
    plain = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1))
    wrapped = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1))
    wrapped[1] = AdaptedConvBlock(wrapped[1], SpatialAdapter(4, rank=2))
    assert "1.block.weight" in wrapped.state_dict() and "1.adapter.down.weight" in wrapped.state_dict()
    result = wrapped.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert all(key.startswith("1.adapter.") for key in result.missing_keys) and result.missing_keys
    assert torch.equal(wrapped[1].block.weight, plain[1].weight)
    assert torch.equal(wrapped[0].weight, plain[0].weight)


def conv_stages(depths):
    return [nn.Sequential(*[nn.Conv2d(4 * (s + 1), 4 * (s + 1), 1) for _ in range(d)]) for s, d in enumerate(depths)]


def test_insert_adapters_every_k_blocks():
    stages = conv_stages([4, 3])
    adapters = insert_adapters(
        stages, [4, 8], (0, 1), 2, lambda c: SpatialAdapter(c, rank=2), lambda b, a: AdaptedConvBlock(b, a)
    )
    wrapped = [[isinstance(block, AdaptedConvBlock) for block in stage] for stage in stages]
    assert wrapped == [[False, True, False, True], [False, True, False]]
    assert [a.channels for a in adapters] == [4, 4, 8]


def test_insert_adapters_errors():
    make = (lambda c: SpatialAdapter(c, rank=2), lambda b, a: AdaptedConvBlock(b, a))
    with pytest.raises(ValueError, match="stage 2, but this encoder has 2 stage"):
        insert_adapters(conv_stages([1, 1]), [4, 8], (0, 2), 1, *make)
    with pytest.raises(ValueError, match="stage 1 has 1 block.*EVERY_K_BLOCKS=2"):
        insert_adapters(conv_stages([2, 1]), [4, 8], (0, 1), 2, *make)
    with pytest.raises(ValueError, match="EVERY_K_BLOCKS must be >= 1"):
        insert_adapters(conv_stages([2]), [4], (0,), 0, *make)
    with pytest.raises(ValueError, match="lists a stage twice"):
        insert_adapters(conv_stages([2]), [4], (0, 0), 1, *make)
    stages = conv_stages([2])
    insert_adapters(stages, [4], (0,), 1, *make)
    with pytest.raises(ValueError, match="already has an adapter"):
        insert_adapters(stages, [4], (0,), 1, *make)
