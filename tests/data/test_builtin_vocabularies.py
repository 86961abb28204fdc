"""Named vocabularies of the builtin benchmarks: sizes and splits, one source with the datasets, the "large" union."""

from __future__ import annotations

import pytest

import gpa  # noqa: F401  (registers the datasets whose class sources the builtins share)
from gpa.data import BUILTIN_VOCABULARIES, builtin_vocabulary
from gpa.data.datasets.class_sources import CLASS_FILES, ade20k_150_classes


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



def test_large_has_no_name_in_two_classes():
    large = builtin_vocabulary("large")
    names = [n.lower() for synonyms in large.classes for n in synonyms]
    assert len(names) == len(set(names))
    by_name = {synonyms[0]: synonyms for synonyms in large.classes}
    assert by_name["couch"] == ("couch", "sofa", "lounge")  # COCO, ADE20K, Pascal merged
    assert "rider" in by_name and "vegetation" in by_name  # Cityscapes-only classes are kept
