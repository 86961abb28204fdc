"""Vocabularies a user writes: class names with synonyms, things unless marked as stuff.

Python: a list of classes, each "name" or "name,synonym,..." (["car,automobile", "person"]).
Command line: one string, classes separated by ";" and synonyms by "," ("car,automobile;person").
User classes are things (one segment per object in panoptic results) unless named in `stuff`
(one segment per class, e.g. "sky", "road"): Vocabulary's one default. Every name, synonyms too, may
belong to one class only (benchmark lists may repeat a synonym; a user's list may not).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from .vocabulary import Vocabulary, parse_class_string, read_class_file

__all__ = ["make_vocabulary", "parse_vocabulary_string", "read_vocabulary_file"]

EXAMPLE = "e.g. ['car,automobile', 'person', 'sky']"


def parse_vocabulary_string(text: str, option: str = "--vocabulary") -> list[str]:
    """"car,automobile;person" -> ["car,automobile", "person"]; empty classes are errors."""
    if not text.strip():
        raise ValueError(f"{option} is empty; separate classes by ';' and synonyms by ',': 'car,automobile;person'")
    classes = [c.strip() for c in text.split(";")]
    for position, name in enumerate(classes):
        if not name:
            raise ValueError(
                f"{option} {text!r} has an empty class at position {position} (two ';' in a row, or a ';' at an end)"
            )
    return classes


def read_vocabulary_file(path: str | Path) -> list[str]:
    """Classes of an `id:name,synonym,...` class file (the format of gpa/data/class_files), in file order."""
    return [",".join(synonyms) for _, synonyms in read_class_file(path)]


def _check_unique_names(classes: Sequence[tuple[str, ...]]) -> None:
    owner: dict[str, int] = {}
    for index, synonyms in enumerate(classes):
        for name in synonyms:
            key = name.lower()
            if key in owner and owner[key] != index:
                first = owner[key]
                raise ValueError(
                    f"duplicate class name {name!r}: it appears in class {first} ({','.join(classes[first])!r}) and "
                    f"class {index} ({','.join(synonyms)!r}); merge them into one class with synonyms, "
                    "e.g. 'car,automobile'"
                )
            owner[key] = index


def make_vocabulary(classes: Sequence[str], stuff: Iterable[str] = ()) -> Vocabulary:
    """A Vocabulary from class strings ("name,synonym,..."); classes named in `stuff` are stuff, the rest things.

    `stuff` entries name a class by its display name (its first name), case-insensitively.
    """
    if isinstance(classes, str):
        raise TypeError(
            f"the vocabulary must be a list of class names ({EXAMPLE}), not the string {classes!r}; "
            "a string names a builtin vocabulary (see gpa.data.BUILTIN_VOCABULARIES)"
        )
    classes = list(classes)
    if not classes:
        raise ValueError(f"the vocabulary is empty; give at least one class name, {EXAMPLE}")
    for index, text in enumerate(classes):
        if not isinstance(text, str):
            raise TypeError(f"vocabulary class {index} must be a string 'name' or 'name,synonym', got {text!r}")
    parsed = tuple(parse_class_string(text, f"vocabulary class {index}") for index, text in enumerate(classes))
    _check_unique_names(parsed)

    if isinstance(stuff, str):
        raise TypeError(f"stuff must be a list of class names, not the string {stuff!r}; write stuff=[{stuff!r}]")
    display = {synonyms[0].lower(): index for index, synonyms in enumerate(parsed)}
    stuff_indices = set()
    for name in stuff:
        if name.strip().lower() not in display:
            raise ValueError(
                f"stuff names {name!r}, which is not a class of the vocabulary; its classes are "
                f"{[synonyms[0] for synonyms in parsed]} (name a class by its first name)"
            )
        stuff_indices.add(display[name.strip().lower()])
    return Vocabulary.from_synonyms(parsed, [index not in stuff_indices for index in range(len(parsed))])
