"""Where each benchmark's class names come from: one source per dataset.

Every function returns the classes with `dataset_ids` equal to the ids the prepared annotation files use
(semantic label values, panoptic JSON category ids), in the contiguous order of the label files, and the
dataset's own thing/stuff split (semantic benchmarks: all stuff, said here).
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from gpa.files import read_json, read_text, require_fields
from gpa.vocabulary import DatasetClasses, parse_class_string, read_class_file

from .loaders import require_path

__all__ = [
    "ADE20K_150_THING_IDS",
    "CLASS_FILES",
    "ade20k_150_classes",
    "ade20k_150_packaged_classes",
    "cityscapes_classes",
    "class_file_classes",
    "coco_panoptic_classes",
    "panoptic_json_classes",
    "pascal_voc_classes",
    "read_object_info_150",
]

CLASS_FILES = Path(__file__).resolve().parents[1] / "class_files"

# The 100 ADE20K-150 classes (0-based label ids) of the ADE20K instance-segmentation challenge: the things of
# the standard ADE20K panoptic split (Mask2Former, FC-CLIP); the other 50 are stuff.
ADE20K_150_THING_IDS = frozenset({
    7, 8, 10, 12, 14, 15, 18, 19, 20, 22, 23, 24, 27, 30, 31, 32, 33, 35, 36, 37,
    38, 39, 41, 42, 43, 44, 45, 47, 49, 50, 53, 55, 56, 57, 58, 62, 64, 65, 66, 67,
    69, 70, 71, 72, 73, 74, 75, 76, 78, 80, 81, 82, 83, 85, 86, 87, 88, 89, 90, 92,
    93, 95, 97, 98, 102, 103, 104, 107, 108, 110, 111, 112, 115, 116, 118, 119, 120, 121, 123, 124,
    125, 126, 127, 129, 130, 132, 133, 134, 135, 136, 137, 138, 139, 142, 143, 144, 146, 147, 148, 149,
})


def coco_panoptic_classes() -> DatasetClasses:
    """COCO panoptic: ids and things from detectron2's COCO categories, names from class_files/coco_panoptic.txt."""
    from detectron2.data.datasets.builtin_meta import COCO_CATEGORIES

    base = DatasetClasses.from_categories(COCO_CATEGORIES, where="detectron2 COCO_CATEGORIES")
    return base.with_names_from(CLASS_FILES / "coco_panoptic.txt")


def read_object_info_150(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """ADE20K's objectInfo150.txt (tab-separated Idx, Ratio, Train, Val, Name) as (Idx, synonyms), Idx 1..150."""
    rows = []
    reader = csv.reader(read_text(path, "class list").splitlines(), delimiter="\t")
    header = [h.strip() for h in next(reader, [])]
    if "Idx" not in header or "Name" not in header:
        raise ValueError(f"{path}: expected the header 'Idx Ratio Train Val Name', got {header}")
    idx_col, name_col = header.index("Idx"), header.index("Name")
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) <= max(idx_col, name_col) or not row[idx_col].strip().isdigit():
            raise ValueError(f"{path}:{lineno}: expected tab-separated Idx ... Name, got {row}")
        rows.append((int(row[idx_col]), parse_class_string(row[name_col], f"{path}:{lineno}")))
    return rows


def ade20k_150_classes(dataset_dir: Path, dataset_name: str, panoptic_json: Path | None = None) -> DatasetClasses:
    """ADE20K-150 names from the release's objectInfo150.txt; label value = Idx - 1 (0..149).

    For the panoptic dataset, things are the categories the panoptic JSON marks "isthing" (ids 0..149);
    the semantic dataset has no things.
    """
    info = require_path(dataset_dir / "objectInfo150.txt", dataset_name,
                        "it ships with ADEChallengeData2016.zip", "class list")
    rows = read_object_info_150(info)
    ids = [idx - 1 for idx, _ in rows]
    if ids != list(range(150)):
        raise ValueError(f"{info}: expected Idx 1..150 in order, got {len(ids)} rows starting {ids[:3]}")
    entries = [(idx - 1, names) for idx, names in rows]
    if panoptic_json is None:
        return DatasetClasses.from_entries(entries).all_stuff()
    categories = panoptic_json_classes(panoptic_json, dataset_name, "run datasets/prepare_ade20k_panoptic.py")
    if sorted(categories.dataset_ids) != ids:
        raise ValueError(f"{panoptic_json}: category ids must be 0..149 (objectInfo150 Idx - 1)")
    things = dict(zip(categories.dataset_ids, categories.vocabulary.is_thing))
    return DatasetClasses.from_entries(entries, [things[i] for i in ids])


def ade20k_150_packaged_classes() -> DatasetClasses:
    """ADE20K-150 from gpa/data/class_files/ade20k_150.txt (the release's objectInfo150 names, label ids 0..149),
    things as in the standard panoptic split (ADE20K_150_THING_IDS): needs no dataset files."""
    path = CLASS_FILES / "ade20k_150.txt"
    entries = read_class_file(path)
    ids = [class_id for class_id, _ in entries]
    if ids != list(range(150)):
        raise ValueError(f"{path} must list ids 0..149 in order, got {ids[:5]}...")
    return DatasetClasses.from_entries(entries, [i in ADE20K_150_THING_IDS for i in ids])


def cityscapes_classes() -> DatasetClasses:
    """Cityscapes' 19 evaluated classes from cityscapesscripts: dataset id = label id, order = trainId."""
    from cityscapesscripts.helpers.labels import labels

    used = sorted((lab for lab in labels if not lab.ignoreInEval), key=lambda lab: lab.trainId)
    if [lab.trainId for lab in used] != list(range(len(used))):
        raise ValueError("cityscapesscripts labels: evaluated trainIds are not 0..N-1")
    return DatasetClasses.from_entries(((lab.id, (lab.name,)) for lab in used), [lab.hasInstances for lab in used])


def panoptic_json_classes(panoptic_json: Path, dataset_name: str, hint: str = "") -> DatasetClasses:
    """Classes listed by a panoptic JSON's own "categories", in file order (Mapillary, prepared ADE20K)."""
    require_path(panoptic_json, dataset_name, hint, "panoptic json")
    data = require_fields(read_json(panoptic_json, "panoptic json"), ("categories",), panoptic_json, "panoptic json")
    return DatasetClasses.from_categories(data["categories"], where=str(panoptic_json))


def class_file_classes(path: Path, dataset_name: str, id_offset: int = 0, hint: str = "") -> DatasetClasses:
    """A semantic benchmark's classes from an `id:name,...` file, all stuff; `id_offset` is added to its ids
    (-1 for 1-based release lists)."""
    require_path(path, dataset_name, hint, "class list")
    return DatasetClasses.from_entries((i + id_offset, n) for i, n in read_class_file(path)).all_stuff()


def pascal_voc_classes(with_background: bool) -> DatasetClasses:
    """PAS-21 (background = 0) or PAS-20 (background ignored, classes 1..20 become 0..19)."""
    entries: Sequence = read_class_file(CLASS_FILES / "pascal_voc.txt")
    if not with_background:
        entries = [(i - 1, n) for i, n in entries if i != 0]
    return DatasetClasses.from_entries(entries).all_stuff()
