"""Image-caption pairs of the toy world (the tiny CLIP's "web-scale" pretraining data) and zero-shot test images.

Pretraining covers ALL colour x shape combinations, seen and unseen: it plays the role of the web data a
real CLIP was trained on. Captions name the objects and often the background texture, in several templates.
"""
from __future__ import annotations

import numpy as np

from .render import render_scene
from .world import STUFF_CLASSES, THING_CLASSES, ToyClass

__all__ = [
    "OBJECT_TEMPLATES",
    "PAIR_TEMPLATES",
    "SCENE_TEMPLATES",
    "TEXTURE_TEMPLATES",
    "sample_captioned_batch",
    "single_object_images",
    "texture_images",
]

# Object-only captions include the plain ViLD-style prompts the segmentation model classifies with.
OBJECT_TEMPLATES = (
    "a photo of a {}.",
    "This is a photo of a {}",
    "There is a {} in the scene",
    "a photo of a {} in the scene",
    "a {}.",
    "a drawing of a {}.",
)
SCENE_TEMPLATES = ("a photo of a {} on {}.", "a {} on {}.", "a {} in front of {}.")  # object, texture
PAIR_TEMPLATES = ("a {} and a {} on {}.", "a photo of a {} and a {}.")  # (object, object, texture), (object, object)
TEXTURE_TEMPLATES = ("a photo of a {}.", "a photo of {}.", "{}.", "a pattern of {}.")

# Random streams: np.random.default_rng([seed, index, tag]); the nonzero tag keeps the kinds of images apart
# (SeedSequence treats trailing zeros as absent, so [seed, index] is the segmentation generator's stream).
PRETRAIN_STREAM, OBJECT_EVAL_STREAM, TEXTURE_EVAL_STREAM = 1, 2, 3

# Kinds of pretraining images, with their probabilities.
SINGLE, PAIR, TEXTURE_ONLY = "single", "pair", "texture"
KIND_PROBABILITIES = {SINGLE: 0.7, PAIR: 0.2, TEXTURE_ONLY: 0.1}


def single_radius_range(image_size: int) -> tuple[float, float]:
    """Radii of the one object of a single-object image: diameters from 25% to 75% of the image side."""
    return 0.125 * image_size, 0.375 * image_size


def _textures(rng: np.random.Generator, count: int) -> list[ToyClass]:
    return [STUFF_CLASSES[i] for i in rng.choice(len(STUFF_CLASSES), size=count, replace=False)]


def _thing(rng: np.random.Generator) -> ToyClass:
    return THING_CLASSES[int(rng.integers(len(THING_CLASSES)))]


def _pick(rng: np.random.Generator, templates: tuple[str, ...]) -> str:
    return templates[int(rng.integers(len(templates)))]


def _sample_pair(rng: np.random.Generator, image_size: int) -> tuple[np.ndarray, str]:
    """One image-caption pair (see KIND_PROBABILITIES); the caption names only what is visible."""
    kind = rng.choice(list(KIND_PROBABILITIES), p=list(KIND_PROBABILITIES.values()))
    if kind == TEXTURE_ONLY:
        texture = _textures(rng, 1)
        scene = render_scene(rng, image_size, [], texture, single_radius_range(image_size))
        return scene.image, _pick(rng, TEXTURE_TEMPLATES).format(texture[0].name)
    background = _textures(rng, 1 if rng.random() < 0.75 else 2)
    if kind == SINGLE:
        scene = render_scene(rng, image_size, [_thing(rng)], background, single_radius_range(image_size))
    else:
        low, high = single_radius_range(image_size)
        scene = render_scene(rng, image_size, [_thing(rng), _thing(rng)], background, (0.8 * low, 0.6 * high))
    # The first object is always visible; a second one may have found no free place.
    (first, *rest), textures = [c for c in scene.classes if c.isthing], [c for c in scene.classes if not c.isthing]
    one_texture = len(textures) == 1
    if not rest:
        if one_texture and rng.random() < 0.5:
            return scene.image, _pick(rng, SCENE_TEMPLATES).format(first.name, textures[0].name)
        return scene.image, _pick(rng, OBJECT_TEMPLATES).format(first.name)
    if one_texture and rng.random() < 0.5:
        return scene.image, PAIR_TEMPLATES[0].format(first.name, rest[0].name, textures[0].name)
    return scene.image, PAIR_TEMPLATES[1].format(first.name, rest[0].name)


def sample_captioned_batch(seed: int, step: int, batch_size: int, image_size: int) -> tuple[np.ndarray, list[str]]:
    """Batch `step` of the pretraining stream `seed`: images (uint8 [N, H, W, 3]) and their captions.

    Images show any of the 64 colour x shape combinations; the same (seed, step) gives the same batch.
    """
    rng = np.random.default_rng([seed, step, PRETRAIN_STREAM])
    pairs = [_sample_pair(rng, image_size) for _ in range(batch_size)]
    return np.stack([image for image, _ in pairs]), [caption for _, caption in pairs]


def single_object_images(per_class: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` images of each of the 64 thing classes, one object on one texture: (images, class indices).

    Class index i is THING_CLASSES[i]. Every image has its own random stream, apart from pretraining batches'.
    """
    images, labels = [], []
    for index in range(per_class * len(THING_CLASSES)):
        rng = np.random.default_rng([seed, index, OBJECT_EVAL_STREAM])
        label = index % len(THING_CLASSES)
        scene = render_scene(rng, image_size, [THING_CLASSES[label]], _textures(rng, 1),
                             single_radius_range(image_size))
        images.append(scene.image)
        labels.append(label)
    return np.stack(images), np.asarray(labels)


def texture_images(per_class: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` images of each texture alone: (images, texture indices into STUFF_CLASSES)."""
    images, labels = [], []
    for index in range(per_class * len(STUFF_CLASSES)):
        rng = np.random.default_rng([seed, index, TEXTURE_EVAL_STREAM])
        label = index % len(STUFF_CLASSES)
        scene = render_scene(rng, image_size, [], [STUFF_CLASSES[label]], single_radius_range(image_size))
        images.append(scene.image)
        labels.append(label)
    return np.stack(images), np.asarray(labels)
