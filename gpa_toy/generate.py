"""Write a toy split to disk in COCO panoptic format, with semantic labels and COCO instance annotations.

Layout of a split folder (`split_paths`):
    images/<id>.png       RGB images
    panoptic/<id>.png     panoptic ids, RGB-encoded (panopticapi.utils.id2rgb); 0 = void
    panoptic.json         COCO panoptic JSON (images, annotations with segments_info, categories)
    semantic/<id>.png     contiguous class ids of the split (its category ids sorted), 255 = ignore
    instances.json        COCO instances JSON of the thing segments (RLE masks), for AP
Every image is drawn from its own random stream (seed, image index), so files are identical on rerun.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from panopticapi.utils import id2rgb
from PIL import Image
from pycocotools import mask as mask_utils

from .render import Scene, render_scene
from .world import STUFF_CLASSES, ToyClass

__all__ = ["IGNORE_LABEL", "MAX_OBJECTS", "generate_toy_split", "object_radius_range", "sample_scene", "split_paths"]

IGNORE_LABEL = 255
MAX_OBJECTS = 4
STUFF_GRAY = (128, 128, 128)  # the panoptic JSON's display colour of texture classes


def split_paths(root: str | Path, split: str) -> dict[str, Path]:
    """Where a split's files live under `root`, by role (the names register_coco_panoptic_format takes)."""
    folder = Path(root) / split
    return {
        "image_root": folder / "images",
        "panoptic_root": folder / "panoptic",
        "panoptic_json": folder / "panoptic.json",
        "sem_seg_root": folder / "semantic",
        "instances_json": folder / "instances.json",
    }


def object_radius_range(image_size: int) -> tuple[float, float]:
    """Object radii of a segmentation image: diameters from ~19% to ~46% of the image side."""
    return 0.095 * image_size, 0.23 * image_size


def sample_scene(rng: np.random.Generator, image_size: int, things: Sequence[ToyClass]) -> Scene:
    """A segmentation scene: 1..MAX_OBJECTS objects drawn from `things` on one or two textures."""
    num_objects = int(rng.integers(1, MAX_OBJECTS + 1))
    objects = [things[i] for i in rng.integers(0, len(things), size=num_objects)]
    num_textures = int(rng.integers(1, 3))
    textures = [STUFF_CLASSES[i] for i in rng.choice(len(STUFF_CLASSES), size=num_textures, replace=False)]
    return render_scene(rng, image_size, objects, textures, object_radius_range(image_size))


def _bbox(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _category(toy_class: ToyClass) -> dict:
    color = toy_class.colour.rgb if toy_class.colour is not None else STUFF_GRAY
    kind = "shape" if toy_class.isthing else "texture"
    return {"id": toy_class.id, "name": toy_class.name, "isthing": int(toy_class.isthing), "color": list(color),
            "supercategory": kind}


def _check_allowed(classes_allowed: Sequence[ToyClass], split: str) -> list[ToyClass]:
    allowed = list(classes_allowed)
    if not allowed:
        raise ValueError(f"toy split '{split}': classes_allowed is empty; give the colour x shape classes it may show")
    stuff = [c.name for c in allowed if not c.isthing]
    if stuff:
        raise ValueError(f"toy split '{split}': classes_allowed lists textures {stuff}; list only colour x shape "
                         "classes (every texture is always part of a split)")
    ids = [c.id for c in allowed]
    if len(set(ids)) != len(ids):
        raise ValueError(f"toy split '{split}': classes_allowed repeats classes")
    return allowed


def generate_toy_split(
    root: str | Path,
    split: str,
    num_images: int,
    image_size: int,
    seed: int,
    classes_allowed: Sequence[ToyClass],
) -> None:
    """Draw `num_images` scenes showing only `classes_allowed` (thing classes) and write them under `root/split`.

    The split's categories are the allowed things plus all textures; nothing else is drawn, so a class left
    out of `classes_allowed` never appears in the split's images, annotations or category list.
    """
    if num_images < 1:
        raise ValueError(f"toy split '{split}': num_images must be >= 1, got {num_images}")
    if image_size < 32:
        raise ValueError(f"toy split '{split}': image_size must be >= 32 pixels, got {image_size}")
    things = _check_allowed(classes_allowed, split)
    categories = sorted([*things, *STUFF_CLASSES], key=lambda c: c.id)
    contiguous = {c.id: i for i, c in enumerate(categories)}
    paths = split_paths(root, split)
    for role in ("image_root", "panoptic_root", "sem_seg_root"):
        paths[role].mkdir(parents=True, exist_ok=True)

    images, annotations, instances = [], [], []
    for index in range(num_images):
        scene = sample_scene(np.random.default_rng([seed, index]), image_size, things)
        name = f"{index:06d}.png"
        semantic = np.full(scene.label_map.shape, IGNORE_LABEL, dtype=np.uint8)
        segments = []
        for k, toy_class in enumerate(scene.classes):
            mask = scene.mask(k)
            semantic[mask] = contiguous[toy_class.id]
            segment = {"id": k + 1, "category_id": toy_class.id, "iscrowd": 0, "area": int(mask.sum()),
                       "bbox": _bbox(mask)}
            segments.append(segment)
            if toy_class.isthing:
                instances.append({"id": len(instances) + 1, "image_id": index, "category_id": toy_class.id,
                                  "segmentation": _rle(mask), "area": segment["area"], "bbox": segment["bbox"],
                                  "iscrowd": 0})
        Image.fromarray(scene.image).save(paths["image_root"] / name)
        Image.fromarray(id2rgb(scene.label_map)).save(paths["panoptic_root"] / name)
        Image.fromarray(semantic).save(paths["sem_seg_root"] / name)
        images.append({"id": index, "file_name": name, "height": image_size, "width": image_size})
        annotations.append({"image_id": index, "file_name": name, "segments_info": segments})

    info = {"description": f"gpa toy world, split {split}", "seed": seed}
    panoptic = {"info": info, "licenses": [], "images": images, "annotations": annotations,
                "categories": [_category(c) for c in categories]}
    paths["panoptic_json"].write_text(json.dumps(panoptic), encoding="utf-8")
    instance_json = {"info": info, "licenses": [], "images": images, "annotations": instances,
                     "categories": [_category(c) for c in categories if c.isthing]}
    paths["instances_json"].write_text(json.dumps(instance_json), encoding="utf-8")
