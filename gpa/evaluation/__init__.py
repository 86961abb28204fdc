"""Evaluation: evaluators chosen by dataset kind and task, and one results table for many benchmarks."""
from .build import EVALUATORS, build_evaluator, enabled_tasks
from .cityscapes_instance import CityscapesInstanceAPEvaluator
from .instance_ap import InstanceAPEvaluator
from .panoptic_quality import PanopticQualityEvaluator
from .results_table import MIOU_CONVENTION, format_results_table

__all__ = [
    "EVALUATORS",
    "MIOU_CONVENTION",
    "CityscapesInstanceAPEvaluator",
    "InstanceAPEvaluator",
    "PanopticQualityEvaluator",
    "build_evaluator",
    "enabled_tasks",
    "format_results_table",
]
