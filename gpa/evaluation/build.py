"""Evaluators chosen by the dataset's evaluator kind (a member of EVALUATOR_REGISTRY) and the enabled tasks."""
from __future__ import annotations

import logging

from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator, DatasetEvaluators

from gpa.data.label_checks import checked_label_reader
from gpa.registry import NamedRegistry

from .cityscapes_instance import CityscapesInstanceAPEvaluator
from .class_split import ClassSplitPanopticEvaluator, ClassSplitSemSegEvaluator, has_class_split
from .instance_ap import InstanceAPEvaluator
from .panoptic_quality import PanopticQualityEvaluator
from .semantic_segmentation import MIoUEvaluator

__all__ = ["EVALUATOR_REGISTRY", "TASK_SWITCHES", "build_evaluator", "enabled_tasks"]

logger = logging.getLogger(__name__)

# task -> the config switch enabling it (MODEL.MASK_FORMER.TEST.<switch>)
TASK_SWITCHES = {"panoptic": "PANOPTIC_ON", "semantic": "SEMANTIC_ON", "instance": "INSTANCE_ON"}


def _pq(name: str, output_dir: str | None) -> DatasetEvaluator:
    if has_class_split(name):  # metadata "unseen_classes": also PQ on seen / unseen classes
        return ClassSplitPanopticEvaluator(name, output_dir)
    return PanopticQualityEvaluator(name, output_dir)


def _miou(name: str, output_dir: str | None) -> DatasetEvaluator:
    if not MetadataCatalog.get(name).get("sem_seg_root"):
        raise ValueError(f"dataset '{name}' has no semantic labels (metadata 'sem_seg_root'), so mIoU cannot be "
                         "computed; register it with sem_seg_root=... or set MODEL.MASK_FORMER.TEST.SEMANTIC_ON False")
    # labels are checked as they are read (1-based ids, out-of-range values, 8-bit where 16 are needed, colour
    # PNGs), so a wrong label file is refused instead of scored
    read_labels = checked_label_reader(name)
    if has_class_split(name):  # metadata "unseen_classes": also mIoU on seen / unseen classes
        return ClassSplitSemSegEvaluator(name, distributed=True, output_dir=output_dir, sem_seg_loading_fn=read_labels)
    return MIoUEvaluator(name, distributed=True, output_dir=output_dir, sem_seg_loading_fn=read_labels)


def _coco_ap(name: str, output_dir: str | None) -> DatasetEvaluator:
    if not MetadataCatalog.get(name).get("json_file"):
        raise ValueError(f"dataset '{name}' has no instance annotations (metadata 'json_file'), so AP cannot be "
                         "computed; register it with instances_json=... or set MODEL.MASK_FORMER.TEST.INSTANCE_ON "
                         "False")
    return InstanceAPEvaluator(name, output_dir)


def _cityscapes_ap(name: str, output_dir: str | None) -> DatasetEvaluator:
    return CityscapesInstanceAPEvaluator(name)


# evaluator kind (a dataset's metadata "evaluator_type") -> {task: f(dataset_name, output_dir) -> DatasetEvaluator}.
# A task missing from a kind is not part of that benchmark's protocol (e.g. Mapillary Vistas reports no AP).
EVALUATOR_REGISTRY = NamedRegistry("EVALUATOR", "evaluator kind")
EVALUATOR_REGISTRY.register_as("coco_panoptic_seg")({"panoptic": _pq, "semantic": _miou, "instance": _coco_ap})
EVALUATOR_REGISTRY.register_as("ade20k_panoptic_seg")({"panoptic": _pq, "semantic": _miou, "instance": _coco_ap})
EVALUATOR_REGISTRY.register_as("cityscapes_panoptic_seg")(
    {"panoptic": _pq, "semantic": _miou, "instance": _cityscapes_ap}
)
EVALUATOR_REGISTRY.register_as("mapillary_vistas_panoptic_seg")({"panoptic": _pq, "semantic": _miou})
EVALUATOR_REGISTRY.register_as("sem_seg")({"semantic": _miou})


def enabled_tasks(cfg) -> list[str]:
    """Tasks switched on in MODEL.MASK_FORMER.TEST, in the order panoptic, semantic, instance."""
    return [task for task, switch in TASK_SWITCHES.items() if getattr(cfg.MODEL.MASK_FORMER.TEST, switch)]


def build_evaluator(cfg, dataset_name: str, output_folder: str | None = None) -> DatasetEvaluator:
    """The evaluators of `dataset_name` for the enabled tasks its kind supports.

    Enabled tasks outside the benchmark's protocol are logged and left out; none left is an error.
    """
    kind = MetadataCatalog.get(dataset_name).get("evaluator_type")
    evaluators = EVALUATOR_REGISTRY.get_for(kind, f"evaluator_type of dataset '{dataset_name}'")
    tasks = enabled_tasks(cfg)
    chosen = [t for t in tasks if t in evaluators]
    left_out = [t for t in tasks if t not in evaluators]
    if left_out:
        logger.info("%s (%s): %s not part of this benchmark's protocol, not evaluated",
                    dataset_name, kind, ", ".join(left_out))
    if not chosen:
        switches = [f"MODEL.MASK_FORMER.TEST.{TASK_SWITCHES[t]}" for t in evaluators]
        raise ValueError(f"dataset '{dataset_name}' ({kind}) supports {sorted(evaluators)} but none is "
                         f"enabled; switch on one of {switches}")
    return DatasetEvaluators([evaluators[t](dataset_name, output_folder) for t in chosen])
