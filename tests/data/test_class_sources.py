"""Class lists: one source per dataset, ids checked against the label files, class-file overrides."""
import pytest
from detectron2.config import get_cfg
from detectron2.data import MetadataCatalog
from detectron2.data.datasets.builtin_meta import COCO_CATEGORIES

from gpa.config import add_gpa_config
from gpa.data import register_semantic_format
from gpa.data.datasets import BUILTIN_DATASETS
from gpa.data.datasets.class_sources import (
    CLASS_FILES,
    cityscapes_classes,
    coco_panoptic_classes,
    pascal_voc_classes,
    read_object_info_150,
)
from gpa.vocabulary import DatasetClasses, apply_class_file_overrides, read_class_file
from tests.synthetic.pascal import PC59_NAMES


def test_coco_names_cover_exactly_detectron2_ids_in_order():
    classes = coco_panoptic_classes()
    assert list(classes.dataset_ids) == [c["id"] for c in COCO_CATEGORIES]
    assert list(classes.vocabulary.is_thing) == [bool(c["isthing"]) for c in COCO_CATEGORIES]
    assert classes.vocabulary.classes[0] == ("person", "people", "man", "woman", "child")
    by_id = dict(zip(classes.dataset_ids, classes.vocabulary.names))
    assert by_id[184] == "tree" and by_id[187] == "sky" and by_id[199] == "wall"  # "-merged" names made readable


def test_pascal_lists():
    voc21, voc20 = pascal_voc_classes(True), pascal_voc_classes(False)
    assert voc21.dataset_ids == tuple(range(21)) and voc21.vocabulary.names[0] == "background"
    assert voc20.dataset_ids == tuple(range(20)) and voc20.vocabulary.names == voc21.vocabulary.names[1:]
    pc59 = read_class_file(CLASS_FILES / "pascal_context_59.txt")
    assert [i for i, _ in pc59] == list(range(59))
    # every class matches the release's 59_labels.txt spelling through one of its synonyms, same order
    for (_, names), release in zip(pc59, PC59_NAMES):
        assert release in {n.replace(" ", "") for n in names}


def test_cityscapes_order_is_train_id():
    classes = cityscapes_classes()
    assert classes.dataset_ids[:3] == (7, 8, 11) and classes.vocabulary.names[-1] == "bicycle"
    assert sum(classes.vocabulary.is_thing) == 8


def test_object_info_150_parser(tmp_path):
    path = tmp_path / "objectInfo150.txt"
    path.write_text("Idx\tRatio\tTrain\tVal\tName\n1\t0.1\t1\t1\twall\n22 \t0.1\t1\t1\tbuilding, edifice \n")
    assert read_object_info_150(path) == [(1, ("wall",)), (22, ("building", "edifice"))]
    path.write_text("Index\tName\n1\twall\n")
    with pytest.raises(ValueError, match="Idx Ratio Train Val Name"):
        read_object_info_150(path)


def test_table_names_are_prefixed_and_unique():
    names = [row.name for row in BUILTIN_DATASETS]
    assert len(set(names)) == len(names) and all(n.startswith("gpa_") for n in names)


@pytest.fixture
def toy(tmp_path):
    classes = DatasetClasses.from_categories(
        [{"id": 0, "name": "sky", "isthing": 0}, {"id": 1, "name": "road", "isthing": 0},
         {"id": 2, "name": "car", "isthing": 1}]
    )
    register_semantic_format("test_override_toy", image_root=tmp_path, sem_seg_root=tmp_path, classes=classes,
                             replace=True)
    return tmp_path


def _cfg(*entries):
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.DATASETS.CLASS_FILE_OVERRIDES = entries
    return cfg


def test_override_replaces_names_keeps_order_and_things(toy):
    path = toy / "names.txt"
    path.write_text("# renamed\n2:automobile,car\n0:sky,heaven\n1:street,road\n")
    apply_class_file_overrides(_cfg(f"test_override_toy={path}"))
    meta = MetadataCatalog.get("test_override_toy")
    assert meta.stuff_classes == ["sky", "street", "automobile"]
    assert meta.vocabulary.classes[2] == ("automobile", "car") and meta.vocabulary.is_thing == (False, False, True)
    assert meta.thing_classes == ["automobile"]


def test_override_with_one_based_ids_is_rejected(toy):
    path = toy / "names.txt"
    path.write_text("1:sky\n2:road\n3:car\n")  # off by one
    with pytest.raises(ValueError, match=r"exactly the dataset's 3 class ids.*missing ids: \[0\].*unknown ids: \[3\]"):
        apply_class_file_overrides(_cfg(f"test_override_toy={path}"))


@pytest.mark.parametrize("entry,error,match", [
    ("test_override_toy", ValueError, "dataset_name=path"),
    ("no_such_dataset=x.txt", KeyError, "not registered"),
    ("test_override_toy=/no/such/file.txt", FileNotFoundError, "does not exist"),
])
def test_bad_override_entries(toy, entry, error, match):
    with pytest.raises(error, match=match):
        apply_class_file_overrides(_cfg(entry))
