"""Plain prediction results: segments with class names, scores, areas and boxes, the task's map, and the
raw detectron2 output they were made from.

Per task:
- panoptic: `panoptic_map` [H, W] int32, 0 = no segment, else the segment id; a segment's score is its
  query's class probability when the model reports one (`score` in segments_info), else None.
- semantic: `semantic_map` [H, W] int32 class ids (argmax of the per-class scores); one segment per class
  present, id = class id; score = mean over its pixels of the class's share of the pixel's class scores.
- instance: masks may overlap; `instance_map` [H, W] int32 paints them from the lowest score up, so each
  pixel holds the best-scoring instance covering it (0 = none); ids are ranks by score (1 = best).
Boxes are XYXY in pixels of the original image, x2/y2 one past the last pixel (detectron2's convention).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from gpa.vocabulary import Vocabulary

__all__ = ["TASKS", "PredictionResult", "Segment", "TaskSpec", "build_result", "check_task", "mask_box"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Segment:
    """One predicted segment; `mask` (an HxW bool array) is computed when asked for."""

    id: int
    class_id: int
    class_name: str
    score: float | None
    area: int
    box: Box
    isthing: bool
    mask_fn: Callable[[], np.ndarray] = field(repr=False, compare=False)

    @property
    def mask(self) -> np.ndarray:
        return self.mask_fn()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (no mask)."""
        return {
            "id": self.id,
            "class_id": self.class_id,
            "class_name": self.class_name,
            "score": self.score,
            "area": self.area,
            "box": list(self.box),
            "isthing": self.isthing,
        }


@dataclass(frozen=True)
class PredictionResult:
    """Segments of one image for one task, its map (see the module doc), and the raw model output."""

    task: str
    vocabulary: Vocabulary
    segments: list[Segment]
    raw: dict[str, Any] = field(repr=False)
    panoptic_map: np.ndarray | None = field(default=None, repr=False)
    semantic_map: np.ndarray | None = field(default=None, repr=False)
    instance_map: np.ndarray | None = field(default=None, repr=False)

    @property
    def segmentation(self) -> np.ndarray:
        """The map of this result's task."""
        return getattr(self, TASKS[self.task].map_field)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of the image the result is for."""
        height, width = self.segmentation.shape
        return int(height), int(width)

    def filter_by_score(self, min_score: float) -> PredictionResult:
        """Instance results only: the instances scoring at least `min_score`, with the instance map redrawn.

        Panoptic and semantic segments partition the image, so dropping some would leave unexplained ids.
        """
        if self.task != "instance":
            raise ValueError(f"only instance results can be filtered by score; this is a {self.task} result")
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be a number in [0, 1] (scores are probabilities), got {min_score!r}")
        kept = [s for s in self.segments if s.score is not None and s.score >= min_score]
        return replace(self, segments=kept, instance_map=_paint_instances(kept, self.image_size))


def mask_box(mask: np.ndarray) -> Box:
    """Tight XYXY box of a bool mask (x2, y2 exclusive); (0, 0, 0, 0) for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def _panoptic(output: dict[str, Any], vocabulary: Vocabulary) -> PredictionResult:
    panoptic, segments_info = output["panoptic_seg"]
    id_map = panoptic.cpu().numpy().astype(np.int32)
    areas = np.bincount(id_map.ravel(), minlength=max([s["id"] for s in segments_info], default=0) + 1)
    segments = []
    for info in segments_info:
        segment_id, class_id = int(info["id"]), int(info["category_id"])
        mask = id_map == segment_id
        segments.append(Segment(
            id=segment_id,
            class_id=class_id,
            class_name=vocabulary.names[class_id],
            score=float(info["score"]) if "score" in info else None,
            area=int(areas[segment_id]),
            box=mask_box(mask),
            isthing=bool(info["isthing"]),
            mask_fn=lambda m=id_map, i=segment_id: m == i,
        ))
    return PredictionResult("panoptic", vocabulary, segments, output, panoptic_map=id_map)


