"""The Vocabulary: an ordered list of classes, each its names (display name first) and a thing/stuff flag.

A class is written "name,synonym,synonym"; the first name is the display name. A class
file has one `id:name,syn,...` line per class (blank lines and `#` comments allowed).
The rules every vocabulary follows are in the package doc (gpa/vocabulary/__init__.py).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gpa.files import read_text

__all__ = ["Vocabulary", "parse_class_string", "read_class_file"]


def parse_class_string(text: str, where: str = "vocabulary") -> tuple[str, ...]:
    """Split "name,syn,syn" into stripped synonyms; fail on empty names."""
    synonyms = tuple(s.strip() for s in text.split(","))
    if not synonyms or any(not s for s in synonyms):
        raise ValueError(f"{where}: class {text!r} has an empty name; write it as 'name' or 'name,synonym,...'")
    return synonyms


def read_class_file(path: str | Path) -> list[tuple[int, tuple[str, ...]]]:
    """Read an `id:name,syn,...` class file into (id, synonyms) pairs in file order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class file {path} does not exist; write one `id:name,synonym,...` line per class")
    entries: list[tuple[int, tuple[str, ...]]] = []
    seen: dict[int, int] = {}
    for lineno, raw in enumerate(read_text(path, "class file").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        key, sep, names = line.partition(":")
        if not sep:
            raise ValueError(f"{where}: expected `id:name,synonym,...`, got {raw!r}")
        try:
            class_id = int(key)
        except ValueError:
            raise ValueError(f"{where}: class id {key!r} is not an integer (line {raw!r})") from None
        if class_id in seen:
            raise ValueError(f"{where}: class id {class_id} already defined on line {seen[class_id]}")
        seen[class_id] = lineno
        entries.append((class_id, parse_class_string(names, where)))
    if not entries:
        raise ValueError(f"class file {path} defines no classes")
    return entries


@dataclass(frozen=True)
class Vocabulary:
    """An ordered list of classes, each a tuple of synonyms, and which classes are things."""

    classes: tuple[tuple[str, ...], ...]
    is_thing: tuple[bool, ...]

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("a vocabulary needs at least one class; got an empty list")
        if len(self.is_thing) != len(self.classes):
            raise ValueError(f"is_thing has {len(self.is_thing)} entries for {len(self.classes)} classes")
        first_seen: dict[str, int] = {}
        for index, synonyms in enumerate(self.classes):
            if not synonyms or any(not s.strip() for s in synonyms):
                raise ValueError(f"class {index} of the vocabulary has an empty name: {synonyms!r}")
            name = synonyms[0].lower()
            if name in first_seen:
                raise ValueError(
                    f"duplicate class name {synonyms[0]!r} (classes {first_seen[name]} and {index}); "
                    "merge them into one class with synonyms: 'name,synonym'"
                )
            first_seen[name] = index

    @classmethod
    def from_synonyms(
        cls, classes: Iterable[Sequence[str]], is_thing: Sequence[bool] | None = None
    ) -> Vocabulary:
        """Build from each class's names; the one thing/stuff default: classes are things unless `is_thing`
        (the source's own split) says otherwise. A source with no instances passes all False (`all_stuff`)."""
        parsed = tuple(tuple(synonyms) for synonyms in classes)
        if is_thing is None:
            return cls(parsed, (True,) * len(parsed))
        return cls(parsed, tuple(bool(t) for t in is_thing))

    @classmethod
    def from_strings(cls, classes: Iterable[str], is_thing: Sequence[bool] | None = None) -> Vocabulary:
        """Build from "name,syn" strings, with the default of `from_synonyms`."""
        return cls.from_synonyms((parse_class_string(c) for c in classes), is_thing)

    @property
    def names(self) -> list[str]:
        """Display names: the first synonym of each class."""
        return [synonyms[0] for synonyms in self.classes]

    @property
    def strings(self) -> list[str]:
        """Classes as "name,syn,syn" strings (the class-file form)."""
        return [",".join(synonyms) for synonyms in self.classes]

    def __len__(self) -> int:
        return len(self.classes)

    def all_stuff(self) -> Vocabulary:
        """The same classes, none a thing (a semantic benchmark's classes: it has no instances)."""
        return Vocabulary(self.classes, (False,) * len(self))

    def seen_mask(self, train: Vocabulary) -> list[bool]:
        """For each class, whether any of its synonyms names a class of `train` (case-insensitive)."""
        train_names = {s.lower() for synonyms in train.classes for s in synonyms}
        return [any(s.lower() in train_names for s in synonyms) for synonyms in self.classes]
