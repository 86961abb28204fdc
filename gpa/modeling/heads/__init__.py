"""Classification heads on top of the mask generator (importing this registers the mask classifiers)."""
from .context_aggregation import ContextAwareAggregation
from .mask_classifier import MASK_CLASSIFIER_REGISTRY, MaskPooling, build_mask_classifier

__all__ = ["MASK_CLASSIFIER_REGISTRY", "ContextAwareAggregation", "MaskPooling", "build_mask_classifier"]
