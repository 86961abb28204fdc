import math

import torch

from gpa.modeling.heads.context_aggregation import ContextAwareAggregation, mask_biased_attention_pool
from gpa.modeling.heads.matched_cross_entropy import matched_cross_entropy


def test_pool_matches_loop_reference():
    torch.manual_seed(0)
    b, d, p, q, k, kd = 2, 5, 7, 3, 2, 4
    feats, queries, keys = torch.randn(b, d, p), torch.randn(b, q, k, kd), torch.randn(b, k, kd, p)
    masks, eps = torch.randn(b, q, p), 1e-4
    got = mask_biased_attention_pool(feats, queries, keys, masks, eps)
    want = torch.zeros(b, q, d)
    for bi in range(b):
        for qi in range(q):
            for ki in range(k):
                logits = torch.stack(
                    [
                        queries[bi, qi, ki] @ keys[bi, ki, :, pi] / math.sqrt(kd)
                        + math.log(torch.sigmoid(masks[bi, qi, pi]).item() + eps)
                        for pi in range(p)
                    ]
                )
                want[bi, qi] += (logits.softmax(0)[None, :] * feats[bi]).sum(1) / k
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_head_starts_as_soft_mask_pooling_of_the_clip_map():
    torch.manual_seed(0)
    head = ContextAwareAggregation(dense_dim=8, query_dim=6, context_dim=16, num_maps=3, key_dim=4, mask_bias_eps=1e-4)
    dense = torch.randn(2, 8, 4, 5)
    masks = torch.randn(2, 3, 4, 5)  # same size as the dense map: no resize
    out = head(dense, masks, torch.randn(2, 3, 6))
    weights = masks.sigmoid().flatten(2) + 1e-4
    want = torch.einsum("bqp,bdp->bqd", weights / weights.sum(-1, keepdim=True), dense.flatten(2))
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)


def _fcclip_mask_pooling(dense, mask_logits):
    """FC-CLIP's MaskPooling, transcribed from its source: bilinear resize of the mask logits to the feature
    size, binarize (> 0), divide by the pixel count + 1e-8, einsum with the features."""
    masks = torch.nn.functional.interpolate(mask_logits, size=dense.shape[-2:], mode="bilinear", align_corners=False)
    masks = (masks > 0).to(masks.dtype)
    return torch.einsum("bchw,bqhw->bqc", dense, masks / (masks.sum(dim=(-1, -2), keepdim=True) + 1e-8))


def test_warm_start_head_starts_exactly_as_fcclip_mask_pooling():
    torch.manual_seed(0)
    head = ContextAwareAggregation(dense_dim=8, query_dim=6, context_dim=16, num_maps=3, key_dim=4,
                                   start_as_mask_pooling=True)
    for p in head.parameters():  # random attention weights: the gate alone must make the output mask pooling
        if p is not head.mask_pooling_gate and p is not head.context_out.weight and p is not head.context_out.bias:
            torch.nn.init.normal_(p)
    dense = torch.randn(2, 8, 6, 7)
    masks = torch.randn(2, 5, 24, 28)
    masks[0, 1] = -1.0  # an empty mask pools to 0, as in FC-CLIP
    out = head(dense, masks, torch.randn(2, 5, 6))
    want = _fcclip_mask_pooling(dense, masks)
    assert (out - want).abs().max() <= 1e-6
    assert torch.equal(out[0, 1], torch.zeros(8))


def test_warm_start_gate_learns_and_then_the_attention_trains():
    torch.manual_seed(0)
    head = ContextAwareAggregation(dense_dim=8, query_dim=6, context_dim=16, num_maps=2, key_dim=4,
                                   start_as_mask_pooling=True)
    torch.nn.init.normal_(head.query_proj.weight)  # attention different from mask pooling
    dense, masks, queries = torch.randn(1, 8, 4, 4), torch.randn(1, 3, 8, 8), torch.randn(1, 3, 6)
    head(dense, masks, queries).sum().backward()
    assert head.mask_pooling_gate.grad.abs() > 0  # the gate moves at the first step
    assert head.context_out.weight.grad.abs().sum() > 0  # the context branch trains through the mask pooling
    assert head.query_proj.weight.grad.abs().sum() == 0  # gated off at the start ...
    head.zero_grad()
    with torch.no_grad():
        head.mask_pooling_gate.fill_(0.1)
    head(dense, masks, queries).sum().backward()
    assert head.query_proj.weight.grad.abs().sum() > 0  # ... and trained once the gate opens


def test_head_trains_and_does_not_backpropagate_into_masks():
    head = ContextAwareAggregation(dense_dim=8, query_dim=6, context_dim=16, num_maps=2, key_dim=4)
    dense = torch.randn(1, 8, 4, 4, requires_grad=True)
    masks = torch.randn(1, 3, 16, 16, requires_grad=True)
    queries = torch.randn(1, 3, 6, requires_grad=True)
    head(dense, masks, queries).square().sum().backward()
    assert masks.grad is None
    assert dense.grad is not None and queries.grad is not None
    assert head.query_proj.weight.grad.abs().sum() > 0 and head.context_out.weight.grad.abs().sum() > 0


def test_matched_cross_entropy_by_hand():
    logits = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]])
    indices = [(torch.tensor([1]), torch.tensor([0])), (torch.tensor([0, 1]), torch.tensor([1, 0]))]
    labels = [torch.tensor([1]), torch.tensor([0, 2])]
    # pairs: (img0 q1 -> class 1), (img1 q0 -> class 2), (img1 q1 -> class 0)
    want = (
        -(
            torch.log_softmax(logits[0, 1], 0)[1]
            + torch.log_softmax(logits[1, 0], 0)[2]
            + torch.log_softmax(logits[1, 1], 0)[0]
        )
        / 3
    )
    torch.testing.assert_close(matched_cross_entropy(logits, indices, labels), want)


def test_matched_cross_entropy_without_matches_is_zero_with_graph():
    logits = torch.randn(1, 2, 3, requires_grad=True)
    loss = matched_cross_entropy(
        logits, [(torch.tensor([], dtype=torch.long),) * 2], [torch.tensor([], dtype=torch.long)]
    )
    assert loss.item() == 0.0
    loss.backward()
