"""User vocabularies (parsing, errors), builtin vocabularies by name, and the merge behind "large"."""

from __future__ import annotations

import pytest

import gpa  # noqa: F401  (registers the datasets whose class sources the builtins share)
from gpa.data.datasets.class_sources import CLASS_FILES, ade20k_150_classes
from gpa.data.vocabulary import Vocabulary
from gpa.inference import (
    BUILTIN_VOCABULARIES,
    builtin_vocabulary,
    make_vocabulary,
    merge_vocabularies,
    parse_vocabulary_string,
    read_vocabulary_file,
)

# ------------------------------------------------------------------ user vocabularies


def test_vocabulary_string_splits_classes_on_semicolons_and_keeps_synonyms():
    assert parse_vocabulary_string(" car,automobile ; person;sky ") == ["car,automobile", "person", "sky"]


@pytest.mark.parametrize("text, message", [
    ("", "--vocabulary is empty"),
    ("   ", "--vocabulary is empty"),
    ("cat;;dog", "empty class at position 1"),
    ("cat;dog;", "empty class at position 2"),
])
def test_vocabulary_string_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_vocabulary_string(text)


def test_user_classes_are_things_unless_named_stuff():
    vocabulary = make_vocabulary(["car,automobile", "Sky", "road"], stuff=["sky", "ROAD"])
    assert vocabulary.classes == (("car", "automobile"), ("Sky",), ("road",))
    assert vocabulary.is_thing == (True, False, False)


@pytest.mark.parametrize("classes, error, message", [
    ([], ValueError, "vocabulary is empty"),
    ("car;person", TypeError, "must be a list of class names"),
    (["cat", "Cat"], ValueError, "duplicate class name 'Cat'.*class 0 \\('cat'\\) and class 1"),
    (["car,automobile", "automobile,auto"], ValueError, "duplicate class name 'automobile'"),
    (["cat", ""], ValueError, "vocabulary class 1: class '' has an empty name"),
    (["cat", 3], TypeError, "vocabulary class 1 must be a string"),
])
def test_bad_user_vocabularies_are_explained(classes, error, message):
    with pytest.raises(error, match=message):
        make_vocabulary(classes)


def test_stuff_must_name_a_class():
    with pytest.raises(ValueError, match="stuff names 'grass'.*\\['cat', 'sky'\\]"):
        make_vocabulary(["cat", "sky"], stuff=["grass"])
    with pytest.raises(TypeError, match="stuff must be a list"):
        make_vocabulary(["cat", "sky"], stuff="sky")


def test_vocabulary_file_uses_the_class_file_format(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("# mine\n0:car,automobile\n\n7:sky\n", encoding="utf-8")
    assert read_vocabulary_file(path) == ["car,automobile", "sky"]
    path.write_text("car\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected `id:name,synonym,...`"):
        read_vocabulary_file(path)


# ------------------------------------------------------------------ builtin vocabularies


def test_builtin_vocabularies_without_dataset_files():
    sizes = {name: (len(v), sum(v.is_thing)) for name in ("coco", "ade20k_150", "cityscapes", "pascal_context_59",
                                                            "pascal_voc_21", "pascal_voc_20", "large")
             for v in [builtin_vocabulary(name)]}
    assert sizes == {
        "coco": (133, 80), "ade20k_150": (150, 100), "cityscapes": (19, 8), "pascal_context_59": (59, 0),
        "pascal_voc_21": (21, 0), "pascal_voc_20": (20, 0), "large": (234, 143),
    }
    assert {n for n, b in BUILTIN_VOCABULARIES.items() if not b.needs_dataset} == set(sizes)


def test_coco_builtin_is_the_registered_dataset_vocabulary():
    from detectron2.data import MetadataCatalog

    assert builtin_vocabulary("coco") == MetadataCatalog.get("gpa_coco_panoptic_val").vocabulary


def test_ade20k_150_file_matches_the_release_list_read_by_the_loader(tmp_path):
    """Written back as objectInfo150.txt (Idx 1..150, "name, synonym"), the loader reads the same classes."""
    vocabulary = builtin_vocabulary("ade20k_150")
    rows = ["Idx\tRatio\tTrain\tVal\tName"]
    rows += [f"{i + 1}\t0.01\t1\t1\t{', '.join(names)}" for i, names in enumerate(vocabulary.classes)]
    (tmp_path / "objectInfo150.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    loaded = ade20k_150_classes(tmp_path, "test")
    assert loaded.dataset_ids == tuple(range(150))
    assert loaded.vocabulary.classes == vocabulary.classes
    names = vocabulary.names
    # label ids of the benchmark (0-based: Idx - 1)
    assert (names[0], names[2], names[12], names[20], names[65], names[149]) == (
        "wall", "sky", "person", "car", "toilet", "flag")
    assert vocabulary.classes[12][1:3] == ("individual", "someone")
    things = {n for n, t in zip(names, vocabulary.is_thing) if t}
    assert {"person", "car", "bed", "chair", "flag", "windowpane"} <= things
    assert not {"wall", "sky", "floor", "road", "grass", "tree"} & things
    assert (CLASS_FILES / "ade20k_150.txt").is_file()


def test_dataset_only_vocabularies_name_the_missing_file_and_the_readme(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="classes_847.txt does not exist.*datasets/README.md"):
        builtin_vocabulary("ade20k_847")
    folder = tmp_path / "ADE20K_2021_17_01"
    folder.mkdir()
    (folder / "classes_847.txt").write_text("0:wall\n1:floor,flooring\n2:tree\n", encoding="utf-8")
    assert builtin_vocabulary("ade20k_847").classes == (("wall",), ("floor", "flooring"), ("tree",))


def test_unknown_builtin_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown builtin vocabulary 'cocoa'.*coco.*ade20k_150.*large"):
        builtin_vocabulary("cocoa")


# ------------------------------------------------------------------ merging


def _vocab(*classes: str, things: str = "") -> Vocabulary:
    return Vocabulary.from_strings(classes, [c.split(",")[0] in things.split(";") for c in classes])


def test_merge_joins_equal_display_names_and_mutual_synonyms():
    a = _vocab("person,people", "couch,sofa", "sky", things="person;couch")
    b = _vocab("Person,individual", "sofa,couch,lounge", "road")
    merged = merge_vocabularies([a, b])
    assert merged.classes == (("person", "people", "individual"), ("couch", "sofa", "lounge"), ("sky",), ("road",))
    assert merged.is_thing == (True, True, False, False)  # the first source's flag


def test_merge_never_joins_two_classes_of_one_source_and_gives_display_names_precedence():
    a = _vocab("toilet")
    b = _vocab("toilet,can,stool", "stool", "earth,ground")
    c = _vocab("ground", "dirt,ground")
    merged = merge_vocabularies([a, b, c])
    # "stool" stays its own class (toilet already took b's "toilet"), and its name leaves toilet's synonyms;
    # c's "ground" joins "earth" (one of its names); "dirt,ground" is new and loses "ground" to the first owner
    assert merged.classes == (("toilet", "can"), ("stool",), ("earth", "ground"), ("dirt",))


def test_large_has_no_name_in_two_classes():
    large = builtin_vocabulary("large")
    names = [n.lower() for synonyms in large.classes for n in synonyms]
    assert len(names) == len(set(names))
    by_name = {synonyms[0]: synonyms for synonyms in large.classes}
    assert by_name["couch"] == ("couch", "sofa", "lounge")  # COCO, ADE20K, Pascal merged
    assert "rider" in by_name and "vegetation" in by_name  # Cityscapes-only classes are kept
