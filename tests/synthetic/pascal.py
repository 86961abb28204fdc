"""Pascal VOC 2012 segmentation and Pascal Context (VOC2010 + the Context release) in their release layouts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import savemat

from .scenes import category_colors, paint_image, random_scene, write_jpg

__all__ = ["PC59_NAMES", "write_pascal_context_raw", "write_pascal_voc_raw"]


def _voc_palette() -> list[int]:
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def write_pascal_voc_raw(root: str | Path, num_images: int = 3, size: tuple[int, int] = (40, 56),
                         seed: int = 0) -> dict[str, Path]:
    """Write `root/VOCdevkit/VOC2012`: JPEGImages, SegmentationClass (palette PNGs: 0 background, 1..20,
    255 object boundaries) and ImageSets/Segmentation/{train,val}.txt."""
    voc = Path(root) / "VOCdevkit" / "VOC2012"
    rng = np.random.default_rng(seed)
    classes = [0, 0, 15, 7, 12]  # background twice (the stuff bands), person, car, dog
    is_thing = [False, False, True, True, True]
    ids = {"train": [], "val": []}
    for n in range(num_images):
        split = "val" if n % 2 == 0 else "train"
        image_id = f"2007_{n:06d}"
        scene = random_scene(rng, size, is_thing, num_things=2, void_strip=False)
        labels = np.zeros(size, dtype=np.uint8)
        for s, cat in enumerate(scene.category_indices):
            labels[scene.mask(s)] = classes[cat]
        edges = np.zeros(size, dtype=bool)
        edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
        edges[1:, :] |= labels[1:, :] != labels[:-1, :]
        labels[edges] = 255  # VOC marks object boundaries as void
        write_jpg(voc / "JPEGImages" / f"{image_id}.jpg", paint_image(rng, scene, category_colors([{}] * 5)))
        png = Image.fromarray(labels)
        png.putpalette(_voc_palette())  # makes it a palette ("P") PNG, as the release's
        (voc / "SegmentationClass").mkdir(parents=True, exist_ok=True)
        png.save(voc / "SegmentationClass" / f"{image_id}.png")
        ids[split].append(image_id)
    sets = voc / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True, exist_ok=True)
    for split, names in ids.items():
        (sets / f"{split}.txt").write_text("\n".join(names) + "\n")
    return {"root": Path(root), "voc": voc}


PC59_NAMES = (
    "aeroplane bag bed bedclothes bench bicycle bird boat book bottle building bus cabinet car cat ceiling chair "
    "cloth computer cow cup curtain dog door fence floor flower food grass ground horse keyboard light motorbike "
    "mountain mouse person plate platform pottedplant road rock sheep shelves sidewalk sign sky snow sofa table "
    "track train tree truck tvmonitor wall water window wood"
).split()


def write_pascal_context_raw(root: str | Path, num_images: int = 3, size: tuple[int, int] = (40, 56),
                             seed: int = 0) -> dict[str, Path]:
    """Write `root/VOCdevkit/VOC2010` (JPEGImages, ImageSets/Main/{train,val}.txt) and `root/pascal_context`
    (trainval/<id>.mat with a 1-based 459-class LabelMap, labels.txt, 59_context_labels/<id>.png, 59_labels.txt).

    The 59 classes sit at scattered ids of the 459 list; class 400 (not one of the 59) is drawn too.
    """
    voc = Path(root) / "VOCdevkit" / "VOC2010"
    ctx = Path(root) / "pascal_context"
    rng = np.random.default_rng(seed)
    pc59_at = {name: 7 * k + 2 for k, name in enumerate(PC59_NAMES)}  # 459-list id of each PC-59 class
    names_459 = {i: f"object{i}" for i in range(1, 460)}
    for name, i in pc59_at.items():
        names_459[i] = name
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "labels.txt").write_text("\n".join(f"{i}: {n}" for i, n in names_459.items()) + "\n")
    (ctx / "59_labels.txt").write_text("\n".join(f"{k + 1}: {n}" for k, n in enumerate(PC59_NAMES)) + "\n")
    lut59 = np.zeros(460, dtype=np.uint8)  # 459-list id -> 59_context_labels value (0 = not a PC-59 class)
    for k, i in enumerate(pc59_at.values()):
        lut59[i] = k + 1
    drawn = [pc59_at["sky"], 400, pc59_at["person"], pc59_at["tvmonitor"]]  # 1-based 459 ids
    is_thing = [False, False, True, True]
    ids = {"train": [], "val": []}
    for n in range(num_images):
        split = "val" if n % 2 == 0 else "train"
        image_id = f"2008_{n:06d}"
        scene = random_scene(rng, size, is_thing, num_things=2)
        full = np.zeros(size, dtype=np.uint16)
        for s, cat in enumerate(scene.category_indices):
            full[scene.mask(s)] = drawn[cat]
        raw59 = lut59[full]
        write_jpg(voc / "JPEGImages" / f"{image_id}.jpg", paint_image(rng, scene, category_colors([{}] * 4)))
        (ctx / "trainval").mkdir(exist_ok=True)
        savemat(ctx / "trainval" / f"{image_id}.mat", {"LabelMap": full})
        (ctx / "59_context_labels").mkdir(exist_ok=True)
        Image.fromarray(raw59).save(ctx / "59_context_labels" / f"{image_id}.png")
        ids[split].append(image_id)
    sets = voc / "ImageSets" / "Main"
    sets.mkdir(parents=True, exist_ok=True)
    for split, names in ids.items():
        (sets / f"{split}.txt").write_text("\n".join(names) + "\n")
    return {"root": Path(root), "voc2010": voc, "context": ctx}
