"""One-to-one matching of predicted masks to ground-truth segments (Mask2Former's Hungarian matcher)."""
import torch
from detectron2.config import CfgNode, configurable
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from .costs import batch_dice_cost, batch_sigmoid_ce_cost, class_cost
from .point_sampling import point_sample

__all__ = ["HungarianMatcher"]


class HungarianMatcher(nn.Module):
    """Minimum-cost assignment of queries to targets per image.

    cost = cost_class * (-p(class)) + cost_mask * BCE + cost_dice * dice, the mask terms evaluated on
    `num_points` random points shared by all predictions and targets of an image. Runs in float32 with
    autocast off. Returns, per image, (pred_idx, tgt_idx) int64 CPU tensors of equal length min(Q, M) = M.
    """

    @configurable
    def __init__(self, cost_class: float, cost_mask: float, cost_dice: float, num_points: int):
        super().__init__()
        if cost_class == 0 and cost_mask == 0 and cost_dice == 0:
            raise ValueError("HungarianMatcher: at least one of cost_class, cost_mask, cost_dice must be non-zero")
        if (cost_mask != 0 or cost_dice != 0) and num_points <= 0:
            raise ValueError(f"HungarianMatcher: num_points must be > 0 for the mask costs, got {num_points}")
        self.cost_class = cost_class
        self.cost_mask = cost_mask
        self.cost_dice = cost_dice
        self.num_points = num_points

    @classmethod
    def from_config(cls, cfg: CfgNode) -> dict:
        mf = cfg.MODEL.MASK_FORMER
        return {
            "cost_class": mf.CLASS_WEIGHT,
            "cost_mask": mf.MASK_WEIGHT,
            "cost_dice": mf.DICE_WEIGHT,
            "num_points": mf.TRAIN_NUM_POINTS,
        }

    def sample_points(self, device: torch.device) -> Tensor:
        """Normalized (x, y) point coordinates [1, num_points, 2] at which masks are compared."""
        return torch.rand(1, self.num_points, 2, device=device)

    @torch.no_grad()
    def forward(self, outputs: dict, targets: list[dict]) -> list[tuple[Tensor, Tensor]]:
        """outputs: {"pred_logits": [B, Q, C+1], "pred_masks": [B, Q, H, W]}; targets: B dicts with
        "labels" int64 [M] in [0, C) and "masks" [M, H', W'] covering the same (padded) image."""
        logits, masks = outputs["pred_logits"], outputs["pred_masks"]
        if len(targets) != logits.shape[0]:
            raise ValueError(f"HungarianMatcher: {len(targets)} targets for a batch of {logits.shape[0]} predictions")
        with torch.autocast(device_type=logits.device.type, enabled=False):
            return [self._match_image(b, logits[b].float(), masks[b].float(), t) for b, t in enumerate(targets)]

    def _match_image(self, b: int, logits: Tensor, masks: Tensor, target: dict) -> tuple[Tensor, Tensor]:
        labels = target["labels"]
        num_queries, num_classes = logits.shape[0], logits.shape[1] - 1
        if labels.numel() == 0:
            empty = torch.empty(0, dtype=torch.int64)
            return empty, empty.clone()
        if labels.numel() > num_queries:
            raise ValueError(f"image {b} has {labels.numel()} targets but only {num_queries} queries; "
                             "raise MODEL.MASK_FORMER.NUM_OBJECT_QUERIES")
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise ValueError(f"image {b}: target labels must lie in [0, {num_classes}) for {num_classes} classes "
                             f"(+1 no-object logit), got range [{int(labels.min())}, {int(labels.max())}]")
        cost = self.cost_class * class_cost(logits, labels)
        if self.cost_mask != 0 or self.cost_dice != 0:
            tgt_masks = target["masks"].to(device=masks.device, dtype=torch.float32)
            if tgt_masks.shape[0] != labels.numel():
                raise ValueError(f"image {b}: {tgt_masks.shape[0]} target masks for {labels.numel()} labels")
            points = self.sample_points(masks.device)
            pred_pts = point_sample(masks[:, None], points.expand(num_queries, -1, -1), align_corners=False)[:, 0]
            tgt_pts = point_sample(tgt_masks[:, None], points.expand(labels.numel(), -1, -1), align_corners=False)[:, 0]
            cost = cost + self.cost_mask * batch_sigmoid_ce_cost(pred_pts, tgt_pts)
            cost = cost + self.cost_dice * batch_dice_cost(pred_pts, tgt_pts)
        cost = cost.cpu()
        if not torch.isfinite(cost).all():
            raise FloatingPointError(
                f"image {b}: the matching cost has NaN/inf entries because the predictions are not finite: training "
                "diverged; lower SOLVER.BASE_LR or enable SOLVER.CLIP_GRADIENTS"
            )
        pred_idx, tgt_idx = linear_sum_assignment(cost.numpy())
        return torch.as_tensor(pred_idx, dtype=torch.int64), torch.as_tensor(tgt_idx, dtype=torch.int64)
