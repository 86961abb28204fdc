"""ADE20K in its release layouts: ADEChallengeData2016 (+ instance-challenge annotations) and ADE20K_2021_17_01."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from .scenes import category_colors, paint_image, random_scene, write_jpg

__all__ = ["ADE_INSTANCE_MAPPING", "write_ade20k_full_raw", "write_ade20k_raw"]

# A few real ADE20K-150 names (Idx: name); the other rows get placeholder names.
_ADE_NAMES = {
    1: "wall", 2: "building, edifice", 3: "sky", 8: "bed ", 13: "person, individual, someone", 21: "car, auto",
}
# instance-challenge class -> ADE20K-150 Idx (1-based), as in the toolkit's mapping file
ADE_INSTANCE_MAPPING = {1: 8, 2: 13, 3: 21}
_STUFF_IDX = (1, 2, 3)  # 1-based
_THING_IDX = (13, 21)


def _object_info_150() -> str:
    rows = ["Idx\tRatio\tTrain\tVal\tName"]
    for idx in range(1, 151):
        pad = " " if idx == 22 else ""  # the release has stray spaces after some indices
        rows.append(f"{idx}{pad}\t0.0010\t100\t10\t{_ADE_NAMES.get(idx, f'class {idx}')}")
    return "\n".join(rows) + "\n"


def write_ade20k_raw(root: str | Path, num_images: int = 3, size: tuple[int, int] = (48, 64), seed: int = 0,
                     splits: tuple[str, ...] = ("validation",), instances: bool = True) -> dict[str, Path]:
    """Write `root/ADEChallengeData2016` as downloaded: images/, annotations/ (uint8, 0 = other, 1..150),
    objectInfo150.txt, and (if `instances`) annotations_instance/ (R = instance class, G = instance id)
    plus the toolkit's ade20k_instance_catid_mapping.txt."""
    ade = Path(root) / "ADEChallengeData2016"
    rng = np.random.default_rng(seed)
    ade.mkdir(parents=True, exist_ok=True)
    (ade / "objectInfo150.txt").write_text(_object_info_150())
    if instances:
        rows = ["Instacne100\tSceneParse150\tFullADE20K"] + [
            f"{i}\t\t{s}\t\t{1000 + i}" for i, s in ADE_INSTANCE_MAPPING.items()
        ]
        (ade / "ade20k_instance_catid_mapping.txt").write_text("\n".join(rows) + "\n")
    sem_to_instance = {s: i for i, s in ADE_INSTANCE_MAPPING.items()}
    categories = list(_STUFF_IDX) + list(_THING_IDX)  # 1-based Idx drawn by the scenes
    is_thing = [False] * len(_STUFF_IDX) + [True] * len(_THING_IDX)
    colors = category_colors([{} for _ in categories])
    for split in splits:
        prefix = "train" if split == "training" else "val"
        for n in range(num_images):
            stem = f"ADE_{prefix}_{n + 1:08d}"
            scene = random_scene(rng, size, is_thing, num_things=2)
            write_jpg(ade / "images" / split / f"{stem}.jpg", paint_image(rng, scene, colors))
            sem = np.zeros(size, dtype=np.uint8)
            ins = np.zeros((*size, 3), dtype=np.uint8)
            instance = 0
            for s, cat in enumerate(scene.category_indices):
                mask = scene.mask(s)
                sem[mask] = categories[cat]
                if is_thing[cat]:
                    instance += 1
                    ins[mask, 0] = sem_to_instance[categories[cat]]
                    ins[mask, 1] = instance
            (ade / "annotations" / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(sem).save(ade / "annotations" / split / f"{stem}.png")
            if instances:
                (ade / "annotations_instance" / split).mkdir(parents=True, exist_ok=True)
                Image.fromarray(ins).save(ade / "annotations_instance" / split / f"{stem}.png")
    return {"root": Path(root), "ade_dir": ade, "mapping": ade / "ade20k_instance_catid_mapping.txt"}


def write_ade20k_full_raw(root: str | Path, sizes: tuple[tuple[int, int], ...] = ((40, 56), (36, 48), (520, 540)),
                          num_classes: int = 300, seed: int = 0) -> dict[str, Path]:
    """Write `root/ADE20K_2021_17_01` as released: index_ade20k.pkl, images/ADE/<split>/<scene>/*.jpg and
    *_seg.png (class = R / 10 * 256 + G), plus a benchmark class list (`ade_id:name` lines, label order) of
    `num_classes` classes with ade ids above 255, so labels need 16 bits. The last image is validation."""
    full = Path(root) / "ADE20K_2021_17_01"
    rng = np.random.default_rng(seed)
    ade_ids = [1000 + 3 * k for k in range(num_classes)]
    class_list = full.parent / "a847_class_list.txt"
    full.mkdir(parents=True, exist_ok=True)
    class_list.write_text("\n".join(f"{a}:class {k},synonym {k}" for k, a in enumerate(ade_ids)) + "\n")
    used_labels = [0, 5, 260, num_classes - 1]  # label positions drawn; 260 and up need 16 bits
    unlisted_ade_id = 7  # a release class that is not in the benchmark list -> ignore
    folders, filenames = [], []
    for n, size in enumerate(sizes):
        split = "validation" if n == len(sizes) - 1 else "training"
        prefix = "val" if split == "validation" else "train"
        folder = f"ADE20K_2021_17_01/images/ADE/{split}/urban/street"
        stem = f"ADE_{prefix}_{n + 1:08d}"
        scene = random_scene(rng, size, [False, False, True, True], num_things=2)
        classes = [ade_ids[used_labels[c]] for c in scene.category_indices]
        class_mask = np.zeros(size, dtype=np.int64)
        for s, ade_id in enumerate(classes):
            class_mask[scene.mask(s)] = ade_id
        class_mask[:2, :2] = unlisted_ade_id
        seg = np.zeros((*size, 3), dtype=np.uint8)
        seg[..., 0] = class_mask // 256 * 10
        seg[..., 1] = class_mask % 256
        seg[..., 2] = scene.label_map.astype(np.uint8)  # instance channel, unused by A-847
        out = Path(root) / folder
        write_jpg(out / f"{stem}.jpg", paint_image(rng, scene, category_colors([{}] * 4)))
        Image.fromarray(seg).save(out / f"{stem}_seg.png")
        folders.append(folder)
        filenames.append(f"{stem}.jpg")
    names = [f"object {i}" for i in range(max(ade_ids) + 1)]
    with open(full / "index_ade20k.pkl", "wb") as f:
        pickle.dump({"folder": folders, "filename": filenames, "objectnames": names}, f)
    return {"root": Path(root), "full_dir": full, "class_list": class_list}
