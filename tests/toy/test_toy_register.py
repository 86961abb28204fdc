"""Toy datasets through detectron2's catalogs: lazy generation, vocabularies, unseen ids, standard record fields."""
from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.detection_utils import read_image

from gpa_toy import UNSEEN_THINGS, ToySplit, register_toy_datasets
from gpa_toy.cache import MARKER_FILE

REPO = Path(__file__).resolve().parents[2]

SPLITS = {
    "train": ToySplit(num_images=5, image_size=64, seed=11, include_unseen=False),
    "val": ToySplit(num_images=3, image_size=64, seed=12, include_unseen=True),
}


@pytest.fixture
def toy(tmp_path):
    """Two freshly registered toy datasets over an empty cache folder; removed from the catalogs afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = {f"test_toy_{tag}_train": "train", f"test_toy_{tag}_val": "val"}
    root = tmp_path / "cache" / "toy"
    register_toy_datasets(root=root, splits=SPLITS, names=names)
    yield root, *names
    for name in names:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_registration_reads_and_writes_nothing_until_loaded(toy):
    root, train, val = toy
    assert MetadataCatalog.get(train).vocabulary is not None  # class metadata needs no files
    assert not root.exists()
    records = DatasetCatalog.get(train)
    assert (root / MARKER_FILE).is_file() and len(records) == 5


def test_train_vocabulary_has_only_seen_classes_and_val_all(toy):
    _, train, val = toy
    unseen_names = {c.name for c in UNSEEN_THINGS}
    train_meta, val_meta = MetadataCatalog.get(train), MetadataCatalog.get(val)
    assert len(train_meta.stuff_classes) == 48 + 4 and not unseen_names & set(train_meta.stuff_classes)
    assert len(val_meta.stuff_classes) == 68 and len(val_meta.thing_classes) == 64
    assert train_meta.unseen_classes == []
    assert sorted(val_meta.stuff_classes[i] for i in val_meta.unseen_classes) == sorted(unseen_names)
    assert val_meta.stuff_classes[:2] == ["red circle", "red square"] and val_meta.stuff_classes[-1] == "waves"
    assert val_meta.stuff_dataset_id_to_contiguous_id == {i: i - 1 for i in range(1, 69)}
    assert train_meta.evaluator_type == "coco_panoptic_seg" and train_meta.ignore_label == 255
    assert len(val_meta.thing_colors) == 64 and val_meta.stuff_colors[0] == [220, 30, 35]


def test_records_have_detectron2_fields_and_consistent_files(toy):
    _, train, val = toy
    for name, count in ((train, 5), (val, 3)):
        meta = MetadataCatalog.get(name)
        records = DatasetCatalog.get(name)
        assert len(records) == count
        for record in records:
            assert {"file_name", "image_id", "height", "width", "pan_seg_file_name", "sem_seg_file_name",
                    "segments_info"} <= set(record)
            assert read_image(record["file_name"], format="RGB").shape == (64, 64, 3)
            semantic = read_image(record["sem_seg_file_name"]).squeeze()
            used = set(np.unique(semantic).tolist())
            assert used == {s["category_id"] for s in record["segments_info"]}  # contiguous ids, no void
            for segment in record["segments_info"]:
                assert 0 <= segment["category_id"] < len(meta.stuff_classes)
                assert segment["isthing"] == (segment["category_id"] in meta.thing_dataset_id_to_contiguous_id.values())


def test_train_records_never_hold_unseen_classes(toy):
    _, train, _ = toy
    names = MetadataCatalog.get(train).stuff_classes
    used = {names[s["category_id"]] for r in DatasetCatalog.get(train) for s in r["segments_info"]}
    assert used and not used & {c.name for c in UNSEEN_THINGS}


def test_unknown_split_is_named(tmp_path):
    with pytest.raises(ValueError, match="split 'test'.*\\['train', 'val'\\]"):
        register_toy_datasets(root=tmp_path, splits=SPLITS, names={"test_toy_bad": "test"})


# ------------------------------------------------------------------ registered when used: the extension `toy`
def test_a_toy_config_registers_the_toy_world_through_the_entry_point():
    """configs/toy/base.yaml names EXTENSIONS ("toy",): loading it registers the datasets, the model and its weights
    through the installed entry point gpa_toy:register."""
    from gpa.config_loading import load_config
    from gpa.extensions import installed_extensions, loaded_extensions
    from gpa.modeling.backbone.clip_model_loading import CLIP_WEIGHT_SOURCES, resolve_pretrained
    from gpa_toy import TOY_CLIP_CHECKPOINT

    assert "toy" in installed_extensions(), "gpa's metadata lacks its entry points: reinstall it (pip install -e .)"
    cfg, _ = load_config(REPO / "configs" / "toy" / "gpa.yaml")
    assert tuple(cfg.EXTENSIONS) == ("toy",) and "toy" in loaded_extensions()
    assert {"gpa_toy_train", "gpa_toy_val"} <= set(DatasetCatalog.list()) and "toy_clip" in CLIP_WEIGHT_SOURCES
    assert resolve_pretrained(cfg.MODEL.CLIP.MODEL_NAME, cfg.MODEL.CLIP.PRETRAINED).value == str(TOY_CLIP_CHECKPOINT)


def test_verify_checks_a_toy_dataset_once_its_extension_is_named():
    verify = _verify_script()
    assert verify.main(["--extension", "toy", "gpa_toy_val", "--max-files", "2"]) == 0
    with pytest.raises(ValueError, match="--extension names the extension 'nope', which is not installed"):
        verify.main(["--extension", "nope", "gpa_toy_val"])


def _verify_script():
    spec = importlib.util.spec_from_file_location("gpa_verify_toy", REPO / "datasets" / "verify.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
