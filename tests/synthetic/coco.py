"""A tiny COCO-panoptic-format dataset in the official on-disk layout (plus derived semantic labels)."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from panopticapi.utils import id2rgb
from PIL import Image
from pycocotools import mask as mask_utils

from .scenes import Scene, bbox_xywh, category_colors, paint_image, random_scene, write_jpg

__all__ = ["DEFAULT_COCO_CATEGORIES", "instances_json_from_panoptic", "write_coco_panoptic"]

# A few real COCO panoptic categories (non-contiguous ids, things first as in COCO).
DEFAULT_COCO_CATEGORIES: tuple[dict, ...] = (
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60], "supercategory": "person"},
    {"id": 3, "name": "car", "isthing": 1, "color": [0, 0, 142], "supercategory": "vehicle"},
    {"id": 18, "name": "dog", "isthing": 1, "color": [100, 170, 30], "supercategory": "animal"},
    {"id": 149, "name": "road", "isthing": 0, "color": [128, 64, 128], "supercategory": "ground"},
    {"id": 184, "name": "tree-merged", "isthing": 0, "color": [107, 142, 35], "supercategory": "plant"},
    {"id": 187, "name": "sky-other-merged", "isthing": 0, "color": [70, 130, 180], "supercategory": "sky"},
)


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def instances_json_from_panoptic(panoptic: Mapping, panoptic_root: Path) -> dict:
    """COCO instances JSON (RLE masks) of the thing segments of a panoptic JSON, crowds kept as iscrowd=1."""
    from panopticapi.utils import rgb2id

    things = [c for c in panoptic["categories"] if c["isthing"]]
    annotations = []
    for ann in panoptic["annotations"]:
        ids = rgb2id(np.asarray(Image.open(Path(panoptic_root) / ann["file_name"]).convert("RGB")))
        thing_ids = {c["id"] for c in things}
        for seg in ann["segments_info"]:
            if seg["category_id"] not in thing_ids:
                continue
            mask = ids == seg["id"]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": ann["image_id"],
                    "category_id": seg["category_id"],
                    "segmentation": _rle(mask),
                    "area": int(mask.sum()),
                    "bbox": bbox_xywh(mask),
                    "iscrowd": int(seg["iscrowd"]),
                }
            )
    return {
        "info": {"description": "instances derived from panoptic segments"},
        "images": panoptic["images"],
        "annotations": annotations,
        "categories": [{k: c[k] for k in ("id", "name", "supercategory") if k in c} for c in things],
    }


def _segments_info(scene: Scene, segment_ids: Sequence[int], category_ids: Sequence[int]) -> list[dict]:
    infos = []
    for s, seg_id in enumerate(segment_ids):
        mask = scene.mask(s)
        infos.append(
            {
                "id": int(seg_id),
                "category_id": int(category_ids[scene.category_indices[s]]),
                "iscrowd": int(scene.iscrowd[s]),
                "bbox": bbox_xywh(mask),
                "area": int(mask.sum()),
            }
        )
    return infos


def write_coco_panoptic(
    root: str | Path,
    num_images: int = 4,
    size: tuple[int, int] = (64, 96),
    categories: Sequence[Mapping] = DEFAULT_COCO_CATEGORIES,
    seed: int = 0,
    split: str = "val2017",
    semantic: bool = True,
    instances: bool = True,
) -> dict[str, Path]:
    """Write a COCO panoptic split under `root` (the `coco/` folder) in the official layout.

    Writes `{split}/*.jpg`, `panoptic_{split}/*.png` (RGB id encoding), `annotations/panoptic_{split}.json`,
    and optionally `panoptic_semseg_{split}/*.png` (contiguous ids in category-id order, 255 = unlabeled,
    crowd pixels keep their class, as the prepare script writes them) and `annotations/instances_{split}.json`.
    Image 0 holds a crowd segment. Returns the paths by role:
    root, image_root, panoptic_root, panoptic_json, sem_seg_root, instances_json.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    categories = sorted((dict(c) for c in categories), key=lambda c: c["id"])
    category_ids = [c["id"] for c in categories]
    colors = category_colors(categories)
    is_thing = [bool(c["isthing"]) for c in categories]
    paths = {
        "root": root,
        "image_root": root / split,
        "panoptic_root": root / f"panoptic_{split}",
        "panoptic_json": root / "annotations" / f"panoptic_{split}.json",
        "sem_seg_root": root / f"panoptic_semseg_{split}",
        "instances_json": root / "annotations" / f"instances_{split}.json",
    }
    for key in ("image_root", "panoptic_root", "panoptic_json"):
        (paths[key] if key != "panoptic_json" else paths[key].parent).mkdir(parents=True, exist_ok=True)

    images, annotations = [], []
    used_ids: set[int] = set()
    for index in range(num_images):
        image_id = 100 + 7 * index
        stem = f"{image_id:012d}"
        scene = random_scene(rng, size, is_thing, num_things=2 if index else 3, crowd=index == 0)
        segment_ids = []
        for _ in scene.category_indices:  # COCO ids are arbitrary 24-bit values
            seg_id = int(rng.integers(1, 2**24))
            while seg_id in used_ids:
                seg_id = int(rng.integers(1, 2**24))
            used_ids.add(seg_id)
            segment_ids.append(seg_id)
        id_map = np.zeros(size, dtype=np.int64)
        for s, seg_id in enumerate(segment_ids):
            id_map[scene.mask(s)] = seg_id
        write_jpg(paths["image_root"] / f"{stem}.jpg", paint_image(rng, scene, colors))
        Image.fromarray(id2rgb(id_map)).save(paths["panoptic_root"] / f"{stem}.png")
        if semantic:
            sem = np.full(size, 255, dtype=np.uint8)
            for s in range(len(segment_ids)):
                sem[scene.mask(s)] = scene.category_indices[s]
            paths["sem_seg_root"].mkdir(parents=True, exist_ok=True)
            Image.fromarray(sem).save(paths["sem_seg_root"] / f"{stem}.png")
        images.append({"id": image_id, "file_name": f"{stem}.jpg", "height": size[0], "width": size[1]})
        segments_info = _segments_info(scene, segment_ids, category_ids)
        annotations.append({"image_id": image_id, "file_name": f"{stem}.png", "segments_info": segments_info})
    panoptic = {
        "info": {"description": "synthetic COCO panoptic"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    paths["panoptic_json"].write_text(json.dumps(panoptic))
    if instances:
        paths["instances_json"].write_text(json.dumps(instances_json_from_panoptic(panoptic, paths["panoptic_root"])))
    return paths


def register_written_coco_panoptic(name: str, paths: Mapping[str, Path], **kwargs) -> str:
    """Register what `write_coco_panoptic` wrote as dataset `name` (gpa's generic COCO-panoptic registration);
    `kwargs` go to `register_coco_panoptic_format`. Returns `name`."""
    from gpa.data import register_coco_panoptic_format

    register_coco_panoptic_format(
        name,
        image_root=paths["image_root"],
        panoptic_root=paths["panoptic_root"],
        panoptic_json=paths["panoptic_json"],
        sem_seg_root=paths["sem_seg_root"],
        instances_json=paths["instances_json"],
        **kwargs,
    )
    return name
