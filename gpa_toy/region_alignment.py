"""Region-caption alignment of the tiny CLIP: mask-pooled dense features named like whole images.

A segmentation model classifies a mask by pooling CLIP's dense map inside it. ConvNeXt CLIPs trained on web
data come out with dense features that localize well enough for this (FC-CLIP's premise); a tiny ViT trained on
whole-image captions alone does not: its patch tokens mix the image globally, and pooled over one object's
region they name a wrong class. So the toy CLIP's pretraining may add this objective: on segmentation-like scenes
of all 64 objects and 4 textures, each segment's pooled dense features, through CLIP's pooling head, are
classified against the text embeddings of all class names. The same pooling measures the result
(`region_zero_shot_accuracy`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gpa.modeling.backbone.encoders import DENSE_FEATURE, CLIPEncoder, EncoderOptions, build_encoder

from .generate import sample_scene
from .world import ALL_CLASSES, THING_CLASSES, UNSEEN_THINGS
from .zero_shot import HELD_OUT_SEED, ZERO_SHOT_TEMPLATE, images_to_tensor

__all__ = [
    "REGION_EVAL_STREAM",
    "REGION_STREAM",
    "RegionBatch",
    "class_prompts",
    "dense_encoder",
    "held_out_region_batch",
    "region_accuracies",
    "region_alignment_loss",
    "region_embeddings",
    "region_predictions",
    "region_zero_shot_accuracy",
    "sample_region_batch",
]

# Tags of the random streams np.random.default_rng([seed, index, tag]), apart from captions.py's (1, 2, 3).
REGION_STREAM, REGION_EVAL_STREAM = 4, 5


@dataclass(frozen=True)
class RegionBatch:
    """Scenes and their segments: segment r is `masks[r]` of image `image_index[r]`, class ALL_CLASSES[labels[r]]."""

    images: np.ndarray  # uint8 [N, H, W, 3]
    masks: np.ndarray  # bool [R, H, W]
    image_index: np.ndarray  # int64 [R]
    labels: np.ndarray  # int64 [R]


def _scenes_to_batch(scenes: Sequence) -> RegionBatch:
    masks, image_index, labels = [], [], []
    for i, scene in enumerate(scenes):
        for k, toy_class in enumerate(scene.classes):
            masks.append(scene.mask(k))
            image_index.append(i)
            labels.append(ALL_CLASSES.index(toy_class))
    return RegionBatch(np.stack([s.image for s in scenes]), np.stack(masks), np.asarray(image_index, dtype=np.int64),
                       np.asarray(labels, dtype=np.int64))


def sample_region_batch(seed: int, step: int, batch_size: int, image_size: int) -> RegionBatch:
    """Batch `step` of the region stream `seed`: segmentation scenes (1-4 objects of all 64 combinations)."""
    rng = np.random.default_rng([seed, step, REGION_STREAM])
    return _scenes_to_batch([sample_scene(rng, image_size, THING_CLASSES) for _ in range(batch_size)])


def held_out_region_batch(count: int, image_size: int, seed: int) -> RegionBatch:
    """`count` held-out scenes, each from its own random stream (never a pretraining batch)."""
    return _scenes_to_batch([
        sample_scene(np.random.default_rng([seed, index, REGION_EVAL_STREAM]), image_size, THING_CLASSES)
        for index in range(count)
    ])


def region_embeddings(dense: torch.Tensor, masks: torch.Tensor, image_index: torch.Tensor) -> torch.Tensor:
    """Average of `dense` [N, D, h, w] over each mask [R, H, W] of image `image_index` [R] -> [R, D].

    A mask weighs each dense cell by the fraction of the cell it covers (area pooling to h x w); H and W
    must be multiples of h and w. Every mask must cover some pixel.
    """
    (h, w), (height, width) = dense.shape[-2:], masks.shape[-2:]
    if height % h or width % w:
        raise ValueError(f"mask size {height}x{width} is not a multiple of the dense map size {h}x{w}")
    weights = F.avg_pool2d(masks[:, None].float(), (height // h, width // w))[:, 0]  # [R, h, w]
    totals = weights.sum(dim=(1, 2), keepdim=True)
    if (totals == 0).any():
        raise ValueError("region_embeddings got an empty mask")
    return torch.einsum("rdhw,rhw->rd", dense[image_index].float(), weights / totals)


def region_alignment_loss(region_features: torch.Tensor, class_text: torch.Tensor, labels: torch.Tensor,
                          logit_scale: torch.Tensor | float) -> torch.Tensor:
    """Cross-entropy of L2-normalized region features [R, E] against class text embeddings [C, E] (normalized)."""
    logits = logit_scale * region_features.float() @ class_text.float().T
    return F.cross_entropy(logits, labels)


def region_accuracies(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracies (%) of predicted ALL_CLASSES indices of regions, by kind of region.

    "region": all regions, over all 68 classes; "region_seen" / "region_unseen": objects of seen / unseen
    combinations; "region_stuff": texture regions.
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or labels.ndim != 1 or not len(labels):
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} must be equal, non-empty [R]")
    unseen = np.isin(labels, [ALL_CLASSES.index(c) for c in UNSEEN_THINGS])
    stuff = labels >= len(THING_CLASSES)
    correct = predictions == labels
    parts = {"region": np.ones_like(correct), "region_seen": ~unseen & ~stuff, "region_unseen": unseen,
             "region_stuff": stuff}
    return {k: 100.0 * float(correct[m].mean()) if m.any() else float("nan") for k, m in parts.items()}


@torch.no_grad()
def region_predictions(
    dense_fn: Callable[[torch.Tensor], torch.Tensor],
    pool_fn: Callable[[torch.Tensor], torch.Tensor],
    class_text: torch.Tensor,
    batch: RegionBatch,
    to_tensor: Callable[[np.ndarray], torch.Tensor],
) -> np.ndarray:
    """Index into ALL_CLASSES of the best-matching class text (normalized [C, E]) for each region of `batch`."""
    dense = dense_fn(to_tensor(batch.images))
    features = pool_fn(region_embeddings(dense, torch.from_numpy(batch.masks), torch.from_numpy(batch.image_index)))
    return (F.normalize(features.float(), dim=-1) @ class_text.float().T).argmax(dim=1).numpy()


def class_prompts() -> list[str]:
    """ZERO_SHOT_TEMPLATE for every class of the world, in ALL_CLASSES order: the texts regions are named by."""
    return [ZERO_SHOT_TEMPLATE.format(c.name) for c in ALL_CLASSES]


def dense_encoder(model: torch.nn.Module) -> CLIPEncoder:
    """An open_clip model's image tower as the segmentation model sees it: dense CLIP map and pooling head."""
    return build_encoder(model.visual, EncoderOptions())


@torch.no_grad()
def region_zero_shot_accuracy(
    model: torch.nn.Module,
    tokenizer: Callable[[list[str]], torch.Tensor],
    scenes: int,
    image_size: int,
    seed: int = HELD_OUT_SEED,
    autocast_dtype: torch.dtype | None = torch.bfloat16,
) -> dict[str, float]:
    """`region_accuracies` (%) of an open_clip model on the segments of `scenes` held-out scenes (68-way)."""
    encoder, batch = dense_encoder(model), held_out_region_batch(scenes, image_size, seed)
    was_training = model.training
    model.eval()
    with torch.autocast("cpu", dtype=autocast_dtype, enabled=autocast_dtype is not None):
        text = model.encode_text(tokenizer(class_prompts()), normalize=True)
        predictions = region_predictions(lambda x: encoder.forward(x)[DENSE_FEATURE], encoder.pool_dense, text,
                                         batch, images_to_tensor)
    model.train(was_training)
    return region_accuracies(predictions, batch.labels)
