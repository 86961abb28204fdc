"""Vocabularies: the classes a model segments, for datasets, the Predictor and the meta-architecture alike.

A vocabulary is an ordered list of classes; a class is its names (the display name first, then synonyms,
written "name,synonym,...") and whether it is a thing (one segment per object) or stuff (one per class).
The rules, each in one place:
- Thing or stuff: a source that has a split gives it (COCO-format categories' "isthing", Cityscapes'
  hasInstances, the toy world). Classes given by names alone are things unless named as stuff
  (`Vocabulary.from_synonyms`); a semantic benchmark, having no instances, marks its classes stuff with
  `all_stuff()` where its class source is defined.
- Names: a display name names one class (case-insensitive). In a vocabulary a user writes every name,
  synonyms too, names one class (`make_vocabulary`); benchmark lists keep their own synonyms.
- Merging: `merge_vocabularies` (see gpa/vocabulary/merge.py) is the one rule for joining lists: the
  builtin "large" vocabulary and several training datasets' classes. A merged class keeps the thing/stuff
  flag of the first list naming it.
- Renaming: a class file with exactly a dataset's ids replaces its names; order and split stay
  (`DatasetClasses.with_names_from`, DATASETS.CLASS_FILE_OVERRIDES).
"""
from .catalog import (
    CLASS_FIELDS,
    ClassMetadata,
    apply_class_file_overrides,
    parse_class_file_override,
    resolve_vocabulary,
)
from .dataset_classes import DatasetClasses
from .merge import merge_vocabularies
from .user import make_vocabulary, parse_vocabulary_string, read_vocabulary_file
from .vocabulary import Vocabulary, parse_class_string, read_class_file

__all__ = [
    "CLASS_FIELDS",
    "ClassMetadata",
    "DatasetClasses",
    "Vocabulary",
    "apply_class_file_overrides",
    "make_vocabulary",
    "merge_vocabularies",
    "parse_class_file_override",
    "parse_class_string",
    "parse_vocabulary_string",
    "read_class_file",
    "read_vocabulary_file",
    "resolve_vocabulary",
]
