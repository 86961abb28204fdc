"""Zero-shot classification of toy images by a CLIP model: predictions and the world's accuracy breakdown.

A model here is anything with open_clip's `encode_image(x, normalize)` / `encode_text(tokens, normalize)`:
an open_clip model, or `DenseEncoderCLIP` around a segmentation model's (adapted) CLIP backbone.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import nn

from gpa.modeling.backbone.encoders import DENSE_FEATURE

from .captions import single_object_images
from .world import COLOURS, SHAPES, THING_CLASSES, UNSEEN_THINGS

__all__ = [
    "HELD_OUT_SEED",
    "ZERO_SHOT_TEMPLATE",
    "DenseEncoderCLIP",
    "images_to_tensor",
    "object_accuracies",
    "object_zero_shot_accuracy",
    "zero_shot_predictions",
]

ZERO_SHOT_TEMPLATE = "a photo of a {}."
HELD_OUT_SEED = 20_251_104  # held-out zero-shot images: a stream of their own, never used for training


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] images -> float [N, 3, H, W] normalized with CLIP's pixel mean and std."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {images.dtype} {images.shape}")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def zero_shot_predictions(
    model: torch.nn.Module,
    tokenizer: Callable[[list[str]], torch.Tensor],
    images: np.ndarray,
    class_names: Sequence[str],
    template: str = ZERO_SHOT_TEMPLATE,
    batch_size: int = 256,
    autocast_dtype: torch.dtype | None = torch.bfloat16,
) -> np.ndarray:
    """Index into `class_names` of the best-matching prompt `template.format(name)` for each image."""
    was_training = model.training
    model.eval()
    autocast = torch.autocast("cpu", dtype=autocast_dtype, enabled=autocast_dtype is not None)
    with autocast:
        text = model.encode_text(tokenizer([template.format(n) for n in class_names]), normalize=True).float()
        predictions = []
        for start in range(0, len(images), batch_size):
            features = model.encode_image(images_to_tensor(images[start:start + batch_size]), normalize=True)
            predictions.append((features.float() @ text.T).argmax(dim=1))
    model.train(was_training)
    return torch.cat(predictions).numpy()


def object_accuracies(predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracies (%) of 64-way predictions of THING_CLASSES indices.

    "all": exact class; "colour" / "shape": the predicted class has the right colour / shape; "seen" /
    "unseen": exact-class accuracy over images whose true class is seen / unseen in segmentation training.
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or labels.ndim != 1 or not len(labels):
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} must be equal, non-empty [N]")
    colours = np.array([COLOURS.index(c.colour) for c in THING_CLASSES])
    shapes = np.array([SHAPES.index(c.shape) for c in THING_CLASSES])
    unseen = np.isin(labels, [THING_CLASSES.index(c) for c in UNSEEN_THINGS])
    correct = predictions == labels
    result = {
        "all": correct.mean(),
        "colour": (colours[predictions] == colours[labels]).mean(),
        "shape": (shapes[predictions] == shapes[labels]).mean(),
        "seen": correct[~unseen].mean() if (~unseen).any() else float("nan"),
        "unseen": correct[unseen].mean() if unseen.any() else float("nan"),
    }
    return {k: 100.0 * float(v) for k, v in result.items()}


def object_zero_shot_accuracy(
    model: torch.nn.Module,
    tokenizer: Callable[[list[str]], torch.Tensor],
    per_class: int,
    image_size: int,
    seed: int = HELD_OUT_SEED,
    autocast_dtype: torch.dtype | None = torch.bfloat16,
) -> dict[str, float]:
    """`object_accuracies` (%) of 64-way zero-shot classification of `per_class` held-out crops per class.

    A crop is one object on one texture (`single_object_images`); the prompt is ZERO_SHOT_TEMPLATE.
    """
    images, labels = single_object_images(per_class, image_size, seed)
    predictions = zero_shot_predictions(model, tokenizer, images, [c.name for c in THING_CLASSES],
                                        autocast_dtype=autocast_dtype)
    return object_accuracies(predictions, labels)


class DenseEncoderCLIP(nn.Module):
    """A segmentation model's CLIP backbone (`gpa.modeling.backbone.CLIPBackbone`) seen as a CLIP model.

    The image embedding is the backbone's dense CLIP map, adapters included, averaged over positions and
    passed through CLIP's pooling head. For towers that pool by averaging (gpa_toy_vit, ConvNeXt) this is
    exactly CLIP's `encode_image` when the adapters are at their identity initialization, so accuracy before
    and after segmentation training compares the same computation.
    """

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        dense = self.backbone(images)[DENSE_FEATURE]  # [N, D, h, w]
        embeddings = self.backbone.pool_dense(dense.mean(dim=(2, 3)))
        return nn.functional.normalize(embeddings, dim=-1) if normalize else embeddings

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        embeddings = self.backbone.encode_text(tokens)
        return nn.functional.normalize(embeddings, dim=-1) if normalize else embeddings
