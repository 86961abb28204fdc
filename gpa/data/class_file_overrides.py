"""DATASETS.CLASS_FILE_OVERRIDES: rename a registered dataset's classes with a class file."""
from __future__ import annotations

from pathlib import Path

from detectron2.data import DatasetCatalog, MetadataCatalog

from .class_metadata import ClassMetadata

__all__ = ["apply_class_file_overrides", "parse_class_file_override"]


def parse_class_file_override(entry: str) -> tuple[str, Path]:
    """Split a "dataset_name=path/to/classes.txt" entry."""
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
