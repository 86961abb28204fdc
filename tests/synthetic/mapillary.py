"""Mapillary Vistas v1.2 in its release layout (no preparation needed by the benchmark)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from panopticapi.utils import id2rgb
from PIL import Image

from .scenes import bbox_xywh, category_colors, paint_image, random_scene, write_jpg

__all__ = ["MAPILLARY_NUM_CLASSES", "write_mapillary_raw"]

MAPILLARY_NUM_CLASSES = 65  # evaluated v1.2 classes; label value 65 is "unlabeled"
_REAL = {0: ("animal--bird", "Bird", 1), 19: ("human--person", "Person", 1), 27: ("nature--sky", "Sky", 0),
         13: ("construction--flat--road", "Road", 0), 55: ("object--vehicle--car", "Car", 1)}


def _labels() -> list[dict]:
    out = []
    for k in range(MAPILLARY_NUM_CLASSES):
        name, readable, thing = _REAL.get(k, (f"object--class-{k}", f"Class {k}", int(k % 3 == 0)))
        out.append({"name": name, "readable": readable, "instances": bool(thing), "evaluate": True,
                    "color": [(37 * k) % 256, (91 * k) % 256, (53 * k) % 256]})
    out.append({"name": "void--unlabeled", "readable": "Unlabeled", "instances": False, "evaluate": False,
                "color": [0, 0, 0]})
    return out


def write_mapillary_raw(root: str | Path, num_images: int = 3, size: tuple[int, int] = (48, 64), seed: int = 0,
                        split: str = "validation") -> dict[str, Path]:
    """Write `root/mapillary_vistas/<split>/{images,labels,instances,panoptic}` and config_v1.2.json.

    labels/*.png hold 0..64 and 65 for unlabeled; panoptic_2018.json lists 65 categories with ids 1..65
    (label value + 1) and segments whose ids are the RGB-encoded PNG values.
    """
    base = Path(root) / "mapillary_vistas"
    rng = np.random.default_rng(seed)
    labels = _labels()
    base.mkdir(parents=True, exist_ok=True)
    (base / "config_v1.2.json").write_text(json.dumps({"labels": labels, "version": 1.2}))
    categories = [
        {"id": k + 1, "name": lab["readable"], "supercategory": lab["name"], "isthing": int(lab["instances"]),
         "color": lab["color"]}
        for k, lab in enumerate(labels[:MAPILLARY_NUM_CLASSES])
    ]
    drawn = [27, 13, 19, 55]  # sky, road (stuff); person, car (things): label values
    is_thing = [False, False, True, True]
    images, annotations = [], []
    for n in range(num_images):
        stem = f"img{n:04d}_{split[:3]}"
        scene = random_scene(rng, size, is_thing, num_things=2)
        write_jpg(base / split / "images" / f"{stem}.jpg", paint_image(rng, scene, category_colors([{}] * 4)))
        label_map = np.full(size, MAPILLARY_NUM_CLASSES, dtype=np.uint8)
        instance_map = np.zeros(size, dtype=np.uint16)
        ids = np.zeros(size, dtype=np.int64)
        segments = []
        for s, cat in enumerate(scene.category_indices):
            mask = scene.mask(s)
            label_map[mask] = drawn[cat]
            instance_map[mask] = drawn[cat] * 256 + s
            seg_id = int(rng.integers(1, 2**24))
            ids[mask] = seg_id
            segments.append({"id": seg_id, "category_id": drawn[cat] + 1, "iscrowd": 0, "area": int(mask.sum()),
                             "bbox": bbox_xywh(mask)})
        for folder in ("labels", "instances", "panoptic"):
            (base / split / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(label_map).save(base / split / "labels" / f"{stem}.png")
        Image.fromarray(instance_map).save(base / split / "instances" / f"{stem}.png")
        Image.fromarray(id2rgb(ids)).save(base / split / "panoptic" / f"{stem}.png")
        images.append({"id": stem, "file_name": f"{stem}.jpg", "height": size[0], "width": size[1]})
        annotations.append({"image_id": stem, "file_name": f"{stem}.png", "segments_info": segments})
    (base / split / "panoptic" / "panoptic_2018.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return {"root": Path(root), "base": base}
