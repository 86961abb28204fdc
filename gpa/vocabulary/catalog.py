"""Vocabularies in detectron2's catalog: a dataset's class metadata, its class-file override, and the
vocabulary a dataset name or a class file stands for.

Registering a builtin dataset must not touch the disk, yet some datasets name their classes in files
of the dataset itself (ADE20K's objectInfo150.txt, a panoptic JSON's categories). `ClassMetadata` keeps
the reader and runs it the first time a class field is asked for.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.catalog import Metadata

from .dataset_classes import DatasetClasses
from .vocabulary import Vocabulary, read_class_file

__all__ = [
    "CLASS_FIELDS",
    "ClassMetadata",
    "apply_class_file_overrides",
    "parse_class_file_override",
    "resolve_vocabulary",
]

CLASS_FIELDS = (
    "vocabulary",
    "stuff_classes",
    "thing_classes",
    "stuff_dataset_id_to_contiguous_id",
    "thing_dataset_id_to_contiguous_id",
)


class ClassMetadata(Metadata):
    """Metadata with lazily resolved class fields (see `CLASS_FIELDS`) and an optional class-file override."""

    def __init__(self, name: str, class_source: Callable[[], DatasetClasses], **fields: Any) -> None:
        super().__init__(name=name)
        self.__dict__["_class_source"] = class_source
        self.__dict__["_class_file"] = None
        self.__dict__["_classes"] = None
        self.set(**fields)

    def __getattr__(self, key: str) -> Any:
        if key in CLASS_FIELDS:
            self.classes()
            return self.__dict__[key]
        return super().__getattr__(key)

    def classes(self) -> DatasetClasses:
        """The dataset's classes (read now if not yet), with the class-file override applied."""
        if self.__dict__["_classes"] is None:
            classes = self.__dict__["_class_source"]()
            if not isinstance(classes, DatasetClasses):
                raise TypeError(f"class source of dataset '{self.name}' returned {type(classes).__name__}, "
                                "expected DatasetClasses")
            if self.__dict__["_class_file"] is not None:
                classes = classes.with_names_from(self.__dict__["_class_file"])
            self.__dict__["_classes"] = classes
            self.__dict__.update(classes.metadata_fields())
        return self.__dict__["_classes"]

    def set_class_file(self, path: str | Path) -> None:
        """Name the classes by `path` (an `id:name,syn` file with exactly the dataset's ids); checked now. A file
        that fails the check leaves the metadata as it was."""
        saved = {key: self.__dict__[key] for key in ("_class_file", "_classes", *CLASS_FIELDS) if key in self.__dict__}
        self.__dict__["_class_file"] = Path(path)
        self.__dict__["_classes"] = None
        for key in CLASS_FIELDS:
            self.__dict__.pop(key, None)
        try:
            self.classes()
        except BaseException:
            for key in ("_class_file", "_classes", *CLASS_FIELDS):
                self.__dict__.pop(key, None)
            self.__dict__.update(saved)
            raise

    def as_dict(self) -> dict[str, Any]:
        self.classes()
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def parse_class_file_override(entry: str) -> tuple[str, Path]:
    """Split a DATASETS.CLASS_FILE_OVERRIDES entry "dataset_name=path/to/classes.txt"."""
    name, sep, path = entry.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise ValueError(
            f"DATASETS.CLASS_FILE_OVERRIDES entry {entry!r} must read 'dataset_name=path/to/classes.txt'"
        )
    return name.strip(), Path(path.strip())


def apply_class_file_overrides(cfg) -> None:
    """Apply every DATASETS.CLASS_FILE_OVERRIDES entry; call once after the config is loaded.

    The file's ids must be exactly the dataset's ids (checked now); names and synonyms replace the
    dataset's own, the class order and the thing/stuff split stay.
    """
    for entry in cfg.DATASETS.CLASS_FILE_OVERRIDES:
        name, path = parse_class_file_override(entry)
        if name not in DatasetCatalog.list():
            known = sorted(n for n in DatasetCatalog.list() if n.startswith("gpa_"))
            raise KeyError(f"DATASETS.CLASS_FILE_OVERRIDES names dataset '{name}', which is not registered; "
                           f"registered gpa datasets: {known}")
        metadata = MetadataCatalog.get(name)
        if not isinstance(metadata, ClassMetadata):
            raise TypeError(f"dataset '{name}' was not registered through gpa's register functions, so its "
                            "classes cannot be overridden; register it with gpa.data.register_*_format")
        metadata.set_class_file(path)


def resolve_vocabulary(source: str) -> Vocabulary:
    """A vocabulary from a registered dataset's metadata or from an `id:name,...` class file.

    A class file gives names only, so its classes are things (Vocabulary's default).
    """
    if source in DatasetCatalog.list():
        metadata = MetadataCatalog.get(source)
        if not hasattr(metadata, "vocabulary"):
            raise ValueError(f"dataset {source!r} has no 'vocabulary' in its metadata; register it with gpa.data")
        return metadata.vocabulary
    if Path(source).is_file():
        return Vocabulary.from_synonyms(synonyms for _, synonyms in read_class_file(source))
    raise ValueError(
        f"vocabulary source {source!r} is neither a registered dataset nor an existing class file; "
        "give a dataset name (see datasets/README.md) or a path to an `id:name,synonym,...` file"
    )
