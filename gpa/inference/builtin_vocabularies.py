"""Named vocabularies for inference: the class lists of the benchmarks, by a short name.

Each one comes from the same source the registered dataset uses (gpa/data/datasets/builtin.py), so a
name means the same classes at inference and in evaluation. Most need no dataset files; "ade20k_847",
"pascal_context_459" and "mapillary_vistas" are read from the prepared dataset under $DETECTRON2_DATASETS.
ADE20K-150 is read from gpa/data/class_files/ade20k_150.txt (the release's objectInfo150 names), so it too
works without the dataset.

"large" is the union of every list available without dataset files, merged by `merge_vocabularies`:
COCO panoptic (133), ADE20K-150 (150), Cityscapes (19), Pascal Context 59 and Pascal VOC 20 (VOC's
"background" is not a class), in that order: 234 classes, 143 things. The thing/stuff flag of a class is
that of the first list naming it, so classes COCO knows keep COCO's split (the one the model is trained
with: "door" and "curtain" are stuff); the Pascal lists carry no split, so classes only they name are stuff.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gpa.data.datasets.builtin import builtin_dataset, datasets_root
from gpa.data.datasets.class_sources import CLASS_FILES
from gpa.data.vocabulary import Vocabulary, read_class_file

from .merged_vocabulary import merge_vocabularies

__all__ = ["ADE20K_150_THING_IDS", "BUILTIN_VOCABULARIES", "BuiltinVocabulary", "builtin_vocabulary"]

# The 100 ADE20K-150 classes (0-based label ids) of the ADE20K instance-segmentation challenge: the things of
# the standard ADE20K panoptic split (Mask2Former, FC-CLIP); the other 50 are stuff.
ADE20K_150_THING_IDS = frozenset({
    7, 8, 10, 12, 14, 15, 18, 19, 20, 22, 23, 24, 27, 30, 31, 32, 33, 35, 36, 37,
    38, 39, 41, 42, 43, 44, 45, 47, 49, 50, 53, 55, 56, 57, 58, 62, 64, 65, 66, 67,
    69, 70, 71, 72, 73, 74, 75, 76, 78, 80, 81, 82, 83, 85, 86, 87, 88, 89, 90, 92,
    93, 95, 97, 98, 102, 103, 104, 107, 108, 110, 111, 112, 115, 116, 118, 119, 120, 121, 123, 124,
    125, 126, 127, 129, 130, 132, 133, 134, 135, 136, 137, 138, 139, 142, 143, 144, 146, 147, 148, 149,
})


@dataclass(frozen=True)
class BuiltinVocabulary:
    """A named vocabulary: what it is, how to read it, and whether that needs a prepared dataset."""

    description: str
    load: Callable[[], Vocabulary]
    needs_dataset: bool


def _from_dataset_table(dataset_name: str) -> Callable[[], Vocabulary]:
    """The classes of a builtin dataset, read from its class source (dataset files only where it needs them)."""

    def load() -> Vocabulary:
        row = builtin_dataset(dataset_name)
        return row.classes(datasets_root(), row.name).vocabulary

    return load


def _ade20k_150() -> Vocabulary:
    entries = read_class_file(CLASS_FILES / "ade20k_150.txt")
    ids = [class_id for class_id, _ in entries]
    if ids != list(range(150)):
        raise ValueError(f"{CLASS_FILES / 'ade20k_150.txt'} must list ids 0..149 in order, got {ids[:5]}...")
    return Vocabulary(tuple(names for _, names in entries), tuple(i in ADE20K_150_THING_IDS for i in ids))


LARGE_SOURCES = ("coco", "ade20k_150", "cityscapes", "pascal_context_59", "pascal_voc_20")


def _large() -> Vocabulary:
    return merge_vocabularies([BUILTIN_VOCABULARIES[name].load() for name in LARGE_SOURCES])


BUILTIN_VOCABULARIES: dict[str, BuiltinVocabulary] = {
    "coco": BuiltinVocabulary("COCO panoptic, 133 classes (80 things)",
                              _from_dataset_table("gpa_coco_panoptic_val"), False),
    "ade20k_150": BuiltinVocabulary("ADE20K-150 (A-150), 150 classes (100 things)", _ade20k_150, False),
    "ade20k_847": BuiltinVocabulary("ADE20K-Full (A-847), 847 classes, all stuff; needs the prepared dataset",
                                    _from_dataset_table("gpa_ade20k_847_sem_seg_val"), True),
    "cityscapes": BuiltinVocabulary("Cityscapes, 19 classes (8 things)",
                                    _from_dataset_table("gpa_cityscapes_panoptic_val"), False),
    "mapillary_vistas": BuiltinVocabulary("Mapillary Vistas v1.2, 65 classes; needs the prepared dataset",
                                          _from_dataset_table("gpa_mapillary_vistas_panoptic_val"), True),
    "pascal_context_59": BuiltinVocabulary("Pascal Context 59 (PC-59), all stuff",
                                           _from_dataset_table("gpa_pascal_ctx_59_sem_seg_val"), False),
    "pascal_context_459": BuiltinVocabulary("Pascal Context 459 (PC-459), all stuff; needs the prepared dataset",
                                            _from_dataset_table("gpa_pascal_ctx_459_sem_seg_val"), True),
    "pascal_voc_21": BuiltinVocabulary("Pascal VOC 21 (PAS-21, with background), all stuff",
                                       _from_dataset_table("gpa_pascal_voc_21_sem_seg_val"), False),
    "pascal_voc_20": BuiltinVocabulary("Pascal VOC 20 (PAS-20, no background), all stuff",
                                       _from_dataset_table("gpa_pascal_voc_20_sem_seg_val"), False),
    "large": BuiltinVocabulary(f"union of {', '.join(LARGE_SOURCES)}, duplicates merged: 234 classes (143 things)",
                               _large, False),
}


def builtin_vocabulary(name: str) -> Vocabulary:
    """The vocabulary named `name` (a key of BUILTIN_VOCABULARIES); unknown names list the valid ones."""
    if name not in BUILTIN_VOCABULARIES:
        valid = ", ".join(f"{key} ({v.description})" for key, v in BUILTIN_VOCABULARIES.items())
        raise ValueError(f"unknown builtin vocabulary {name!r}; valid names: {valid}. For your own classes give a "
                         "list of names instead, e.g. ['car,automobile', 'person']")
    entry = BUILTIN_VOCABULARIES[name]
    if not entry.needs_dataset:
        return entry.load()
    try:
        return entry.load()
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"builtin vocabulary {name!r} is read from the prepared dataset under $DETECTRON2_DATASETS "
            f"({datasets_root()}), see datasets/README.md: {err}"
        ) from err
