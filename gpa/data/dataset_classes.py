"""A dataset's classes: its own class ids in contiguous order, and the vocabulary naming them."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .vocabulary import Vocabulary, parse_class_string, read_class_file

__all__ = ["DatasetClasses"]


@dataclass(frozen=True)
class DatasetClasses:
    """Class `i` of the contiguous order has the dataset id `dataset_ids[i]` and the names `vocabulary.classes[i]`.

    The contiguous order is the one the model predicts in and semantic label files are written in.
    """

    dataset_ids: tuple[int, ...]
    vocabulary: Vocabulary

    def __post_init__(self) -> None:
        if len(self.dataset_ids) != len(self.vocabulary):
            raise ValueError(f"{len(self.dataset_ids)} dataset ids for {len(self.vocabulary)} classes")
        seen: set[int] = set()
        for class_id in self.dataset_ids:
            if class_id in seen:
                raise ValueError(f"dataset id {class_id} appears twice; every class needs its own id")
            seen.add(class_id)

    def __len__(self) -> int:
        return len(self.dataset_ids)

    @classmethod
    def from_categories(cls, categories: Iterable[Mapping[str, Any]], where: str = "categories") -> DatasetClasses:
        """From COCO-style category dicts ("id", "name" as "name,syn,...", optional "isthing"), order kept."""
        ids, names, things = [], [], []
        for index, category in enumerate(categories):
            missing = [k for k in ("id", "name") if k not in category]
            if missing:
                raise ValueError(f"{where}: category {index} lacks {missing}; each needs 'id' and 'name'")
            ids.append(int(category["id"]))
            names.append(parse_class_string(str(category["name"]), f"{where}: category {category['id']}"))
            things.append(bool(category.get("isthing", 0)))
        if not ids:
            raise ValueError(f"{where}: no categories")
        return cls(tuple(ids), Vocabulary(tuple(names), tuple(things)))

    @classmethod
    def from_class_file(cls, path: str | Path, is_thing: Sequence[bool] | None = None) -> DatasetClasses:
        """From an `id:name,syn,...` file; file order is the contiguous order; all stuff unless `is_thing`."""
        entries = read_class_file(path)
        things = tuple(bool(t) for t in is_thing) if is_thing is not None else (False,) * len(entries)
        if len(things) != len(entries):
            raise ValueError(f"class file {path}: {len(entries)} classes but {len(things)} is_thing flags")
        return cls(tuple(i for i, _ in entries), Vocabulary(tuple(n for _, n in entries), things))

    def with_names_from(self, path: str | Path) -> DatasetClasses:
        """Replace names and synonyms by those of a class file whose ids are exactly this dataset's ids.

        The contiguous order and the thing/stuff split stay the dataset's own.
        """
        entries = dict(read_class_file(path))
        missing = sorted(set(self.dataset_ids) - set(entries))
        extra = sorted(set(entries) - set(self.dataset_ids))
        if missing or extra:
            raise ValueError(
                f"class file {path} must define exactly the dataset's {len(self)} class ids "
                f"({min(self.dataset_ids)}..{max(self.dataset_ids)}); missing ids: {missing[:10]}"
                f"{' ...' if len(missing) > 10 else ''}; unknown ids: {extra[:10]}{' ...' if len(extra) > 10 else ''}"
            )
        names = tuple(entries[i] for i in self.dataset_ids)
        return DatasetClasses(self.dataset_ids, Vocabulary(names, self.vocabulary.is_thing))

    def all_stuff(self) -> DatasetClasses:
        """The same classes with no thing class (semantic benchmarks have no instances)."""
        return DatasetClasses(self.dataset_ids, Vocabulary(self.vocabulary.classes, (False,) * len(self)))

    def metadata_fields(self) -> dict[str, Any]:
        """detectron2 metadata of these classes, in Mask2Former's convention.

        `stuff_classes` and `stuff_dataset_id_to_contiguous_id` cover all classes; the thing fields cover the
        things only, mapping to their index in the full contiguous order.
        """
        vocab = self.vocabulary
        return {
            "vocabulary": vocab,
            "stuff_classes": vocab.names,
            "thing_classes": [n for n, t in zip(vocab.names, vocab.is_thing) if t],
            "stuff_dataset_id_to_contiguous_id": {d: i for i, d in enumerate(self.dataset_ids)},
            "thing_dataset_id_to_contiguous_id": {
                d: i for i, (d, t) in enumerate(zip(self.dataset_ids, vocab.is_thing)) if t
            },
        }
