"""Generic COCO-panoptic-format registration on the synthetic writer's output."""
import json

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image
from pycocotools import mask as mask_utils

from gpa.data import register_coco_panoptic_format
from gpa.vocabulary import DatasetClasses
from tests.synthetic import register_written_coco_panoptic, write_coco_panoptic


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return write_coco_panoptic(tmp_path_factory.mktemp("d") / "coco", num_images=3)


def _register(name, paths, **kwargs):
    register_written_coco_panoptic(name, paths, replace=True, **kwargs)


def _ids(png):
    rgb = np.asarray(Image.open(png), dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def test_records_and_metadata(coco):
    _register("test_reg_coco", coco)
    meta = MetadataCatalog.get("test_reg_coco")
    assert meta.stuff_classes == ["person", "car", "dog", "road", "tree-merged", "sky-other-merged"]
    assert meta.thing_classes == ["person", "car", "dog"]
    assert meta.thing_dataset_id_to_contiguous_id == {1: 0, 3: 1, 18: 2}
    assert meta.stuff_dataset_id_to_contiguous_id[187] == 5
    assert meta.vocabulary.is_thing == (True, True, True, False, False, False)
    assert meta.json_file == str(coco["instances_json"]) and meta.label_divisor == 1000

    records = DatasetCatalog.get("test_reg_coco")
    assert len(records) == 3
    for rec in records:
        assert rec["dataset_name"] == "test_reg_coco"
        assert (rec["height"], rec["width"]) == (64, 96)
        ids = _ids(rec["pan_seg_file_name"])
        sem = np.asarray(Image.open(rec["sem_seg_file_name"]))
        for seg in rec["segments_info"]:
            assert seg["isthing"] == (seg["category_id"] < 3)
            # the semantic label (contiguous ids) agrees with the panoptic segment's contiguous class
            assert set(np.unique(sem[ids == seg["id"]])) == {seg["category_id"]}
        assert set(np.unique(sem[ids == 0])) <= {255}


def test_instances_json_matches_panoptic_things(coco):
    instances = json.loads(coco["instances_json"].read_text())
    panoptic = json.loads(coco["panoptic_json"].read_text())
    assert {c["id"] for c in instances["categories"]} == {1, 3, 18}
    first = panoptic["annotations"][0]
    ids = _ids(coco["panoptic_root"] / first["file_name"])
    things = [s for s in first["segments_info"] if s["category_id"] in (1, 3, 18)]
    anns = [a for a in instances["annotations"] if a["image_id"] == first["image_id"]]
    assert len(anns) == len(things)
    for ann, seg in zip(anns, things):
        np.testing.assert_array_equal(mask_utils.decode(ann["segmentation"]).astype(bool), ids == seg["id"])
        assert ann["iscrowd"] == seg["iscrowd"] and ann["bbox"] == seg["bbox"]


def test_registration_does_not_touch_disk_and_loading_names_the_missing_path(tmp_path):
    missing = tmp_path / "nowhere"
    register_coco_panoptic_format(
        "test_reg_missing", image_root=missing / "img", panoptic_root=missing / "pan",
        panoptic_json=missing / "pan.json", hints={"panoptic_json": "run datasets/prepare_x.py"}, replace=True,
    )
    with pytest.raises(FileNotFoundError, match=r"test_reg_missing.*pan\.json.*prepare_x\.py.*datasets/README\.md"):
        DatasetCatalog.get("test_reg_missing")
    with pytest.raises(FileNotFoundError, match="pan.json"):
        _ = MetadataCatalog.get("test_reg_missing").stuff_classes  # classes come from the missing JSON


def test_explicit_classes_and_duplicate_name(coco):
    cats = json.loads(coco["panoptic_json"].read_text())["categories"]
    cats = [dict(c, name=c["name"].split("-")[0] + ",syn") for c in cats]
    _register("test_reg_explicit", coco, classes=DatasetClasses.from_categories(cats))
    assert MetadataCatalog.get("test_reg_explicit").vocabulary.classes[4] == ("tree", "syn")
    with pytest.raises(ValueError, match="already registered"):
        register_coco_panoptic_format("test_reg_explicit", image_root="a", panoptic_root="b", panoptic_json="c")


def test_unknown_category_in_annotations_is_an_error(coco, tmp_path):
    data = json.loads(coco["panoptic_json"].read_text())
    bad = tmp_path / "bad.json"
    data["categories"] = [c for c in data["categories"] if c["id"] != 1]
    bad.write_text(json.dumps(data))
    register_coco_panoptic_format("test_reg_bad", image_root=coco["image_root"], panoptic_root=coco["panoptic_root"],
                                  panoptic_json=bad, replace=True)
    with pytest.raises(ValueError, match="category id 1, which is not one of the dataset's 5 classes"):
        DatasetCatalog.get("test_reg_bad")
