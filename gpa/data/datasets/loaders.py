"""Read dataset records (detectron2's standard dicts) from the on-disk layouts."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gpa.files import read_json, require_fields

__all__ = ["ImageEntry", "load_panoptic_json", "load_semantic_folders", "require_path"]

README_HINT = "see datasets/README.md for the expected layout"

# A panoptic JSON's "images" entry (id, file_name, height, width) plus its annotation's "file_name".
ImageEntry = Mapping[str, Any]


def require_path(path: Path, dataset_name: str, hint: str = "", kind: str = "") -> Path:
    """Return `path` if it exists, else raise FileNotFoundError naming it, the dataset and how to make it."""
    path = Path(path)
    if not path.exists():
        what = f"{kind} " if kind else ""
        how = f"; {hint}" if hint else ""
        raise FileNotFoundError(
            f"dataset '{dataset_name}': {what}{path} does not exist{how} ({README_HINT})"
        )
    return path


def _default_image_path(entry: ImageEntry) -> str:
    return entry["file_name"]


def _default_sem_seg_path(entry: ImageEntry) -> str:
    return str(Path(entry["pan_file_name"]).with_suffix(".png"))


def load_panoptic_json(
    dataset_name: str,
    panoptic_json: str | Path,
    image_root: str | Path,
    panoptic_root: str | Path,
    metadata: Any,
    sem_seg_root: str | Path | None = None,
    image_path: Callable[[ImageEntry], str] = _default_image_path,
    sem_seg_path: Callable[[ImageEntry], str] = _default_sem_seg_path,
    hints: Mapping[str, str] | None = None,
) -> list[dict]:
    """Records of a COCO-panoptic-format dataset, category ids mapped to the contiguous order.

    Image files are named by the JSON's "images" entries (detectron2's `load_coco_panoptic_json` instead
    swaps the annotation's extension to .jpg, which does not hold for Cityscapes' PNG images); `image_path`
    and `sem_seg_path` place them relative to their roots. `hints` maps a role ("panoptic_json",
    "panoptic_root", "sem_seg_root", "image_root") to how to create it.
    """
    hints = dict(hints or {})
    panoptic_json, image_root, panoptic_root = Path(panoptic_json), Path(image_root), Path(panoptic_root)
    for role, path in [("panoptic_json", panoptic_json), ("image_root", image_root), ("panoptic_root", panoptic_root)]:
        require_path(path, dataset_name, hints.get(role, ""), role.replace("_", " "))
    if sem_seg_root is not None:
        sem_seg_root = require_path(Path(sem_seg_root), dataset_name, hints.get("sem_seg_root", ""), "semantic labels")

    data = require_fields(read_json(panoptic_json, f"dataset '{dataset_name}': panoptic json"),
                          ("images", "annotations"), panoptic_json, f"dataset '{dataset_name}': panoptic json")
    images = {img["id"]: img for img in data["images"]}
    id_map = metadata.stuff_dataset_id_to_contiguous_id
    thing_ids = set(metadata.thing_dataset_id_to_contiguous_id)

    records = []
    for ann in data["annotations"]:
        if ann["image_id"] not in images:
            raise ValueError(f"dataset '{dataset_name}': {panoptic_json} annotates image id {ann['image_id']!r} "
                             "that is not in its 'images' list")
        entry = dict(images[ann["image_id"]], pan_file_name=ann["file_name"])
        segments = []
        for seg in ann["segments_info"]:
            if seg["category_id"] not in id_map:
                raise ValueError(
                    f"dataset '{dataset_name}': segment {seg['id']} of {ann['file_name']} has category id "
                    f"{seg['category_id']}, which is not one of the dataset's {len(id_map)} classes"
                )
            segments.append(
                dict(seg, category_id=id_map[seg["category_id"]], isthing=seg["category_id"] in thing_ids,
                     iscrowd=int(seg.get("iscrowd", 0)))
            )
        record = {
            "file_name": str(image_root / image_path(entry)),
            "image_id": ann["image_id"],
            "height": int(entry["height"]),
            "width": int(entry["width"]),
            "pan_seg_file_name": str(panoptic_root / ann["file_name"]),
            "segments_info": segments,
            "dataset_name": dataset_name,
        }
        if sem_seg_root is not None:
            record["sem_seg_file_name"] = str(sem_seg_root / sem_seg_path(entry))
        records.append(record)
    if not records:
        raise ValueError(f"dataset '{dataset_name}': {panoptic_json} has no annotations")
    first = records[0]
    for key in ("file_name", "pan_seg_file_name", "sem_seg_file_name"):
        if key in first:
            role = {"file_name": "image_root", "pan_seg_file_name": "panoptic_root"}.get(key, "sem_seg_root")
            require_path(Path(first[key]), dataset_name, hints.get(role, ""), "file")
    return records


def load_semantic_folders(
    dataset_name: str,
    image_root: str | Path,
    sem_seg_root: str | Path,
    image_ext: str = ".jpg",
    label_ext: str = ".png",
    hints: Mapping[str, str] | None = None,
) -> list[dict]:
    """Records pairing `image_root/<stem><image_ext>` with `sem_seg_root/<stem><label_ext>`.

    Every image needs its label and every label its image; a mismatch is an error naming the files.
    Height and width are left to the mapper, which reads them from the image (as detectron2's `load_sem_seg`).
    """
    hints = dict(hints or {})
    image_root = require_path(Path(image_root), dataset_name, hints.get("image_root", ""), "image folder")
    sem_seg_root = require_path(Path(sem_seg_root), dataset_name, hints.get("sem_seg_root", ""), "label folder")
    images = {p.stem: p for p in image_root.iterdir() if p.suffix == image_ext}
    labels = {p.stem: p for p in sem_seg_root.iterdir() if p.suffix == label_ext}
    if not images:
        raise FileNotFoundError(f"dataset '{dataset_name}': no *{image_ext} images in {image_root} ({README_HINT})")
    no_label = sorted(set(images) - set(labels))
    no_image = sorted(set(labels) - set(images))
    if no_label or no_image:
        raise FileNotFoundError(
            f"dataset '{dataset_name}': images and labels do not match: {len(no_label)} images without a "
            f"{label_ext} label in {sem_seg_root} (e.g. {no_label[:3]}), {len(no_image)} labels without a "
            f"{image_ext} image in {image_root} (e.g. {no_image[:3]}); {hints.get('sem_seg_root', README_HINT)}"
        )
    return [
        {
            "file_name": str(images[stem]),
            "image_id": stem,
            "sem_seg_file_name": str(labels[stem]),
            "dataset_name": dataset_name,
        }
        for stem in sorted(images)
    ]
