"""Set-prediction losses of the mask generator (Mask2Former): classification over a per-batch vocabulary,
point-sampled mask BCE and dice on Hungarian-matched pairs, deep supervision on every earlier prediction."""
import torch
import torch.nn.functional as F
from detectron2.config import CfgNode, configurable
from detectron2.utils import comm
from torch import Tensor, nn

from .matching.hungarian_matcher import HungarianMatcher
from .matching.point_sampling import calculate_uncertainty, get_uncertain_point_coords_with_randomness, point_sample

__all__ = ["SetCriterion", "deep_supervision_weight_dict", "dice_loss", "sigmoid_ce_loss"]

Indices = list[tuple[Tensor, Tensor]]  # per image: (matched query indices, matched target indices)


def dice_loss(logits: Tensor, targets: Tensor, num_masks: float) -> Tensor:
    """Sum over masks of 1 - (2|p.t| + 1) / (|p| + |t| + 1), p = sigmoid(logits) [N, P], divided by num_masks."""
    probs = logits.sigmoid()
    numerator = 2 * (probs * targets).sum(-1)
    denominator = probs.sum(-1) + targets.sum(-1)
    return (1 - (numerator + 1) / (denominator + 1)).sum() / num_masks


def sigmoid_ce_loss(logits: Tensor, targets: Tensor, num_masks: float) -> Tensor:
    """Sum over masks of the mean point-wise binary cross-entropy [N, P], divided by num_masks."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(1).sum() / num_masks


def deep_supervision_weight_dict(weights: dict[str, float], num_aux: int) -> dict[str, float]:
    """Loss weights extended to the auxiliary predictions: key `k` also as `k_0` ... `k_{num_aux-1}`."""
    out = dict(weights)
    for i in range(num_aux):
        out.update({f"{k}_{i}": v for k, v in weights.items()})
    return out


class SetCriterion(nn.Module):
    """Losses of a set of mask predictions against ground-truth segments.

    The number of classes is read from each batch's logits (C+1 with the last being "no object"), so one
    criterion serves any vocabulary. Returns unweighted losses; `weight_dict` holds their weights.
    """

    _LOSSES = {"labels": "loss_labels", "masks": "loss_masks"}

    @configurable
    def __init__(
        self,
        matcher: nn.Module,
        weight_dict: dict[str, float],
        eos_coef: float,
        losses: list[str],
        num_points: int,
        oversample_ratio: float,
        importance_sample_ratio: float,
        deep_supervision: bool = True,
    ):
        """eos_coef: cross-entropy weight of the no-object class. deep_supervision: also compute the losses of
        every entry of outputs["aux_outputs"] (keys suffixed _0, _1, ...)."""
        super().__init__()
        unknown = [name for name in losses if name not in self._LOSSES]
        if unknown or not losses:
            raise ValueError(f"SetCriterion: unknown losses {unknown}; valid: {sorted(self._LOSSES)}")
        if num_points <= 0 or oversample_ratio < 1 or not 0 <= importance_sample_ratio <= 1:
            raise ValueError(
                f"SetCriterion: need num_points > 0, oversample_ratio >= 1, 0 <= importance_sample_ratio <= 1; got "
                f"{num_points}, {oversample_ratio}, {importance_sample_ratio}"
            )
        self.matcher = matcher
        self.weight_dict = dict(weight_dict)
        self.eos_coef = eos_coef
        self.losses = list(losses)
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio
        self.deep_supervision = deep_supervision

    @classmethod
    def from_config(cls, cfg: CfgNode) -> dict:
        mf = cfg.MODEL.MASK_FORMER
        weights = {"loss_ce": mf.CLASS_WEIGHT, "loss_mask": mf.MASK_WEIGHT, "loss_dice": mf.DICE_WEIGHT}
        num_aux = mf.DEC_LAYERS - 1 if mf.DEEP_SUPERVISION else 0
        return {
            "matcher": HungarianMatcher(cfg),
            "weight_dict": deep_supervision_weight_dict(weights, num_aux),
            "eos_coef": mf.NO_OBJECT_WEIGHT,
            "losses": ["labels", "masks"],
            "num_points": mf.TRAIN_NUM_POINTS,
            "oversample_ratio": mf.OVERSAMPLE_RATIO,
            "importance_sample_ratio": mf.IMPORTANCE_SAMPLE_RATIO,
            "deep_supervision": mf.DEEP_SUPERVISION,
        }

    def forward(self, outputs: dict, targets: list[dict]) -> tuple[dict[str, Tensor], Indices]:
        """outputs: {"pred_logits": [B, Q, C+1], "pred_masks": [B, Q, H, W], "aux_outputs": [...]}; targets: B
        dicts {"labels": int64 [M], "masks": [M, H', W']} at the padded image size (the same for all images).
        Returns (unweighted losses, the final prediction's matching)."""
        self._check_targets(targets, outputs["pred_logits"].shape[0])
        num_masks = self._num_masks(targets, outputs["pred_logits"].device)
        losses, indices = self._losses_of(outputs, targets, num_masks, suffix="")
        if self.deep_supervision:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                losses.update(self._losses_of(aux, targets, num_masks, suffix=f"_{i}")[0])
        return losses, indices

    def _losses_of(
        self, outputs: dict, targets: list[dict], num_masks: float, suffix: str
    ) -> tuple[dict[str, Tensor], Indices]:
        indices = self.matcher(outputs, targets)
        losses = {}
        with torch.autocast(device_type=outputs["pred_masks"].device.type, enabled=False):
            for name in self.losses:
                found = getattr(self, self._LOSSES[name])(outputs, targets, indices, num_masks)
                losses.update({k + suffix: v for k, v in found.items()})
        return losses, indices

    def loss_labels(self, outputs: dict, targets: list[dict], indices: Indices, num_masks: float) -> dict[str, Tensor]:
        """Cross-entropy over C+1 classes; unmatched queries are "no object" (weight eos_coef)."""
        logits = outputs["pred_logits"].float()
        num_classes = logits.shape[-1] - 1
        weight = torch.ones(num_classes + 1, device=logits.device)
        weight[-1] = self.eos_coef
        target_classes = torch.full(logits.shape[:2], num_classes, dtype=torch.int64, device=logits.device)
        batch_idx, src_idx = self._matched_predictions(indices)
        matched = [t["labels"][tgt] for t, (_, tgt) in zip(targets, indices)]
        if batch_idx.numel():
            target_classes[batch_idx, src_idx] = torch.cat(matched).to(logits.device)
        return {"loss_ce": F.cross_entropy(logits.transpose(1, 2), target_classes, weight)}

    def loss_masks(self, outputs: dict, targets: list[dict], indices: Indices, num_masks: float) -> dict[str, Tensor]:
        """BCE and dice of matched masks at `num_points` points, mostly where the prediction is uncertain."""
        pred_masks = outputs["pred_masks"]
        batch_idx, src_idx = self._matched_predictions(indices)
        if batch_idx.numel() == 0:
            zero = pred_masks.float().sum() * 0.0  # keeps the graph connected when no image has objects
            return {"loss_mask": zero, "loss_dice": zero.clone()}
        src = pred_masks[batch_idx.to(pred_masks.device), src_idx.to(pred_masks.device)].float()[:, None]
        tgt = torch.cat([t["masks"][j] for t, (_, j) in zip(targets, indices)]).to(src.device, torch.float32)[:, None]
        with torch.no_grad():
            coords = get_uncertain_point_coords_with_randomness(
                src, calculate_uncertainty, self.num_points, self.oversample_ratio, self.importance_sample_ratio
            )
            tgt_points = point_sample(tgt, coords, align_corners=False)[:, 0]
        src_points = point_sample(src, coords, align_corners=False)[:, 0]
        return {
            "loss_mask": sigmoid_ce_loss(src_points, tgt_points, num_masks),
            "loss_dice": dice_loss(src_points, tgt_points, num_masks),
        }

    @staticmethod
    def _matched_predictions(indices: Indices) -> tuple[Tensor, Tensor]:
        batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
        src_idx = torch.cat([src for src, _ in indices])
        return batch_idx, src_idx

    @staticmethod
    def _num_masks(targets: list[dict], device: torch.device) -> float:
        """Targets per GPU averaged over all ranks (at least 1), so every rank normalizes alike."""
        total = torch.as_tensor([float(sum(len(t["labels"]) for t in targets))], device=device)
        if comm.get_world_size() > 1:
            torch.distributed.all_reduce(total)
        return torch.clamp(total / comm.get_world_size(), min=1).item()

    @staticmethod
    def _check_targets(targets: list[dict], batch: int) -> None:
        if len(targets) != batch:
            raise ValueError(f"SetCriterion: {len(targets)} targets for a batch of {batch} predictions")
        sizes = set()
        for i, t in enumerate(targets):
            labels, masks = t["labels"], t["masks"]
            if labels.dim() != 1 or masks.dim() != 3 or masks.shape[0] != labels.shape[0]:
                raise ValueError(f"target {i}: need labels [M] and masks [M, H, W], got {tuple(labels.shape)} and "
                                 f"{tuple(masks.shape)}")
            sizes.add(tuple(masks.shape[-2:]))
        if len(sizes) > 1:
            raise ValueError(f"SetCriterion: target masks must all have the padded batch image size, got sizes "
                             f"{sorted(sizes)}")
