"""Toy dataset files: COCO panoptic format consistency, determinism, the unseen split, and the cache folder."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from panopticapi.utils import rgb2id
from PIL import Image
from pycocotools import mask as mask_utils

from gpa_toy import cache
from gpa_toy.generate import IGNORE_LABEL, generate_toy_split, split_paths
from gpa_toy.world import SEEN_THINGS, STUFF_CLASSES, THING_CLASSES, UNSEEN_THINGS

SMALL = {
    "train": cache.ToySplit(num_images=6, image_size=64, seed=5, include_unseen=False),
    "val": cache.ToySplit(num_images=4, image_size=64, seed=6, include_unseen=True),
}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def train_split(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toy")
    generate_toy_split(root, "train", num_images=12, image_size=64, seed=0, classes_allowed=SEEN_THINGS)
    return split_paths(root, "train")


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_toy_split(tmp_path / name, "val", num_images=3, image_size=64, seed=seed,
                           classes_allowed=THING_CLASSES)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert len(a) == 3 * 3 + 2 and a == b
    assert a.keys() == c.keys() and a["val/images/000000.png"] != c["val/images/000000.png"]


def test_panoptic_png_matches_json_segments(train_split):
    panoptic = json.loads(train_split["panoptic_json"].read_text())
    assert len(panoptic["images"]) == len(panoptic["annotations"]) == 12
    for ann in panoptic["annotations"]:
        ids = rgb2id(np.asarray(Image.open(train_split["panoptic_root"] / ann["file_name"]).convert("RGB")))
        segments = {s["id"]: s for s in ann["segments_info"]}
        assert set(np.unique(ids)) == set(segments)  # no void pixel, no segment without pixels
        things = [s for s in segments.values() if s["category_id"] <= len(THING_CLASSES)]
        assert 1 <= len(things) <= 4
        for seg_id, seg in segments.items():
            mask = ids == seg_id
            ys, xs = np.nonzero(mask)
            assert seg["area"] == mask.sum()
            assert seg["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert seg["iscrowd"] == 0


def test_semantic_png_agrees_with_panoptic(train_split):
    panoptic = json.loads(train_split["panoptic_json"].read_text())
    category_ids = sorted(c["id"] for c in panoptic["categories"])
    for ann in panoptic["annotations"]:
        ids = rgb2id(np.asarray(Image.open(train_split["panoptic_root"] / ann["file_name"]).convert("RGB")))
        semantic = np.asarray(Image.open(train_split["sem_seg_root"] / ann["file_name"]))
        assert semantic.dtype == np.uint8
        expected = np.full(ids.shape, IGNORE_LABEL)
        for seg in ann["segments_info"]:
            expected[ids == seg["id"]] = category_ids.index(seg["category_id"])
        np.testing.assert_array_equal(semantic, expected)


def test_instances_json_rles_equal_panoptic_thing_masks(train_split):
    panoptic = json.loads(train_split["panoptic_json"].read_text())
    instances = json.loads(train_split["instances_json"].read_text())
    assert {c["id"] for c in instances["categories"]} == {c.id for c in SEEN_THINGS}
    by_image: dict[int, list[dict]] = {}
    for ann in instances["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    for ann in panoptic["annotations"]:
        ids = rgb2id(np.asarray(Image.open(train_split["panoptic_root"] / ann["file_name"]).convert("RGB")))
        things = [s for s in ann["segments_info"] if s["category_id"] <= len(THING_CLASSES)]
        got = by_image.get(ann["image_id"], [])
        assert [g["category_id"] for g in got] == [s["category_id"] for s in things]
        for g, seg in zip(got, things):
            np.testing.assert_array_equal(mask_utils.decode(g["segmentation"]).astype(bool), ids == seg["id"])
            assert g["area"] == seg["area"] and g["bbox"] == seg["bbox"]


def test_train_split_never_shows_or_names_unseen_classes(train_split):
    unseen = {c.id for c in UNSEEN_THINGS}
    panoptic = json.loads(train_split["panoptic_json"].read_text())
    assert not unseen & {c["id"] for c in panoptic["categories"]}
    assert not {c.name for c in UNSEEN_THINGS} & {c["name"] for c in panoptic["categories"]}
    assert len(panoptic["categories"]) == len(SEEN_THINGS) + len(STUFF_CLASSES)
    used = {s["category_id"] for a in panoptic["annotations"] for s in a["segments_info"]}
    assert used and not used & unseen


def test_categories_carry_coco_fields(train_split):
    categories = json.loads(train_split["panoptic_json"].read_text())["categories"]
    green_star = next(c for c in categories if c["name"] == "green star")
    expected = {"id": 28, "name": "green star", "isthing": 1, "color": [30, 170, 55], "supercategory": "shape"}
    assert green_star == expected
    stripes = next(c for c in categories if c["name"] == "stripes")
    assert stripes["isthing"] == 0 and stripes["id"] == 65


def test_generate_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="classes_allowed is empty"):
        generate_toy_split(tmp_path, "x", 1, 64, 0, [])
    with pytest.raises(ValueError, match="textures"):
        generate_toy_split(tmp_path, "x", 1, 64, 0, [STUFF_CLASSES[0]])
    with pytest.raises(ValueError, match="num_images"):
        generate_toy_split(tmp_path, "x", 0, 64, 0, THING_CLASSES)


def test_ensure_generates_once_then_reuses(tmp_path):
    root = cache.ensure_toy_dataset(tmp_path / "toy", SMALL)
    marker = root / cache.MARKER_FILE
    assert json.loads(marker.read_text())["fingerprint"] == cache.toy_fingerprint(SMALL)
    assert len(list(split_paths(root, "train")["image_root"].iterdir())) == 6
    stamp = marker.stat().st_mtime_ns
    assert cache.ensure_toy_dataset(tmp_path / "toy", SMALL) == root and marker.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]  # no temporary folder left behind


def test_ensure_regenerates_when_parameters_change(tmp_path):
    cache.ensure_toy_dataset(tmp_path / "toy", SMALL)
    bigger = {**SMALL, "val": cache.ToySplit(num_images=5, image_size=64, seed=6, include_unseen=True)}
    root = cache.ensure_toy_dataset(tmp_path / "toy", bigger)
    assert len(list(split_paths(root, "val")["image_root"].iterdir())) == 5
    assert json.loads((root / cache.MARKER_FILE).read_text())["fingerprint"] == cache.toy_fingerprint(bigger)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]


def test_ensure_never_touches_a_foreign_folder(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="holds no toy dataset"):
        cache.ensure_toy_dataset(foreign, SMALL)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_default_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    assert cache.default_toy_root() == tmp_path / "toy"
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.default_toy_root() == Path.home() / ".cache" / "gpa" / "toy"


def _ensure(root: str) -> str:
    return json.loads((cache.ensure_toy_dataset(root, SMALL) / cache.MARKER_FILE).read_text())["fingerprint"]


def test_concurrent_processes_both_get_the_complete_dataset(tmp_path):
    with multiprocessing.get_context("fork").Pool(2) as pool:
        fingerprints = pool.map(_ensure, [str(tmp_path / "toy")] * 2)
    assert fingerprints == [cache.toy_fingerprint(SMALL)] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]
    assert len(list(split_paths(tmp_path / "toy", "train")["image_root"].iterdir())) == 6


def test_a_copy_finished_first_by_another_process_wins(tmp_path):
    root = cache.ensure_toy_dataset(tmp_path / "toy", SMALL)
    before = _files(root)
    late = tmp_path / ".toy.tmp-late"
    late.mkdir()
    (late / "partial").write_text("another process's copy")
    cache._move_into_place(late, root, cache.toy_fingerprint(SMALL), "late")
    assert _files(root) == before and late.exists()  # the caller removes its own copy
