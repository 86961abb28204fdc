"""SetCriterion: loss values, deep supervision, gradients, empty targets, vocabulary size from the logits."""
import pytest
import torch
import torch.nn.functional as F
from detectron2.config import get_cfg

from gpa.config import add_gpa_config
from gpa.modeling.criterion import SetCriterion, deep_supervision_weight_dict, dice_loss, sigmoid_ce_loss
from gpa.modeling.matching import HungarianMatcher

SIZE = 16  # target masks at the padded image size
PRED = 8  # predicted mask size (stride 2 here)


def _criterion(**overrides):
    kwargs = dict(
        matcher=HungarianMatcher(cost_class=2.0, cost_mask=5.0, cost_dice=5.0, num_points=64),
        weight_dict={"loss_ce": 2.0, "loss_mask": 5.0, "loss_dice": 5.0},
        eos_coef=0.1, losses=["labels", "masks"], num_points=64, oversample_ratio=3.0, importance_sample_ratio=0.75,
    )
    kwargs.update(overrides)
    return SetCriterion(**kwargs)


def _targets(num_classes=3):
    first = torch.zeros(2, SIZE, SIZE, dtype=torch.bool)
    first[0, :, :8] = True
    first[1, :, 8:] = True
    second = torch.zeros(1, SIZE, SIZE, dtype=torch.bool)
    second[0, 4:12, 4:12] = True
    return [
        {"labels": torch.tensor([num_classes - 1, 0]), "masks": first},
        {"labels": torch.tensor([1]), "masks": second},
    ]


PERFECT_QUERIES = [{1: 0, 3: 1}, {0: 0}]  # image -> {query: target}


def _perfect_outputs(targets, num_queries=4, num_classes=3, num_aux=2):
    logits = torch.full((len(targets), num_queries, num_classes + 1), -10.0)
    logits[..., -1] = 10.0
    masks = torch.full((len(targets), num_queries, PRED, PRED), -10.0)
    for b, owner in enumerate(PERFECT_QUERIES):
        for q, t in owner.items():
            logits[b, q] = -10.0
            logits[b, q, targets[b]["labels"][t]] = 10.0
            small = F.interpolate(targets[b]["masks"][t][None, None].float(), size=(PRED, PRED))[0, 0]
            masks[b, q] = small * 20 - 10
    return _with_aux(logits, masks, num_aux)


def _random_outputs(batch=2, num_queries=4, num_classes=3, num_aux=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, num_queries, num_classes + 1, generator=gen)
    masks = torch.randn(batch, num_queries, PRED, PRED, generator=gen)
    return _with_aux(logits, masks, num_aux)


def _with_aux(logits, masks, num_aux):
    leaves = [(logits.clone().requires_grad_(True), masks.clone().requires_grad_(True)) for _ in range(num_aux + 1)]
    return {
        "pred_logits": leaves[-1][0],
        "pred_masks": leaves[-1][1],
        "aux_outputs": [{"pred_logits": lg, "pred_masks": mk} for lg, mk in leaves[:-1]],
    }


def test_pure_losses_equal_direct_per_mask_sums():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 20, generator=gen) * 2
    targets = (torch.rand(3, 20, generator=gen) > 0.4).float()
    probs = logits.sigmoid()
    dice = sum(1 - (2 * (probs[i] * targets[i]).sum() + 1) / (probs[i].sum() + targets[i].sum() + 1) for i in range(3))
    bce = sum(F.binary_cross_entropy_with_logits(logits[i], targets[i]) for i in range(3))
    torch.testing.assert_close(dice_loss(logits, targets, 2.0), dice / 2)
    torch.testing.assert_close(sigmoid_ce_loss(logits, targets, 2.0), bce / 2)


def test_deep_supervision_weight_dict():
    got = deep_supervision_weight_dict({"loss_ce": 2.0, "loss_dice": 5.0}, 2)
    assert got == {"loss_ce": 2.0, "loss_dice": 5.0, "loss_ce_0": 2.0, "loss_dice_0": 5.0,
                   "loss_ce_1": 2.0, "loss_dice_1": 5.0}


def test_keys_finite_values_and_gradients_on_every_prediction():
    torch.manual_seed(0)
    outputs = _random_outputs()
    losses, indices = _criterion()(outputs, _targets())
    base = {"loss_ce", "loss_mask", "loss_dice"}
    assert set(losses) == base | {f"{k}_{i}" for k in base for i in range(2)}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    assert [len(src) for src, _ in indices] == [2, 1]
    sum(losses.values()).backward()
    for pred in [outputs] + outputs["aux_outputs"]:
        assert pred["pred_logits"].grad.abs().sum() > 0
        assert pred["pred_masks"].grad.abs().sum() > 0