def _semantic(output: dict[str, Any], vocabulary: Vocabulary) -> PredictionResult:
    scores = output["sem_seg"].float()  # [C, H, W]
    labels = scores.argmax(dim=0)
    total = scores.sum(dim=0)
    chosen = scores.gather(0, labels[None])[0]
    share = torch.where(total > 0, chosen / total, 0.0)  # no class scores at all (every query void): share 0
    num_classes = scores.shape[0]
    areas = torch.bincount(labels.flatten(), minlength=num_classes).cpu().numpy()
    sums = torch.bincount(labels.flatten(), weights=share.flatten(), minlength=num_classes).cpu().numpy()
    label_map = labels.cpu().numpy().astype(np.int32)
    segments = []
    for class_id in np.flatnonzero(areas):
        class_id = int(class_id)
        segments.append(Segment(
            id=class_id,
            class_id=class_id,
            class_name=vocabulary.names[class_id],
            score=float(sums[class_id] / areas[class_id]),
            area=int(areas[class_id]),
            box=mask_box(label_map == class_id),
            isthing=vocabulary.is_thing[class_id],
            mask_fn=lambda m=label_map, i=class_id: m == i,
        ))
    return PredictionResult("semantic", vocabulary, segments, output, semantic_map=label_map)


def _paint_instances(segments: list[Segment], size: tuple[int, int]) -> np.ndarray:
    id_map = np.zeros(size, dtype=np.int32)
    for segment in sorted(segments, key=lambda s: (s.score, -s.id)):  # best last, so it wins overlaps
        id_map[segment.mask] = segment.id
    return id_map


def _instances(output: dict[str, Any], vocabulary: Vocabulary) -> PredictionResult:
    instances = output["instances"].to("cpu")
    order = torch.argsort(instances.scores, descending=True, stable=True).tolist()
    masks = instances.pred_masks > 0.5 if instances.pred_masks.is_floating_point() else instances.pred_masks.bool()
    boxes = instances.pred_boxes.tensor.tolist()
    areas = masks.flatten(1).sum(dim=1).tolist()
    segments = []
    for rank, index in enumerate(order, start=1):
        class_id = int(instances.pred_classes[index])
        segments.append(Segment(
            id=rank,
            class_id=class_id,
            class_name=vocabulary.names[class_id],
            score=float(instances.scores[index]),
            area=int(areas[index]),
            box=tuple(float(v) for v in boxes[index]),
            isthing=vocabulary.is_thing[class_id],
            mask_fn=lambda m=masks, i=index: m[i].numpy(),
        ))
    return PredictionResult(
        "instance", vocabulary, segments, output, instance_map=_paint_instances(segments, instances.image_size)
    )


@dataclass(frozen=True)
class TaskSpec:
    """What a task needs from the model (its switch and output key) and how its result is built."""

    model_flag: str  # the GPA attribute that turns the task's post-processing on
    output_key: str  # the key of the model's output dict
    map_field: str  # the PredictionResult field holding the task's map
    build: Callable[[dict[str, Any], Vocabulary], PredictionResult]


TASKS: dict[str, TaskSpec] = {
    "panoptic": TaskSpec("panoptic_on", "panoptic_seg", "panoptic_map", _panoptic),
    "semantic": TaskSpec("semantic_on", "sem_seg", "semantic_map", _semantic),
    "instance": TaskSpec("instance_on", "instances", "instance_map", _instances),
}


def check_task(task: str) -> TaskSpec:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[task]


def build_result(task: str, output: dict[str, Any], vocabulary: Vocabulary) -> PredictionResult:
    """A PredictionResult from one image's model output (detectron2 format) for `task`."""
    spec = check_task(task)
    if spec.output_key not in output:
        raise KeyError(f"the model output has no {spec.output_key!r} for the {task} task; got {sorted(output)}")
    return spec.build(output, vocabulary)
