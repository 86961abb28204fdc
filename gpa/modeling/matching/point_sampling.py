"""Point sampling of mask logits (PointRend), as used by the matcher and the mask losses.

detectron2's PointRend functions are pure PyTorch (no compiled `_C` needed) and are reused as they are.
"""
from detectron2.projects.point_rend.point_features import (
    get_uncertain_point_coords_with_randomness,
    point_sample,
)
from torch import Tensor

__all__ = ["calculate_uncertainty", "get_uncertain_point_coords_with_randomness", "point_sample"]


def calculate_uncertainty(logits: Tensor) -> Tensor:
    """Uncertainty of class-agnostic mask logits [R, 1, ...]: -|logit|, highest at the decision boundary."""
    if logits.shape[1] != 1:
        raise ValueError(f"calculate_uncertainty expects one channel of mask logits, got shape {tuple(logits.shape)}")
    return -logits.abs()
