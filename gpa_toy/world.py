"""The toy world as data: colours, shapes, background textures, the class list and the unseen split.

Thing classes are colour x shape combinations ("green star"); stuff classes are the background
textures ("stripes"). A fixed set of combinations is unseen: never annotated in training, while every
colour and every shape still appears in seen combinations, so naming an unseen class is compositional.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "COLOURS",
    "SHAPES",
    "TEXTURES",
    "THING_CLASSES",
    "STUFF_CLASSES",
    "ALL_CLASSES",
    "UNSEEN_THING_NAMES",
    "UNSEEN_THINGS",
    "SEEN_THINGS",
    "Colour",
    "Shape",
    "Texture",
    "ToyClass",
    "check_unseen_split",
    "class_by_id",
    "class_by_name",
]

Point = tuple[float, float]


@dataclass(frozen=True)
class Colour:
    """A saturated object colour."""

    name: str
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class Shape:
    """A shape in unit coordinates (it fits the unit circle), drawn as polygons in order.

    Each part is (polygon, fill): fill 1 adds the polygon to the shape, fill 0 cuts it out (a ring's hole).
    """

    name: str
    parts: tuple[tuple[tuple[Point, ...], int], ...]


@dataclass(frozen=True)
class Texture:
    """A background texture: `ink(rng, height, width)` says which pixels take the ink colour (the rest the base)."""

    name: str
    ink: Callable[[np.random.Generator, int, int], np.ndarray]


@dataclass(frozen=True)
class ToyClass:
    """One class of the world with its category id; things have a colour and a shape, stuff a texture."""

    id: int
    name: str
    isthing: bool
    colour: Colour | None = None
    shape: Shape | None = None
    texture: Texture | None = None


# ---------------------------------------------------------------------------------------------- colours
COLOURS: tuple[Colour, ...] = (
    Colour("red", (220, 30, 35)),
    Colour("orange", (245, 135, 15)),
    Colour("yellow", (240, 225, 30)),
    Colour("green", (30, 170, 55)),
    Colour("cyan", (25, 215, 225)),
    Colour("blue", (35, 70, 225)),
    Colour("purple", (135, 40, 195)),
    Colour("pink", (250, 120, 190)),
)


# ---------------------------------------------------------------------------------------------- shapes
def _regular_polygon(sides: int, radius: float = 1.0, phase: float = 0.0, center: Point = (0.0, 0.0)) -> tuple:
    cx, cy = center
    angles = [phase + 2 * math.pi * k / sides for k in range(sides)]
    return tuple((cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles)


def _star(points: int, outer: float, inner: float) -> tuple:
    corners = []
    for k in range(2 * points):
        radius = outer if k % 2 == 0 else inner
        angle = -math.pi / 2 + math.pi * k / points
        corners.append((radius * math.cos(angle), radius * math.sin(angle)))
    return tuple(corners)


def _heart(samples: int = 48) -> tuple:
    # The classic parametric heart, scaled into the unit circle (y points down in image coordinates).
    raw = []
    for k in range(samples):
        t = 2 * math.pi * k / samples
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        raw.append((x, -y))
    cy = (max(y for _, y in raw) + min(y for _, y in raw)) / 2
    scale = 1.0 / max(math.hypot(x, y - cy) for x, y in raw)
    return tuple((x * scale, (y - cy) * scale) for x, y in raw)


def _cross(arm: float = 0.32) -> tuple:
    a, b = arm, 0.95
    return ((-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a))


_CIRCLE = _regular_polygon(48)

SHAPES: tuple[Shape, ...] = (
    Shape("circle", ((_CIRCLE, 1),)),
    Shape("square", ((_regular_polygon(4, 1.0, math.pi / 4), 1),)),
    Shape("triangle", ((_regular_polygon(3, 1.0, -math.pi / 2), 1),)),
    Shape("star", ((_star(5, 1.0, 0.42), 1),)),
    Shape("cross", ((_cross(), 1),)),
    Shape("heart", ((_heart(), 1),)),
    Shape("ring", ((_CIRCLE, 1), (_regular_polygon(48, 0.55), 0))),
    Shape("crescent", ((_CIRCLE, 1), (_regular_polygon(48, 0.82, 0.0, (0.42, -0.12)), 0))),
)


# ---------------------------------------------------------------------------------------------- textures
def _rotated_coordinates(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in a frame rotated by a random angle and shifted by a random offset."""
    angle = rng.uniform(0, math.pi)
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    offset_u, offset_v = rng.uniform(0, 100, size=2)
    u = xx * math.cos(angle) + yy * math.sin(angle) + offset_u
    v = -xx * math.sin(angle) + yy * math.cos(angle) + offset_v
    return u, v


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    period = rng.uniform(5.0, 9.0)
    u, _ = _rotated_coordinates(rng, height, width)
    return np.mod(u, period) < period / 2


def _dots(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    spacing = rng.uniform(6.0, 9.0)
    radius = spacing * rng.uniform(0.22, 0.3)
    u, v = _rotated_coordinates(rng, height, width)
    du = np.mod(u, spacing) - spacing / 2
    dv = np.mod(v, spacing) - spacing / 2
    return du**2 + dv**2 < radius**2


def _grid(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    spacing = rng.uniform(7.0, 11.0)
    line = rng.uniform(1.2, 2.0)
    u, v = _rotated_coordinates(rng, height, width)
    return (np.mod(u, spacing) < line) | (np.mod(v, spacing) < line)


def _waves(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    period = rng.uniform(6.0, 9.0)
    wavelength = rng.uniform(14.0, 24.0)
    amplitude = rng.uniform(2.0, 3.5)
    u, v = _rotated_coordinates(rng, height, width)
    return np.mod(u + amplitude * np.sin(2 * math.pi * v / wavelength), period) < period / 2


TEXTURES: tuple[Texture, ...] = (
    Texture("stripes", _stripes),
    Texture("dots", _dots),
    Texture("grid", _grid),
    Texture("waves", _waves),
)


# ---------------------------------------------------------------------------------------------- classes
# Things 1..64 in colour-major order (id = 1 + 8 * colour index + shape index), stuff 65..68 after them;
# the contiguous order of a dataset is its category ids sorted.
THING_CLASSES: tuple[ToyClass, ...] = tuple(
    ToyClass(1 + len(SHAPES) * c + s, f"{colour.name} {shape.name}", True, colour=colour, shape=shape)
    for c, colour in enumerate(COLOURS)
    for s, shape in enumerate(SHAPES)
)
STUFF_CLASSES: tuple[ToyClass, ...] = tuple(
    ToyClass(1 + len(THING_CLASSES) + t, texture.name, False, texture=texture) for t, texture in enumerate(TEXTURES)
)
ALL_CLASSES: tuple[ToyClass, ...] = THING_CLASSES + STUFF_CLASSES

# The fixed unseen split: two shapes per colour along two shifted diagonals of the colour x shape table
# (shape index 3c+1 and 3c+5 mod 8), so every colour and every shape is unseen exactly twice and seen six times.
UNSEEN_THING_NAMES: tuple[str, ...] = (
    "red square", "red heart",
    "orange cross", "orange circle",
    "yellow crescent", "yellow star",
    "green triangle", "green ring",
    "cyan heart", "cyan square",
    "blue circle", "blue cross",
    "purple star", "purple crescent",
    "pink ring", "pink triangle",
)  # fmt: skip

_BY_NAME = {c.name: c for c in ALL_CLASSES}
_BY_ID = {c.id: c for c in ALL_CLASSES}


def class_by_name(name: str) -> ToyClass:
    """The toy class called `name` ("green star", "stripes")."""
    if name not in _BY_NAME:
        raise KeyError(f"no toy class named {name!r}; classes are '<colour> <shape>' with colours "
                       f"{[c.name for c in COLOURS]}, shapes {[s.name for s in SHAPES]}, or textures "
                       f"{[t.name for t in TEXTURES]}")
    return _BY_NAME[name]


def class_by_id(class_id: int) -> ToyClass:
    """The toy class with category id `class_id`."""
    if class_id not in _BY_ID:
        raise KeyError(f"no toy class with id {class_id}; ids are 1..{max(_BY_ID)}")
    return _BY_ID[class_id]


UNSEEN_THINGS: tuple[ToyClass, ...] = tuple(class_by_name(n) for n in UNSEEN_THING_NAMES)
SEEN_THINGS: tuple[ToyClass, ...] = tuple(c for c in THING_CLASSES if c not in UNSEEN_THINGS)


def check_unseen_split(unseen: tuple[ToyClass, ...], min_seen: int = 2) -> None:
    """Fail unless every colour and every shape appears in at least `min_seen` seen combinations.

    Also fails on stuff or repeated classes in `unseen`, or on an unseen split that leaves nothing seen.
    """
    names = [c.name for c in unseen]
    if len(set(names)) != len(names):
        raise ValueError(f"the unseen split repeats classes: {sorted(n for n in set(names) if names.count(n) > 1)}")
    stuff = [c.name for c in unseen if not c.isthing]
    if stuff:
        raise ValueError(f"the unseen split may hold only colour x shape classes, got textures {stuff}")
    seen = [c for c in THING_CLASSES if c not in unseen]
    for kind, values in (("colour", COLOURS), ("shape", SHAPES)):
        for value in values:
            count = sum(1 for c in seen if getattr(c, kind) == value)
            if count < min_seen:
                raise ValueError(
                    f"{kind} {value.name!r} appears in {count} seen combinations, fewer than {min_seen}: an unseen "
                    f"class using it could not be recognized compositionally; move one of its combinations out of "
                    "the unseen split"
                )


check_unseen_split(UNSEEN_THINGS)
