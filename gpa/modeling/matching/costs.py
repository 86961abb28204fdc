"""Pairwise matching costs between N predictions and M targets (Mask2Former's Hungarian costs)."""
import torch.nn.functional as F
from torch import Tensor

__all__ = ["batch_dice_cost", "batch_sigmoid_ce_cost", "class_cost"]


def batch_dice_cost(logits: Tensor, targets: Tensor) -> Tensor:
    """Dice loss of every (prediction, target) pair: logits [N, P], binary targets [M, P] -> [N, M].

    1 - (2 * |p . t| + 1) / (|p| + |t| + 1) with p = sigmoid(logits), all sums over the P points.
    """
    probs = logits.sigmoid()
    numerator = 2 * probs @ targets.T
    denominator = probs.sum(-1)[:, None] + targets.sum(-1)[None, :]
    return 1 - (numerator + 1) / (denominator + 1)


def batch_sigmoid_ce_cost(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean binary cross-entropy over the P points of every pair: logits [N, P], targets [M, P] -> [N, M]."""
    # BCE(x, 1) = softplus(-x) and BCE(x, 0) = softplus(x), so the pairwise sum splits into two matrix products.
    pos = F.softplus(-logits)
    neg = F.softplus(logits)
    return (pos @ targets.T + neg @ (1 - targets).T) / logits.shape[1]


def class_cost(logits: Tensor, labels: Tensor) -> Tensor:
    """Negative predicted probability of each target's class: logits [N, C+1], labels int64 [M] -> [N, M]."""
    return -logits.softmax(-1)[:, labels]
