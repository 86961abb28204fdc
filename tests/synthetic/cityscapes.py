"""Cityscapes in its release layout: leftImg8bit/ and gtFine/ (polygons JSON rendered by cityscapesscripts)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["write_cityscapes_raw"]


def _rect(x0: int, y0: int, x1: int, y1: int) -> list[list[int]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def write_cityscapes_raw(root: str | Path, num_images: int = 2, size: tuple[int, int] = (48, 96), seed: int = 0,
                         split: str = "val", city: str = "frankfurt") -> dict[str, Path]:
    """Write `root/cityscapes/{leftImg8bit,gtFine}/<split>/<city>/` for `num_images` frames.

    Each frame has sky/building/road bands, a sidewalk strip, two persons and a car, a "cargroup" crowd
    and an ego-vehicle strip (ignored in evaluation). gtFine holds the polygons JSON and the labelIds,
    instanceIds (16-bit) and color PNGs rendered from it by cityscapesscripts, as in the release.
    """
    from cityscapesscripts.preparation.json2instanceImg import json2instanceImg
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    h, w = size
    rng = np.random.default_rng(seed)
    img_dir = Path(root) / "cityscapes" / "leftImg8bit" / split / city
    gt_dir = Path(root) / "cityscapes" / "gtFine" / split / city
    img_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    for n in range(num_images):
        stem = f"{city}_000000_{n:06d}"
        x = int(rng.integers(4, w // 3))
        objects = [
            {"label": "sky", "polygon": _rect(0, 0, w - 1, h // 4)},
            {"label": "building", "polygon": _rect(0, h // 4, w - 1, h // 2)},
            {"label": "road", "polygon": _rect(0, h // 2, w - 1, h - 1)},
            {"label": "sidewalk", "polygon": _rect(0, h // 2, w // 4, h - 1)},
            {"label": "car", "polygon": _rect(x, h // 2 - 4, x + 20, h // 2 + 10)},
            {"label": "person", "polygon": _rect(x + 26, h // 3, x + 32, h // 2 + 12)},
            {"label": "person", "polygon": [[x + 40, h // 3], [x + 46, h // 3 + 4], [x + 44, h // 2 + 12],
                                            [x + 38, h // 2 + 10]]},
            {"label": "cargroup", "polygon": _rect(w - 20, h // 2, w - 6, h // 2 + 8)},
            {"label": "ego vehicle", "polygon": _rect(0, h - 4, w - 1, h - 1)},
        ]
        polygons = gt_dir / f"{stem}_gtFine_polygons.json"
        polygons.write_text(json.dumps({"imgHeight": h, "imgWidth": w, "objects": objects}))
        json2labelImg(str(polygons), str(gt_dir / f"{stem}_gtFine_labelIds.png"), "ids")
        json2labelImg(str(polygons), str(gt_dir / f"{stem}_gtFine_color.png"), "color")
        json2instanceImg(str(polygons), str(gt_dir / f"{stem}_gtFine_instanceIds.png"), "ids")
        image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(image).save(img_dir / f"{stem}_leftImg8bit.png")
    return {"root": Path(root), "gt_dir": gt_dir.parent, "image_dir": img_dir.parent}
