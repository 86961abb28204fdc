"""Evaluation: evaluators chosen by dataset kind and task, and one results table for many benchmarks."""
from .build import EVALUATOR_REGISTRY, build_evaluator, enabled_tasks
from .cityscapes_instance import CityscapesInstanceAPEvaluator
from .class_split import ClassSplitPanopticEvaluator, ClassSplitSemSegEvaluator, format_class_split_table
from .instance_ap import InstanceAPEvaluator
from .panoptic_quality import PanopticQualityEvaluator
from .results_table import MIOU_CONVENTION, format_results_table
from .semantic_segmentation import MIoUEvaluator

__all__ = [
    "EVALUATOR_REGISTRY",
    "MIOU_CONVENTION",
    "CityscapesInstanceAPEvaluator",
    "ClassSplitPanopticEvaluator",
    "ClassSplitSemSegEvaluator",
    "InstanceAPEvaluator",
    "MIoUEvaluator",
    "PanopticQualityEvaluator",
    "build_evaluator",
    "enabled_tasks",
    "format_class_split_table",
    "format_results_table",
]
