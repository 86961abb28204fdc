"""Model outputs (Mask2Former format) made from ground truth, for evaluator tests."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import torch
from detectron2.evaluation import DatasetEvaluator
from detectron2.structures import BitMasks, Boxes, Instances
from PIL import Image

__all__ = [
    "evaluate_outputs",
    "instances_output",
    "miou_if_all_predicted_as",
    "panoptic_output",
    "read_labels",
    "read_segment_ids",
    "semantic_output",
    "semantic_outputs",
]


def read_segment_ids(png_path: str) -> np.ndarray:
    """Segment ids of a COCO-format panoptic PNG (id = R + 256 G + 256^2 B)."""
    rgb = np.asarray(Image.open(png_path).convert("RGB"), dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def semantic_output(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """One-hot [C, H, W] scores of a label map; pixels outside 0..C-1 (ignore) get class 0."""
    valid = np.where(labels < num_classes, labels, 0)
    return torch.nn.functional.one_hot(torch.from_numpy(valid.astype(np.int64)), num_classes).permute(2, 0, 1).float()


def panoptic_output(record: Mapping, keep: Callable[[Mapping], bool] | None = None):
    """("panoptic_seg") of a record's ground truth: int32 id map and segments with contiguous ids.

    Crowd segments and those `keep` rejects become void (0).
    """
    ids = read_segment_ids(record["pan_seg_file_name"])
    out = np.zeros(ids.shape, dtype=np.int32)
    segments = []
    for seg in record["segments_info"]:
        if seg.get("iscrowd", 0) or (keep is not None and not keep(seg)):
            continue
        out[ids == seg["id"]] = seg["id"]
        segments.append({"id": int(seg["id"]), "isthing": bool(seg["isthing"]), "category_id": seg["category_id"]})
    return torch.from_numpy(out), segments


def instances_output(record: Mapping, keep: Callable[[Mapping], bool] | None = None) -> Instances:
    """("instances") of a record's non-crowd thing segments, score 1, classes in the contiguous order."""
    ids = read_segment_ids(record["pan_seg_file_name"])
    segs = [s for s in record["segments_info"] if s["isthing"] and not s.get("iscrowd", 0)
            and (keep is None or keep(s))]
    instances = Instances(ids.shape)
    masks = torch.from_numpy(np.stack([ids == s["id"] for s in segs])) if segs else torch.zeros((0, *ids.shape),
                                                                                               dtype=torch.bool)
    instances.pred_masks = masks
    instances.pred_boxes = BitMasks(masks).get_bounding_boxes() if segs else Boxes(torch.zeros((0, 4)))
    instances.scores = torch.ones(len(segs))
    instances.pred_classes = torch.tensor([s["category_id"] for s in segs], dtype=torch.int64)
    return instances


def evaluate_outputs(evaluator: DatasetEvaluator, pairs: Iterable[tuple[dict, dict]]) -> dict:
    """Run an evaluator over (record, output) pairs, one image per batch."""
    evaluator.reset()
    for record, output in pairs:
        evaluator.process([record], [output])
    return evaluator.evaluate()


def read_labels(path: str) -> np.ndarray:
    """A label file at its stored bit depth."""
    with Image.open(path) as image:
        return np.array(image).astype(np.int64)


def miou_if_all_predicted_as(label_maps: Iterable[np.ndarray], cls: int, ignore_label: int) -> float:
    """mIoU (classes present in the ground truth) when every pixel is predicted as `cls`, by pixel counting.

    Only `cls` has a non-zero IoU: |gt == cls| / |gt != ignore|; each other present class scores 0.
    """
    labels = np.concatenate([m.ravel() for m in label_maps])
    valid = labels[labels != ignore_label]
    present = np.unique(valid)
    return 100.0 * float((valid == cls).sum()) / valid.size / len(present)


def semantic_outputs(records: Iterable[Mapping], num_classes: int, as_class: int | None = None) -> list[dict]:
    """{"sem_seg"} of each record's label file (perfect), or every pixel scored as `as_class`."""
    outputs = []
    for record in records:
        labels = read_labels(record["sem_seg_file_name"])
        if as_class is not None:
            labels = np.full(labels.shape, as_class)
        outputs.append({"sem_seg": semantic_output(labels, num_classes)})
    return outputs
