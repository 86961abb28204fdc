"""multi_scale_deformable_attention against an explicit-loop bilinear reference; MSDeformAttn under autocast."""
import math

import pytest
import torch

from gpa.modeling.ops.ms_deform_attn import MSDeformAttn, multi_scale_deformable_attention


def _bilinear(level_map: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """level_map [D, H, W]; (x, y) in [0, 1] image coordinates, pixel centers at (i + 0.5) / size; zero outside."""
    _, height, width = level_map.shape
    px = x * width - 0.5
    py = y * height - 0.5
    x0 = int(math.floor(px.item()))
    y0 = int(math.floor(py.item()))
    fx = px - x0
    fy = py - y0
    out = torch.zeros(level_map.shape[0], dtype=level_map.dtype)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            if 0 <= xi < width and 0 <= yi < height:
                out = out + wx * wy * level_map[:, yi, xi]
    return out


def _reference(value, shapes, locations, weights):
    batch, _, heads, head_dim = value.shape
    _, num_queries, _, levels, points, _ = locations.shape
    starts = [0]
    for h, w in shapes:
        starts.append(starts[-1] + h * w)
    rows = []
    for b in range(batch):
        per_query = []
        for q in range(num_queries):
            per_head = []
            for m in range(heads):
                acc = torch.zeros(head_dim, dtype=value.dtype)
                for lvl, (h, w) in enumerate(shapes):
                    level_map = value[b, starts[lvl] : starts[lvl + 1], m].T.reshape(head_dim, h, w)
                    for p in range(points):
                        x, y = locations[b, q, m, lvl, p]
                        acc = acc + weights[b, q, m, lvl, p] * _bilinear(level_map, x, y)
                per_head.append(acc)
            per_query.append(torch.cat(per_head))
        rows.append(torch.stack(per_query))
    return torch.stack(rows)


def _random_inputs(seed, batch, shapes, heads, head_dim, num_queries, points):
    gen = torch.Generator().manual_seed(seed)
    total = sum(h * w for h, w in shapes)
    value = torch.randn(batch, total, heads, head_dim, generator=gen)
    # Spread beyond [0, 1] so some samples fall partly or fully outside the maps.
    locations = torch.rand(batch, num_queries, heads, len(shapes), points, 2, generator=gen) * 1.6 - 0.3
    weights = torch.rand(batch, num_queries, heads, len(shapes), points, generator=gen)
    return value, locations, weights


CASES = [
    # seed, batch, shapes, heads, head_dim, queries, points
    (0, 1, [(4, 5), (2, 3)], 2, 3, 4, 2),
    (1, 2, [(6, 4), (3, 2), (1, 1)], 2, 4, 3, 3),
    (2, 2, [(5, 7), (3, 3), (2, 4)], 1, 2, 5, 1),
]


@pytest.mark.parametrize("case", CASES)
def test_forward_and_backward_match_loop_reference(case):
    seed, batch, shapes, heads, head_dim, num_queries, points = case
    value, locations, weights = _random_inputs(seed, batch, shapes, heads, head_dim, num_queries, points)
    assert ((locations < 0) | (locations > 1)).any()

    inputs = [t.clone().requires_grad_(True) for t in (value, locations, weights)]
    out = multi_scale_deformable_attention(inputs[0], torch.tensor(shapes), None, inputs[1], inputs[2])
    ref_inputs = [t.clone().requires_grad_(True) for t in (value, locations, weights)]
    ref = _reference(ref_inputs[0], shapes, ref_inputs[1], ref_inputs[2])

    assert out.shape == (batch, num_queries, heads * head_dim)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)

    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 100))
    grads = torch.autograd.grad(out, inputs, grad_out)
    ref_grads = torch.autograd.grad(ref, ref_inputs, grad_out)
    for name, g, rg in zip(("value", "sampling_locations", "attention_weights"), grads, ref_grads):
        torch.testing.assert_close(g, rg, atol=1e-5, rtol=1e-5, msg=lambda m, n=name: f"grad {n}: {m}")


def test_fully_outside_samples_are_zero_and_level_start_index_is_checked():
    shapes = [(3, 3), (2, 2)]
    value, locations, weights = _random_inputs(5, 1, shapes, 2, 2, 3, 2)
    far = torch.full_like(locations, 2.0)
    out = multi_scale_deformable_attention(value, shapes, torch.tensor([0, 9]), far, weights)
    assert torch.equal(out, torch.zeros_like(out))
    with pytest.raises(ValueError, match="level_start_index"):
        multi_scale_deformable_attention(value, shapes, torch.tensor([0, 8]), locations, weights)
    with pytest.raises(ValueError, match="spatial_shapes"):
        multi_scale_deformable_attention(value, [(3, 3), (2, 3)], None, locations, weights)


def test_module_parameter_names_and_deformable_detr_init():
    attn = MSDeformAttn(d_model=16, n_levels=3, n_heads=4, n_points=2)
    assert {n.split(".")[0] for n, _ in attn.named_parameters()} == {
        "sampling_offsets", "attention_weights", "value_proj", "output_proj"
    }
    bias = attn.sampling_offsets.bias.view(4, 3, 2, 2)
    # head 0 points along +x, head 1 along +y (after max-abs normalization), point k at distance k + 1
    torch.testing.assert_close(bias[0, :, 0], torch.tensor([[1.0, 0.0]] * 3))
    torch.testing.assert_close(bias[1, :, 1], torch.tensor([[0.0, 2.0]] * 3), atol=1e-6, rtol=0)
    assert torch.count_nonzero(attn.attention_weights.weight) == 0
    assert torch.count_nonzero(attn.sampling_offsets.weight) == 0


def _module_inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(6, 6), (3, 3)]
    total = sum(h * w for h, w in shapes)
    x = torch.randn(2, total, 32, generator=gen)
    ref = torch.rand(2, total, 2, 2, generator=gen)
    return shapes, x, ref


def test_module_bf16_autocast_on_cpu_is_close_to_fp32():
    torch.manual_seed(0)
    attn = MSDeformAttn(d_model=32, n_levels=2, n_heads=4, n_points=3)
    with torch.no_grad():
        attn.sampling_offsets.weight.normal_(std=0.05)
        attn.attention_weights.weight.normal_(std=0.05)
    shapes, x, ref = _module_inputs()
    expected = attn(x, ref, x, shapes)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attn(x, ref, x, shapes)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, atol=0.05, rtol=0.05)
    out.float().sum().backward()
    assert attn.value_proj.weight.grad is not None and torch.isfinite(attn.value_proj.weight.grad).all()


def test_module_padding_mask_zeroes_padded_values():
    torch.manual_seed(0)
    attn = MSDeformAttn(d_model=32, n_levels=2, n_heads=4, n_points=3)
    shapes, x, ref = _module_inputs(1)
    pad = torch.zeros(x.shape[:2], dtype=torch.bool)
    pad[:, 10:] = True
    changed = x.clone()
    changed[:, 10:] += 5.0
    expected = attn(x, ref, x, shapes, padding_mask=pad)
    torch.testing.assert_close(attn(x, ref, changed, shapes, padding_mask=pad), expected)
