"""mask_pool: per-mask feature averages, masks resized and binarized, no gradient to the masks."""
import pytest
import torch
import torch.nn.functional as F

from gpa.modeling.ops.mask_pooling import mask_pool


def _loop_reference(features, mask_logits):
    masks = F.interpolate(mask_logits, size=features.shape[-2:], mode="bilinear", align_corners=False)
    out = torch.zeros(features.shape[0], mask_logits.shape[1], features.shape[1])
    for b in range(features.shape[0]):
        for q in range(mask_logits.shape[1]):
            inside = masks[b, q] > 0
            if inside.any():
                out[b, q] = features[b][:, inside].mean(dim=1)
    return out


def test_matches_per_mask_mean_including_resize_and_empty_masks():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 5, 8, 6, generator=gen)
    mask_logits = torch.randn(2, 4, 4, 3, generator=gen)
    mask_logits[1, 2] = -1.0  # empty mask pools to zero
    out = mask_pool(features, mask_logits)
    assert out.shape == (2, 4, 5)
    torch.testing.assert_close(out, _loop_reference(features, mask_logits), atol=1e-5, rtol=1e-5)
    assert torch.equal(out[1, 2], torch.zeros(5))


def test_gradient_reaches_features_but_not_masks():
    features = torch.randn(1, 3, 4, 4, requires_grad=True)
    mask_logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    mask_pool(features, mask_logits).sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert mask_logits.grad is None


def test_bf16_features_keep_exact_mean_weights():
    # 300 pixels: a bf16 pixel count would round; weights are computed in float32.
    features = torch.ones(1, 2, 20, 15, dtype=torch.bfloat16)
    out = mask_pool(features, torch.ones(1, 1, 20, 15))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), torch.ones(1, 1, 2), atol=1e-2, rtol=0)


def test_shape_errors_name_the_inputs():
    with pytest.raises(ValueError, match="mask_logits"):
        mask_pool(torch.randn(2, 3, 4, 4), torch.randn(1, 2, 4, 4))
