"""Helpers of the inference tests: the tiny model with a checkpoint, and generated images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "tiny" / "gpa_tiny.yaml"
# Small test images; a lower overlap threshold so the random-init model keeps some panoptic segments.
TEST_OPTS = (
    "INPUT.MIN_SIZE_TEST", "64",
    "INPUT.MAX_SIZE_TEST", "96",
    "MODEL.MASK_FORMER.TEST.OVERLAP_THRESHOLD", "0.5",
)


def build_tiny_model(opts=(), seed: int = 0):
    """The tiny model of configs/tiny/gpa_tiny.yaml, moved away from its zero-initialized adapters."""
    from detectron2.modeling import build_model

    from gpa.engine.setup import build_config

    torch.manual_seed(seed)
    model = build_model(build_config(TINY_CONFIG, list(opts)))
    with torch.no_grad():
        for _, param in model.trainable_parameter_groups()["adapter"]:
            param.add_(torch.randn_like(param) * 0.05)
        model.sem_seg_head.predictor.mask_embed.layers[-1].weight.mul_(10.0)  # confident masks
    return model.eval()


def save_checkpoint(model, folder: Path, name: str = "model") -> Path:
    from detectron2.checkpoint import DetectionCheckpointer

    folder.mkdir(parents=True, exist_ok=True)
    DetectionCheckpointer(model, save_dir=str(folder)).save(name)
    return folder / f"{name}.pth"


def scene_image(seed: int = 0, size: tuple[int, int] = (60, 80)) -> np.ndarray:
    """An HxWx3 uint8 RGB image of a few coloured rectangles on a two-tone background."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[: height // 2] = (235, 235, 240)
    image[height // 2 :] = (40, 120, 40)
    for _ in range(3):
        y, x = rng.integers(0, height - 10), rng.integers(0, width - 10)
        image[y : y + rng.integers(6, 20), x : x + rng.integers(6, 25)] = rng.integers(0, 256, 3)
    return image
