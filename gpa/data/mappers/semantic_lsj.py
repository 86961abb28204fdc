"""Training mapper for semantic datasets: LSJ augmentation, one target per class present."""
from __future__ import annotations

import detectron2.data.transforms as T
import torch
from detectron2.config import configurable
from detectron2.data import MetadataCatalog

from ..label_checks import LabelFileError, label_fix_hint, label_problems, read_label_file
from .build import MAPPER_REGISTRY
from .lsj import (
    lsj_augmentation_from_config,
    read_and_augment,
    targets_from_label_map,
    transform_label_map,
)

__all__ = ["SemanticDatasetMapper"]


@MAPPER_REGISTRY.register_as("semantic_lsj")
class SemanticDatasetMapper:
    """Record -> {"image", "sem_seg" (int64 HxW, ignore kept), "instances": one mask per class present}.

    Label files may be 8- or 16-bit; `ignore_label` marks void pixels (and the crop padding). A label file
    breaking gpa.data.label_checks (1-based ids, values outside the class list, colour PNGs, 8-bit files where
    16 bits are needed) is refused naming the file, before it becomes a wrong target. The class count is
    `num_classes`, else that of the record's dataset (its metadata, read on first use).
    """

    @configurable
    def __init__(
        self, is_train: bool = True, *, augmentations: list[T.Augmentation], image_format: str, ignore_label: int,
        num_classes: int | None = None,
    ) -> None:
        self.is_train = is_train
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format
        self.ignore_label = ignore_label
        self.num_classes = num_classes
        self._class_counts: dict[str, int] = {}

    @classmethod
    def from_config(cls, cfg, is_train: bool = True) -> dict:
        if not cfg.DATASETS.TRAIN:
            raise ValueError("the semantic mapper reads ignore_label from DATASETS.TRAIN[0], which is empty")
        ignore_label = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).ignore_label
        return {
            "is_train": is_train,
            "augmentations": lsj_augmentation_from_config(cfg, seg_pad_value=ignore_label),
            "image_format": cfg.INPUT.FORMAT,
            "ignore_label": ignore_label,
        }

    def _num_classes(self, dataset_name: str) -> int | None:
        if self.num_classes is not None or not dataset_name:
            return self.num_classes
        if dataset_name not in self._class_counts:
            self._class_counts[dataset_name] = len(MetadataCatalog.get(dataset_name).stuff_classes)
        return self._class_counts[dataset_name]

    def __call__(self, dataset_dict: dict) -> dict:
        record, transforms, image_size = read_and_augment(
            dataset_dict, self.augmentations, self.image_format, self.is_train
        )
        if not self.is_train:
            return record
        if "sem_seg_file_name" not in record:
            raise KeyError(f"{record['file_name']}: the semantic mapper needs 'sem_seg_file_name'")
        label_path = record.pop("sem_seg_file_name")
        labels, mode = read_label_file(label_path)
        dataset = record.get("dataset_name", "")
        num_classes = self._num_classes(dataset)
        if num_classes is not None:
            problems = label_problems(label_path, labels, mode, num_classes, self.ignore_label, image_size)
        elif labels.ndim != 2:
            problems = [("shape", f"{label_path}: labels must be single-channel, got shape {labels.shape}")]
        elif labels.shape != image_size:
            problems = [("size", f"{label_path}: labels are {labels.shape[1]}x{labels.shape[0]} but the image is "
                                 f"{image_size[1]}x{image_size[0]}")]
        else:
            problems = []
        if problems:
            raise LabelFileError(f"training label {problems[0][1]}; fix: {label_fix_hint(dataset)}")
        sem_seg = transform_label_map(transforms, labels)
        record["sem_seg"] = sem_seg

        classes = [c for c in torch.unique(sem_seg).tolist() if c != self.ignore_label]
        record["instances"] = targets_from_label_map(sem_seg, classes, classes)
        return record