def test_perfect_predictions_match_expected_queries_and_beat_random():
    torch.manual_seed(0)
    targets = _targets()
    criterion = _criterion()
    perfect, indices = criterion(_perfect_outputs(targets), targets)
    assert [dict(zip(s.tolist(), t.tolist())) for s, t in indices] == PERFECT_QUERIES
    random_losses, _ = criterion(_random_outputs(), targets)
    for key in perfect:
        assert perfect[key] < random_losses[key], key
    # Importance sampling concentrates points on mask boundaries, where interpolation blurs even a perfect
    # prediction; with uniform points the perfect losses are near zero.
    uniform = _criterion(importance_sample_ratio=0.0)
    perfect, _ = uniform(_perfect_outputs(targets), targets)
    random_losses, _ = uniform(_random_outputs(), targets)
    for key in perfect:
        assert perfect[key] < 0.2 * random_losses[key], key


def test_classification_loss_equals_weighted_cross_entropy():
    torch.manual_seed(0)
    targets = _targets()
    outputs = _perfect_outputs(targets, num_aux=0)
    with torch.no_grad():
        outputs["pred_logits"].normal_()
    losses, indices = _criterion()(outputs, targets)
    assert [dict(zip(s.tolist(), t.tolist())) for s, t in indices] == PERFECT_QUERIES  # decided by the masks
    total, norm = 0.0, 0.0
    for b, owner in enumerate(PERFECT_QUERIES):
        for q in range(4):
            label = int(targets[b]["labels"][owner[q]]) if q in owner else 3
            weight = 1.0 if q in owner else 0.1
            total += weight * -torch.log_softmax(outputs["pred_logits"][b, q].detach(), 0)[label]
            norm += weight
    torch.testing.assert_close(losses["loss_ce"], total / norm)


def test_number_of_classes_follows_the_logits():
    torch.manual_seed(0)
    criterion = _criterion()
    for num_classes in (3, 7):
        losses, _ = criterion(_random_outputs(num_classes=num_classes, num_aux=0), _targets(num_classes))
        assert torch.isfinite(losses["loss_ce"])


def test_empty_targets():
    torch.manual_seed(0)
    empty = {"labels": torch.zeros(0, dtype=torch.int64), "masks": torch.zeros(0, SIZE, SIZE, dtype=torch.bool)}
    outputs = _random_outputs(num_aux=1)
    losses, indices = _criterion()(outputs, [empty, dict(empty)])
    assert all(len(src) == 0 for src, _ in indices)
    assert losses["loss_mask"].item() == 0.0 and losses["loss_dice"].item() == 0.0
    expected_ce = F.cross_entropy(outputs["pred_logits"].detach().transpose(1, 2), torch.full((2, 4), 3))
    torch.testing.assert_close(losses["loss_ce"], expected_ce)
    sum(losses.values()).backward()
    assert outputs["pred_masks"].grad is not None  # graph stays connected

    mixed, indices = _criterion()(_random_outputs(num_aux=0), [_targets()[0], empty])
    assert [len(src) for src, _ in indices] == [2, 0]
    assert all(torch.isfinite(v) for v in mixed.values())


def test_deep_supervision_off_and_bf16_autocast():
    torch.manual_seed(0)
    losses, _ = _criterion(deep_supervision=False)(_random_outputs(), _targets())
    assert set(losses) == {"loss_ce", "loss_mask", "loss_dice"}
    outputs = _random_outputs(num_aux=0)
    outputs = {"pred_logits": outputs["pred_logits"].bfloat16(), "pred_masks": outputs["pred_masks"].bfloat16()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses, _ = _criterion()(outputs, _targets())
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())


def test_invalid_arguments_fail_clearly():
    with pytest.raises(ValueError, match="valid"):
        _criterion(losses=["labels", "boxes"])
    targets = _targets()
    targets[1]["masks"] = torch.zeros(1, SIZE, SIZE + 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="padded batch image size"):
        _criterion()(_random_outputs(num_aux=0), targets)
    with pytest.raises(ValueError, match="targets for a batch"):
        _criterion()(_random_outputs(num_aux=0), _targets()[:1])


def test_from_config_weights_cover_all_deep_supervision_outputs():
    cfg = get_cfg()
    add_gpa_config(cfg)
    criterion = SetCriterion(cfg)
    assert len(criterion.weight_dict) == 3 * 10  # DEC_LAYERS = 10 predictions
    assert criterion.weight_dict["loss_ce_8"] == 2.0 and "loss_ce_9" not in criterion.weight_dict
    assert criterion.eos_coef == 0.1 and criterion.num_points == 12544
    assert isinstance(criterion.matcher, HungarianMatcher)
