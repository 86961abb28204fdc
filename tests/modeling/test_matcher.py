"""Matching costs and HungarianMatcher: direct per-pair costs, obvious assignments, brute-force optimality."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from detectron2.config import get_cfg

from gpa.config import add_gpa_config
from gpa.modeling.matching import (
    HungarianMatcher,
    batch_dice_cost,
    batch_sigmoid_ce_cost,
    calculate_uncertainty,
    class_cost,
    point_sample,
)


def _pair_dice(logit_row, target_row):
    p = logit_row.sigmoid()
    return 1 - (2 * (p * target_row).sum() + 1) / (p.sum() + target_row.sum() + 1)


def _pair_bce(logit_row, target_row):
    return F.binary_cross_entropy_with_logits(logit_row, target_row)


def test_costs_equal_direct_per_pair_computation():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 30, generator=gen) * 3
    targets = (torch.rand(3, 30, generator=gen) > 0.5).float()
    dice, bce = batch_dice_cost(logits, targets), batch_sigmoid_ce_cost(logits, targets)
    assert dice.shape == bce.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            torch.testing.assert_close(dice[i, j], _pair_dice(logits[i], targets[j]))
            torch.testing.assert_close(bce[i, j], _pair_bce(logits[i], targets[j]))
    class_logits = torch.randn(4, 6, generator=gen)
    labels = torch.tensor([5, 0, 5])
    expected = -torch.stack([class_logits.softmax(-1)[:, c] for c in labels.tolist()], 1)
    torch.testing.assert_close(class_cost(class_logits, labels), expected)


def test_uncertainty_is_negative_absolute_logit():
    assert torch.equal(calculate_uncertainty(torch.tensor([[[-2.0, 0.5]]])), torch.tensor([[[-2.0, -0.5]]]))
    with pytest.raises(ValueError, match="one channel"):
        calculate_uncertainty(torch.zeros(2, 3, 4))


class GridPointMatcher(HungarianMatcher):
    """Compares masks at every pixel centre of a size x size grid instead of random points."""

    def __init__(self, size, **kwargs):
        super().__init__(num_points=size * size, **kwargs)
        self.size = size

    def sample_points(self, device):
        centres = (torch.arange(self.size, dtype=torch.float32) + 0.5) / self.size
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        return torch.stack((xs.reshape(-1), ys.reshape(-1)), -1)[None].to(device)


def test_grid_points_sample_exact_pixels():
    masks = torch.randn(2, 1, 5, 5)
    matcher = GridPointMatcher(5, cost_class=1.0, cost_mask=1.0, cost_dice=1.0)
    points = matcher.sample_points(torch.device("cpu")).expand(2, -1, -1)
    torch.testing.assert_close(point_sample(masks, points, align_corners=False)[:, 0], masks.flatten(1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assignment_is_optimal_by_brute_force(seed):
    gen = torch.Generator().manual_seed(seed)
    num_queries, num_targets, num_classes, size = 5, 3, 4, 6
    logits = torch.randn(1, num_queries, num_classes + 1, generator=gen)
    masks = torch.randn(1, num_queries, size, size, generator=gen) * 2
    tgt_masks = torch.rand(num_targets, size, size, generator=gen) > 0.5
    labels = torch.randint(0, num_classes, (num_targets,), generator=gen)
    weights = dict(cost_class=2.0, cost_mask=5.0, cost_dice=5.0)
    matcher = GridPointMatcher(size, **weights)
    outputs = {"pred_logits": logits, "pred_masks": masks}
    ((pred_idx, tgt_idx),) = matcher(outputs, [{"labels": labels, "masks": tgt_masks}])
    assert pred_idx.dtype == tgt_idx.dtype == torch.int64 and len(pred_idx) == num_targets

    probs = logits[0].softmax(-1)

    def pair_cost(q, t):
        m, g = masks[0, q].flatten(), tgt_masks[t].flatten().float()
        return (-weights["cost_class"] * probs[q, labels[t]] + weights["cost_mask"] * _pair_bce(m, g)
                + weights["cost_dice"] * _pair_dice(m, g)).item()

    best = min(
        sum(pair_cost(q, t) for t, q in enumerate(perm))
        for perm in itertools.permutations(range(num_queries), num_targets)
    )
    got = sum(pair_cost(q, t) for q, t in zip(pred_idx.tolist(), tgt_idx.tolist()))
    assert got == pytest.approx(best, abs=1e-4)
    assert sorted(tgt_idx.tolist()) == list(range(num_targets))


def test_obvious_assignment_with_random_points_and_an_empty_image():
    torch.manual_seed(0)
    size = 16
    tgt_masks = torch.zeros(3, size, size, dtype=torch.bool)
    tgt_masks[0, :8] = True
    tgt_masks[1, 8:, :8] = True
    tgt_masks[2, 8:, 8:] = True
    labels = torch.tensor([2, 0, 1])
    owner = {4: 0, 0: 1, 2: 2}  # query -> target
    masks = torch.full((2, 5, 8, 8), -8.0)
    logits = torch.zeros(2, 5, 4)
    for q, t in owner.items():
        masks[0, q] = F.interpolate(tgt_masks[t][None, None].float(), size=(8, 8))[0, 0] * 16 - 8
        logits[0, q, labels[t]] = 5.0
    targets = [
        {"labels": labels, "masks": tgt_masks},
        {"labels": torch.zeros(0, dtype=torch.int64), "masks": torch.zeros(0, size, size, dtype=torch.bool)},
    ]
    matcher = HungarianMatcher(cost_class=2.0, cost_mask=5.0, cost_dice=5.0, num_points=64)
    indices = matcher({"pred_logits": logits, "pred_masks": masks}, targets)
    assert dict(zip(indices[0][0].tolist(), indices[0][1].tolist())) == owner
    assert indices[1][0].shape == (0,) and indices[1][0].dtype == torch.int64 and indices[1][1].shape == (0,)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = matcher({"pred_logits": logits.bfloat16(), "pred_masks": masks.bfloat16()}, targets)
    assert dict(zip(half[0][0].tolist(), half[0][1].tolist())) == owner


def test_invalid_targets_fail_clearly():
    matcher = HungarianMatcher(cost_class=1.0, cost_mask=1.0, cost_dice=1.0, num_points=10)
    outputs = {"pred_logits": torch.zeros(1, 2, 3), "pred_masks": torch.zeros(1, 2, 4, 4)}
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        matcher(outputs, [{"labels": torch.tensor([2]), "masks": torch.ones(1, 4, 4)}])
    with pytest.raises(ValueError, match="NUM_OBJECT_QUERIES"):
        matcher(outputs, [{"labels": torch.tensor([0, 1, 0]), "masks": torch.ones(3, 4, 4)}])
    with pytest.raises(ValueError, match="targets for a batch"):
        matcher(outputs, [])
    with pytest.raises(FloatingPointError, match="NaN/inf entries.*training diverged"):
        bad = {"pred_logits": torch.zeros(1, 2, 3), "pred_masks": torch.full((1, 2, 4, 4), float("nan"))}
        matcher(bad, [{"labels": torch.tensor([0]), "masks": torch.ones(1, 4, 4)}])
    with pytest.raises(ValueError, match="num_points"):
        HungarianMatcher(cost_class=1.0, cost_mask=1.0, cost_dice=0.0, num_points=0)


def test_from_config_uses_mask_former_weights():
    cfg = get_cfg()
    add_gpa_config(cfg)
    matcher = HungarianMatcher(cfg)
    assert (matcher.cost_class, matcher.cost_mask, matcher.cost_dice, matcher.num_points) == (2.0, 5.0, 5.0, 12544)
