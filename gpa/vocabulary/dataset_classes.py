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
    def from_entries(
        cls, entries: Iterable[tuple[int, Sequence[str]]], is_thing: Sequence[bool] | None = None
    ) -> DatasetClasses:
        """From (dataset id, names) pairs in contiguous order; things unless `is_thing` (Vocabulary's default)."""
        entries = list(entries)
        return cls(tuple(i for i, _ in entries), Vocabulary.from_synonyms((n for _, n in entries), is_thing))

    @classmethod
    def from_categories(cls, categories: Iterable[Mapping[str, Any]], where: str = "categories") -> DatasetClasses:
        """From COCO-style category dicts ("id", "name" as "name,syn,...", "isthing" 0 or 1), order kept.

        "isthing" is the category's own thing/stuff flag and must be given (COCO's panoptic format has it).
        """
        entries, things = [], []
        for index, category in enumerate(categories):
            missing = [k for k in ("id", "name", "isthing") if k not in category]
            if missing:
                raise ValueError(f"{where}: category {index} lacks {missing}; each needs 'id', 'name' and 'isthing' "
                                 "(1 for a thing, 0 for stuff), as in COCO's panoptic format")
            names = parse_class_string(str(category["name"]), f"{where}: category {category['id']}")
            entries.append((int(category["id"]), names))
            things.append(bool(category["isthing"]))
        if not entries:
            raise ValueError(f"{where}: no categories")
        return cls.from_entries(entries, things)

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
        return DatasetClasses(self.dataset_ids, self.vocabulary.all_stuff())

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
