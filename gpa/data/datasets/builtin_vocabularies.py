"""Named vocabularies: the class lists of the benchmarks, by a short name (for the Predictor and the demos).

Each one comes from the same source the registered dataset uses (the table in builtin.py), so a name means
the same classes at inference and in evaluation. Most need no dataset files; "ade20k_847",
"pascal_context_459" and "mapillary_vistas" are read from the prepared dataset under $DETECTRON2_DATASETS.
ADE20K-150 is read from gpa/data/class_files/ade20k_150.txt (the release's objectInfo150 names), so it too
works without the dataset.

"large" is the union of every list available without dataset files, merged by gpa's one merge rule
(`gpa.vocabulary.merge_vocabularies`): COCO panoptic (133), ADE20K-150 (150), Cityscapes (19), Pascal Context
59 and Pascal VOC 20 (VOC's "background" is not a class), in that order: 234 classes, 143 things. A merged
class keeps the thing/stuff flag of the first list naming it, so classes COCO knows keep COCO's split (the one
the model is trained with: "door" and "curtain" are stuff); the Pascal lists are semantic benchmarks (all
stuff), so classes only they name are stuff.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gpa.vocabulary import Vocabulary, merge_vocabularies

from .builtin import builtin_dataset, datasets_root
from .class_sources import ade20k_150_packaged_classes

__all__ = ["BUILTIN_VOCABULARIES", "LARGE_SOURCES", "BuiltinVocabulary", "builtin_vocabulary"]


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


LARGE_SOURCES = ("coco", "ade20k_150", "cityscapes", "pascal_context_59", "pascal_voc_20")


def _large() -> Vocabulary:
    return merge_vocabularies([BUILTIN_VOCABULARIES[name].load() for name in LARGE_SOURCES])


def _ade20k_150() -> Vocabulary:
    return ade20k_150_packaged_classes().vocabulary


_NEEDS_DATASET = "; needs the prepared dataset"

# name -> (how to read it, description, whether that needs the prepared dataset)
_TABLE: dict[str, tuple[Callable[[], Vocabulary], str, bool]] = {
    "coco": (_from_dataset_table("gpa_coco_panoptic_val"), "COCO panoptic, 133 classes (80 things)", False),
    "ade20k_150": (_ade20k_150, "ADE20K-150 (A-150), 150 classes (100 things)", False),
    "ade20k_847": (_from_dataset_table("gpa_ade20k_847_sem_seg_val"), "ADE20K-Full (A-847), 847 classes, all stuff",
                   True),
    "cityscapes": (_from_dataset_table("gpa_cityscapes_panoptic_val"), "Cityscapes, 19 classes (8 things)", False),
    "mapillary_vistas": (_from_dataset_table("gpa_mapillary_vistas_panoptic_val"), "Mapillary Vistas v1.2, 65 classes",
                         True),
    "pascal_context_59": (_from_dataset_table("gpa_pascal_ctx_59_sem_seg_val"), "Pascal Context 59 (PC-59), all stuff",
                          False),
    "pascal_context_459": (_from_dataset_table("gpa_pascal_ctx_459_sem_seg_val"),
                           "Pascal Context 459 (PC-459), all stuff", True),
    "pascal_voc_21": (_from_dataset_table("gpa_pascal_voc_21_sem_seg_val"),
                      "Pascal VOC 21 (PAS-21, with background), all stuff", False),
    "pascal_voc_20": (_from_dataset_table("gpa_pascal_voc_20_sem_seg_val"),
                      "Pascal VOC 20 (PAS-20, no background), all stuff", False),
    "large": (_large, f"union of {', '.join(LARGE_SOURCES)}, duplicates merged: 234 classes (143 things)", False),
}

BUILTIN_VOCABULARIES: dict[str, BuiltinVocabulary] = {
    name: BuiltinVocabulary(description + (_NEEDS_DATASET if needs else ""), load, needs)
    for name, (load, description, needs) in _TABLE.items()
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
