"""Zero-shot classification of toy images by a CLIP model: predictions and the world's accuracy breakdown."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from .world import COLOURS, SHAPES, THING_CLASSES, UNSEEN_THINGS

__all__ = ["ZERO_SHOT_TEMPLATE", "images_to_tensor", "object_accuracies", "zero_shot_predictions"]

ZERO_SHOT_TEMPLATE = "a photo of a {}."


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
