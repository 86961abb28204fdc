"""Bipartite matching of predictions to targets: costs, point sampling, Hungarian matcher."""
from .costs import batch_dice_cost, batch_sigmoid_ce_cost, class_cost
from .hungarian_matcher import HungarianMatcher
from .point_sampling import calculate_uncertainty, get_uncertain_point_coords_with_randomness, point_sample

__all__ = [
    "HungarianMatcher",
    "batch_dice_cost",
    "batch_sigmoid_ce_cost",
    "calculate_uncertainty",
    "class_cost",
    "get_uncertain_point_coords_with_randomness",
    "point_sample",
]
