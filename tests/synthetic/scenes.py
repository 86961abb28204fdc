"""Random scenes of simple shapes: a stuff background in bands, a few thing rectangles/ellipses on top."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["Scene", "bbox_xywh", "category_colors", "paint_image", "random_scene", "write_jpg"]


@dataclass(frozen=True)
class Scene:
    """`segments[i]` is drawn where `label_map == i + 1`; 0 is unlabeled (void)."""

    label_map: np.ndarray  # int64 [H, W]
    category_indices: tuple[int, ...]  # per segment: index into the categories the scene was drawn from
    iscrowd: tuple[bool, ...]

    def mask(self, segment: int) -> np.ndarray:
        return self.label_map == segment + 1


def _ellipse(height: int, width: int, y0: int, x0: int, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    cy, cx = y0 + (h - 1) / 2, x0 + (w - 1) / 2
    return ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1.0


def random_scene(
    rng: np.random.Generator,
    size: tuple[int, int],
    is_thing: Sequence[bool],
    num_things: int = 2,
    crowd: bool = False,
    void_strip: bool = True,
) -> Scene:
    """Draw two stuff bands, a void strip and `num_things` thing shapes (the last one a crowd if `crowd`).

    Every returned segment has a non-empty mask; stuff categories appear at most once per scene.
    """
    height, width = size
    things = [i for i, t in enumerate(is_thing) if t]
    stuff = [i for i, t in enumerate(is_thing) if not t]
    if not things or not stuff:
        raise ValueError("random_scene needs at least one thing and one stuff category")
    label_map = np.zeros((height, width), dtype=np.int64)
    categories: list[int] = []
    crowds: list[bool] = []

    bands = rng.choice(stuff, size=min(2, len(stuff)), replace=False)
    split = int(rng.integers(height // 3, 2 * height // 3 + 1))
    for band, (top, bottom) in zip(bands, [(0, split), (split, height)]):
        categories.append(int(band))
        crowds.append(False)
        label_map[top:bottom] = len(categories)
    if len(bands) == 1:
        label_map[split:] = 0
    if void_strip:
        row = int(rng.integers(0, height - 2))
        label_map[row : row + 2, : width // 2] = 0

    for k in range(num_things):
        h = int(rng.integers(max(6, height // 5), max(7, height // 2)))
        w = int(rng.integers(max(6, width // 5), max(7, width // 2)))
        y0 = int(rng.integers(0, height - h + 1))
        x0 = int(rng.integers(0, width - w + 1))
        if rng.random() < 0.5:
            shape = np.zeros((height, width), dtype=bool)
            shape[y0 : y0 + h, x0 : x0 + w] = True
        else:
            shape = _ellipse(height, width, y0, x0, h, w)
        categories.append(int(rng.choice(things)))
        crowds.append(crowd and k == num_things - 1)
        label_map[shape] = len(categories)

    # Renumber so that fully covered segments disappear and labels stay 1..n.
    kept = [s for s in range(len(categories)) if np.any(label_map == s + 1)]
    remap = np.zeros(len(categories) + 1, dtype=np.int64)
    for new, old in enumerate(kept, start=1):
        remap[old + 1] = new
    return Scene(
        label_map=remap[label_map],
        category_indices=tuple(categories[s] for s in kept),
        iscrowd=tuple(crowds[s] for s in kept),
    )


def paint_image(rng: np.random.Generator, scene: Scene, colors: Sequence[Sequence[int]]) -> np.ndarray:
    """An RGB uint8 image: each segment in its category's color plus a little noise; void is gray."""
    height, width = scene.label_map.shape
    image = np.full((height, width, 3), 128, dtype=np.int64)
    for s, category in enumerate(scene.category_indices):
        image[scene.mask(s)] = np.asarray(colors[category], dtype=np.int64)
    image += rng.integers(-8, 9, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def category_colors(categories: Sequence[Mapping]) -> list[list[int]]:
    """Each category's "color" if it has one, else a fixed color derived from its position."""
    fallback = np.random.default_rng(1234).integers(0, 256, size=(len(categories), 3))
    return [list(c.get("color", fallback[i].tolist())) for i, c in enumerate(categories)]


def bbox_xywh(mask: np.ndarray) -> list[int]:
    """COCO box [x, y, w, h] of a non-empty boolean mask (inclusive pixel extent)."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def write_jpg(path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95)
