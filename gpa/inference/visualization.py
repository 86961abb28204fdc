"""Drawing results with detectron2's Visualizer, named by the result's own vocabulary.

The Metadata is built from the vocabulary and never registered in MetadataCatalog (no global state). Class
ids index the whole vocabulary, so both `thing_classes` and `stuff_classes` list every class.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from detectron2.data import Metadata
from detectron2.structures import Boxes, Instances
from detectron2.utils.colormap import colormap
from detectron2.utils.visualizer import Visualizer

from gpa.vocabulary import Vocabulary

from .result import PredictionResult

__all__ = ["DRAWERS", "draw_result", "vocabulary_metadata"]


def vocabulary_metadata(vocabulary: Vocabulary) -> Metadata:
    """Unregistered detectron2 Metadata naming and colouring every class of `vocabulary`."""
    palette = colormap(rgb=True, maximum=255).astype(int)
    colors = [tuple(int(c) for c in palette[i % len(palette)]) for i in range(len(vocabulary))]
    metadata = Metadata(name="gpa_inference")
    metadata.set(thing_classes=vocabulary.names, stuff_classes=vocabulary.names,
                 thing_colors=colors, stuff_colors=colors)
    return metadata


def _draw_panoptic(visualizer: Visualizer, result: PredictionResult):
    infos = [{"id": s.id, "category_id": s.class_id, "isthing": s.isthing} for s in result.segments]
    if result.segments and all(s.score is not None for s in result.segments):
        for info, segment in zip(infos, result.segments):
            info["score"] = segment.score
    return visualizer.draw_panoptic_seg(torch.from_numpy(result.panoptic_map), infos)


def _draw_semantic(visualizer: Visualizer, result: PredictionResult):
    return visualizer.draw_sem_seg(result.semantic_map)


def _draw_instances(visualizer: Visualizer, result: PredictionResult):
    height, width = result.image_size
    instances = Instances((height, width))
    segments = result.segments
    masks = np.stack([s.mask for s in segments]) if segments else np.zeros((0, height, width), dtype=bool)
    instances.pred_masks = torch.from_numpy(masks)
    instances.pred_boxes = Boxes(torch.tensor([s.box for s in segments], dtype=torch.float32).reshape(-1, 4))
    instances.scores = torch.tensor([s.score for s in segments], dtype=torch.float32)
    instances.pred_classes = torch.tensor([s.class_id for s in segments], dtype=torch.int64)
    return visualizer.draw_instance_predictions(instances)


DRAWERS: dict[str, Callable] = {"panoptic": _draw_panoptic, "semantic": _draw_semantic, "instance": _draw_instances}


def draw_result(
    image_rgb: np.ndarray, result: PredictionResult, metadata: Metadata | None = None, scale: float = 1.0
) -> np.ndarray:
    """The image with the result drawn over it (HxWx3 uint8 RGB, the image's size times `scale`).

    A `scale` above 1 keeps the labels readable on small images.
    """
    if image_rgb.shape[:2] != result.image_size:
        raise ValueError(f"the image is {image_rgb.shape[:2]} but the result is for {result.image_size}")
    if not scale > 0:
        raise ValueError(f"the drawing scale must be > 0, got {scale}")
    metadata = metadata if metadata is not None else vocabulary_metadata(result.vocabulary)
    visualizer = Visualizer(image_rgb, metadata, scale=scale)
    return DRAWERS[result.task](visualizer, result).get_image()
