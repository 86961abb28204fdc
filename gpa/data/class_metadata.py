"""detectron2 metadata whose class fields are read from the class source on first use.

Registering a builtin dataset must not touch the disk, yet some datasets name their classes in files
of the dataset itself (ADE20K's objectInfo150.txt, a panoptic JSON's categories). `ClassMetadata` keeps
the reader and runs it the first time a class field is asked for.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from detectron2.data.catalog import Metadata

from .dataset_classes import DatasetClasses

__all__ = ["CLASS_FIELDS", "ClassMetadata"]

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
