"""The union of several vocabularies, with classes that name the same thing merged: gpa's one merge rule,
used for the builtin "large" vocabulary and for the training vocabulary of several training datasets.

Rule (deterministic, order-dependent by design):
1. Sources are taken in order; within a source, a class is first matched to an existing merged class with
   the same display name (case-insensitive), then, failing that, to one where the display name of either
   is a name of the other ("sofa" matches "couch,sofa"). A merged class takes at most one class of each
   source, so two classes of one list never collapse into one (ADE20K's "stool" stays apart from its
   "toilet,...,stool,...").
2. Unmatched classes become new classes; a class's thing/stuff flag is that of its first source.
3. Names are then made unique: a display name belongs only to its own class (it is dropped from the other
   classes' synonyms), and any other name shared by several classes stays with the first of them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .vocabulary import Vocabulary

__all__ = ["merge_vocabularies"]


@dataclass
class _MergedClass:
    names: list[str]  # display name first
    is_thing: bool
    sources: set[int] = field(default_factory=set)

    @property
    def display(self) -> str:
        return self.names[0].lower()

    def lowered(self) -> set[str]:
        return {n.lower() for n in self.names}

    def add(self, synonyms: Sequence[str], source: int) -> None:
        known = self.lowered()
        self.names.extend(s for s in synonyms if s.lower() not in known)
        self.sources.add(source)


def _same_display(merged: _MergedClass, synonyms: Sequence[str]) -> bool:
    return merged.display == synonyms[0].lower()


def _display_in_other(merged: _MergedClass, synonyms: Sequence[str]) -> bool:
    return synonyms[0].lower() in merged.lowered() or merged.display in {s.lower() for s in synonyms}


# Matching passes, in order: exact display names first, so a synonym match never steals the class that a
# later class of the same source names exactly.
_MATCH_PASSES: tuple[Callable[[_MergedClass, Sequence[str]], bool], ...] = (_same_display, _display_in_other)


def merge_vocabularies(sources: Sequence[Vocabulary]) -> Vocabulary:
    """One vocabulary holding every class of `sources`, duplicates merged (see the module doc for the rule)."""
    if not sources:
        raise ValueError("merge_vocabularies needs at least one vocabulary")
    merged: list[_MergedClass] = []
    for index, vocabulary in enumerate(sources):
        pending = list(zip(vocabulary.classes, vocabulary.is_thing))
        for matches in _MATCH_PASSES:
            unmatched = []
            for synonyms, thing in pending:
                target = next((m for m in merged if index not in m.sources and matches(m, synonyms)), None)
                if target is None:
                    unmatched.append((synonyms, thing))
                else:
                    target.add(synonyms, index)
            pending = unmatched
        for synonyms, thing in pending:
            new = _MergedClass([synonyms[0]], bool(thing))
            new.add(synonyms, index)
            merged.append(new)

    displays = {m.display for m in merged}
    taken: set[str] = set()
    classes = []
    for m in merged:
        names = [m.names[0]]
        for name in m.names[1:]:
            key = name.lower()
            if key not in displays and key not in taken:
                names.append(name)
                taken.add(key)
        classes.append(tuple(names))
    return Vocabulary(tuple(classes), tuple(m.is_thing for m in merged))
