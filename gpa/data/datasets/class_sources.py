"""Where each benchmark's class names come from: one source per dataset.

Every function returns the classes with `dataset_ids` equal to the ids the prepared annotation files use
(semantic label values, panoptic JSON category ids), in the contiguous order of the label files.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from gpa.files import read_json, read_text, require_fields

from ..dataset_classes import DatasetClasses
from ..vocabulary import Vocabulary, parse_class_string, read_class_file
from .loaders import require_path

__all__ = [
    "CLASS_FILES",
    "ade20k_150_classes",
    "cityscapes_classes",
    "class_file_classes",
    "coco_panoptic_classes",
    "panoptic_json_classes",
    "pascal_voc_classes",
    "read_object_info_150",
]

CLASS_FILES = Path(__file__).resolve().parents[1] / "class_files"


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
    is_thing = [False] * 150
    if panoptic_json is not None:
        categories = panoptic_json_classes(panoptic_json, dataset_name,
                                           "run datasets/prepare_ade20k_panoptic.py")
        if sorted(categories.dataset_ids) != ids:
            raise ValueError(f"{panoptic_json}: category ids must be 0..149 (objectInfo150 Idx - 1)")
        things = dict(zip(categories.dataset_ids, categories.vocabulary.is_thing))
        is_thing = [things[i] for i in ids]
    return DatasetClasses(tuple(ids), Vocabulary(tuple(n for _, n in rows), tuple(is_thing)))


def cityscapes_classes() -> DatasetClasses:
    """Cityscapes' 19 evaluated classes from cityscapesscripts: dataset id = label id, order = trainId."""
    from cityscapesscripts.helpers.labels import labels

    used = sorted((lab for lab in labels if not lab.ignoreInEval), key=lambda lab: lab.trainId)
    if [lab.trainId for lab in used] != list(range(len(used))):
        raise ValueError("cityscapesscripts labels: evaluated trainIds are not 0..N-1")
    return DatasetClasses(
        tuple(lab.id for lab in used),
        Vocabulary(tuple((lab.name,) for lab in used), tuple(bool(lab.hasInstances) for lab in used)),
    )


def panoptic_json_classes(panoptic_json: Path, dataset_name: str, hint: str = "") -> DatasetClasses:
    """Classes listed by a panoptic JSON's own "categories", in file order (Mapillary, prepared ADE20K)."""
    require_path(panoptic_json, dataset_name, hint, "panoptic json")
    data = require_fields(read_json(panoptic_json, "panoptic json"), ("categories",), panoptic_json, "panoptic json")
    return DatasetClasses.from_categories(data["categories"], where=str(panoptic_json))


def class_file_classes(path: Path, dataset_name: str, id_offset: int = 0, hint: str = "") -> DatasetClasses:
    """Classes of an `id:name,...` file; `id_offset` is added to its ids (-1 for 1-based release lists)."""
    require_path(path, dataset_name, hint, "class list")
    entries = read_class_file(path)
    return DatasetClasses(
        tuple(i + id_offset for i, _ in entries),
        Vocabulary(tuple(n for _, n in entries), (False,) * len(entries)),
    )


def pascal_voc_classes(with_background: bool) -> DatasetClasses:
    """PAS-21 (background = 0) or PAS-20 (background ignored, classes 1..20 become 0..19)."""
    entries: Sequence = read_class_file(CLASS_FILES / "pascal_voc.txt")
    if not with_background:
        entries = [(i - 1, n) for i, n in entries if i != 0]
    return DatasetClasses(tuple(i for i, _ in entries),
                          Vocabulary(tuple(n for _, n in entries), (False,) * len(entries)))
