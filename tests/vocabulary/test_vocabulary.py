"""gpa.vocabulary's rules: user vocabularies (parsing, errors), the one thing/stuff default, the one merge rule."""

from __future__ import annotations

import pytest

from gpa.vocabulary import (
    DatasetClasses,
    Vocabulary,
    make_vocabulary,
    merge_vocabularies,
    parse_vocabulary_string,
    read_vocabulary_file,
    resolve_vocabulary,
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


# ------------------------------------------------------------------ thing or stuff: one default


def test_classes_given_by_names_are_things_unless_their_source_says_otherwise():
    assert Vocabulary.from_strings(["cat", "sky"]).is_thing == (True, True)
    assert Vocabulary.from_synonyms([("cat", "kitty"), ("sky",)], [True, False]).is_thing == (True, False)
    assert DatasetClasses.from_entries([(3, ("cat",)), (9, ("sky",))]).vocabulary.is_thing == (True, True)
    stuff = DatasetClasses.from_entries([(3, ("cat",)), (9, ("sky",))]).all_stuff()  # a semantic benchmark
    assert stuff.dataset_ids == (3, 9) and stuff.vocabulary.is_thing == (False, False)
    with pytest.raises(ValueError, match="is_thing has 1 entries for 2 classes"):
        Vocabulary.from_strings(["cat", "sky"], [True])


def test_a_class_file_given_as_a_vocabulary_names_things_and_as_a_semantic_dataset_stuff(tmp_path):
    from gpa.data.datasets.class_sources import class_file_classes

    path = tmp_path / "classes.txt"
    path.write_text("0:car,automobile\n1:sky\n", encoding="utf-8")
    vocabulary = resolve_vocabulary(str(path))
    assert vocabulary.classes == (("car", "automobile"), ("sky",)) and vocabulary.is_thing == (True, True)
    dataset = class_file_classes(path, "test_semantic")
    assert dataset.vocabulary.classes == vocabulary.classes and dataset.vocabulary.is_thing == (False, False)


def test_categories_must_say_whether_they_are_things():
    classes = DatasetClasses.from_categories([{"id": 7, "name": "sky", "isthing": 0}, {"id": 2, "name": "car,auto",
                                                                                         "isthing": 1}])
    assert classes.dataset_ids == (7, 2) and classes.vocabulary.classes == (("sky",), ("car", "auto"))
    assert classes.vocabulary.is_thing == (False, True)
    with pytest.raises(ValueError, match=r"my.json: category 1 lacks \['isthing'\].*1 for a thing, 0 for stuff"):
        DatasetClasses.from_categories([{"id": 7, "name": "sky", "isthing": 0}, {"id": 2, "name": "car"}], "my.json")


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
