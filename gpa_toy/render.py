"""Drawing toy scenes: textured backgrounds, coloured shapes on top, and the exact label map of what is visible."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .world import Shape, ToyClass

__all__ = ["Scene", "render_scene", "shape_mask", "texture_image"]

# Object colours vary a little around their nominal RGB; every pixel gets a little noise.
COLOUR_JITTER = 18
PIXEL_NOISE = 6
# Texture colours are near-gray (channel spread <= 2 * TEXTURE_TINT), far from the saturated object colours.
TEXTURE_TINT = 12
PLACEMENT_TRIES = 20


@dataclass(frozen=True)
class Scene:
    """An RGB image and its segments: segment k (0-based) is where `label_map == k + 1` (0 = no segment)."""

    image: np.ndarray  # uint8 [H, W, 3]
    label_map: np.ndarray  # int32 [H, W]
    classes: tuple[ToyClass, ...]  # per segment

    def mask(self, segment: int) -> np.ndarray:
        return self.label_map == segment + 1


def shape_mask(shape: Shape, height: int, width: int, center: tuple[float, float], radius: float,
               angle: float) -> np.ndarray:
    """Boolean [height, width] mask of `shape` scaled to `radius` pixels, rotated by `angle` (radians)."""
    if radius <= 0:
        raise ValueError(f"shape radius must be positive, got {radius}")
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = center
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon, fill in shape.parts:
        points = [(cx + radius * (x * cos - y * sin), cy + radius * (x * sin + y * cos)) for x, y in polygon]
        draw.polygon(points, fill=255 * fill)
    return np.asarray(canvas) > 0


def _near_gray(rng: np.random.Generator, lightness: float) -> np.ndarray:
    return np.clip(lightness + rng.integers(-TEXTURE_TINT, TEXTURE_TINT + 1, size=3), 0, 255)


def texture_image(texture: ToyClass, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """int64 [height, width, 3] image of a stuff class's texture in two random near-gray colours."""
    if texture.texture is None:
        raise ValueError(f"class {texture.name!r} is not a texture (stuff) class")
    base = rng.uniform(70, 190)
    ink = base + rng.choice([-1, 1]) * rng.uniform(45, 75)
    if not 25 <= ink <= 235:  # keep the contrast: flip to the other side of the base lightness
        ink = 2 * base - ink
    pattern = texture.texture.ink(rng, height, width)
    return np.where(pattern[..., None], _near_gray(rng, ink), _near_gray(rng, base)).astype(np.int64)


def _background(rng: np.random.Generator, size: int, textures: Sequence[ToyClass]) -> tuple[np.ndarray, np.ndarray]:
    """Image and region map (region k = textures[k]) of one texture, or two split by a random straight line."""
    if len(textures) not in (1, 2) or len({t.id for t in textures}) != len(textures):
        raise ValueError(f"a background has one or two different textures, got {[t.name for t in textures]}")
    regions = np.zeros((size, size), dtype=np.int32)
    if len(textures) == 2:
        px, py = rng.uniform(size / 4, 3 * size / 4, size=2)
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[:size, :size]
        regions = (((xx - px) * math.cos(angle) + (yy - py) * math.sin(angle)) > 0).astype(np.int32)
    image = np.zeros((size, size, 3), dtype=np.int64)
    for k, texture in enumerate(textures):
        layer = texture_image(texture, rng, size, size)
        image[regions == k] = layer[regions == k]
    return image, regions


def render_scene(
    rng: np.random.Generator,
    size: int,
    objects: Sequence[ToyClass],
    textures: Sequence[ToyClass],
    radius_range: tuple[float, float],
    max_cover: float = 0.25,
) -> Scene:
    """Draw `objects` (thing classes, later ones on top) over a background of one or two `textures`.

    Each object gets a random radius in `radius_range`, rotation and position inside the image; a position
    is rejected if the object would cover more than `max_cover` of an earlier object's visible pixels
    (after PLACEMENT_TRIES rejections the object is left out). Segments are stuff regions first, then
    objects; segments with no visible pixel are dropped, so every returned segment is non-empty.
    """
    low, high = radius_range
    if not 0 < low <= high or 2 * high > size:
        raise ValueError(f"radius_range {radius_range} must satisfy 0 < low <= high <= size / 2 = {size / 2}")
    for thing in objects:
        if thing.shape is None or thing.colour is None:
            raise ValueError(f"class {thing.name!r} is not a colour x shape (thing) class")
    image, regions = _background(rng, size, textures)
    label_map = regions + 1
    classes: list[ToyClass] = list(textures)

    for thing in objects:
        radius = rng.uniform(low, high)
        angle = rng.uniform(0, 2 * math.pi)
        for _ in range(PLACEMENT_TRIES):
            center = tuple(rng.uniform(radius, size - radius, size=2))
            mask = shape_mask(thing.shape, size, size, center, radius, angle)
            covered = [
                np.count_nonzero(mask & (label_map == k + 1)) / max(1, np.count_nonzero(label_map == k + 1))
                for k in range(len(textures), len(classes))
            ]
            if mask.any() and all(c <= max_cover for c in covered):
                break
        else:
            continue
        colour = np.clip(np.asarray(thing.colour.rgb) + rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, size=3), 0, 255)
        image[mask] = colour
        classes.append(thing)
        label_map[mask] = len(classes)

    image = np.clip(image + rng.integers(-PIXEL_NOISE, PIXEL_NOISE + 1, size=image.shape), 0, 255).astype(np.uint8)
    kept = [k for k in range(len(classes)) if np.any(label_map == k + 1)]
    remap = np.zeros(len(classes) + 1, dtype=np.int32)
    remap[[k + 1 for k in kept]] = np.arange(1, len(kept) + 1, dtype=np.int32)
    return Scene(image=image, label_map=remap[label_map], classes=tuple(classes[k] for k in kept))
