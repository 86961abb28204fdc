"""ADE20K-150: release layout -> semantic and panoptic prepare -> builtin registration -> PQ / mIoU / AP."""
import json

import numpy as np
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import SemSegEvaluator
from PIL import Image

from gpa.data.preparation import ade20k as prepare
from gpa.evaluation import build_evaluator
from tests.synthetic import write_ade20k_raw
from tests.synthetic.predictions import (
    evaluate_outputs,
    instances_output,
    miou_if_all_predicted_as,
    panoptic_output,
    read_labels,
    read_segment_ids,
    semantic_outputs,
)

PAN, SEM = "gpa_ade20k_150_panoptic_val", "gpa_ade20k_150_sem_seg_val"


@pytest.fixture(scope="module")
def ade_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("d2")
    write_ade20k_raw(root, num_images=3)
    prepare.main_semantic(["--root", str(root), "--splits", "val"])
    prepare.main_panoptic(["--root", str(root), "--splits", "val"])
    return root


def test_labels_are_shifted_by_one_and_names_follow_object_info(ade_root, builtin_at):
    builtin_at(ade_root, SEM, PAN)
    ade = ade_root / "ADEChallengeData2016"
    for raw_path in sorted((ade / "annotations/validation").glob("*.png")):
        raw = np.asarray(Image.open(raw_path)).astype(np.int64)
        shifted = np.asarray(Image.open(ade / "annotations_detectron2/validation" / raw_path.name)).astype(np.int64)
        np.testing.assert_array_equal(shifted, np.where(raw == 0, 255, raw - 1))
    meta = MetadataCatalog.get(SEM)
    # objectInfo150 Idx 1 is "wall": label 0; Idx 13 "person, individual, someone": label 12 with synonyms
    assert meta.stuff_classes[0] == "wall" and meta.stuff_classes[1] == "building"
    assert meta.vocabulary.classes[12] == ("person", "individual", "someone")
    assert meta.vocabulary.classes[7] == ("bed",) and len(meta.stuff_classes) == 150
    assert not any(meta.vocabulary.is_thing)
    pan_meta = MetadataCatalog.get(PAN)
    # things: the classes the instance mapping names (Idx 8, 13, 21 -> 7, 12, 20)
    assert sorted(pan_meta.thing_dataset_id_to_contiguous_id) == [7, 12, 20]
    assert pan_meta.thing_classes == ["bed", "person", "car"]


def test_panoptic_segments_come_from_semantic_stuff_and_instance_things(ade_root, builtin_at):
    builtin_at(ade_root, PAN)
    ade = ade_root / "ADEChallengeData2016"
    for record in DatasetCatalog.get(PAN):
        ids = read_segment_ids(record["pan_seg_file_name"])
        raw = np.asarray(Image.open(ade / "annotations/validation" / f"{record['image_id']}.png")).astype(np.int64)
        instance = np.asarray(Image.open(ade / "annotations_instance/validation" / f"{record['image_id']}.png"))
        for seg in record["segments_info"]:
            mask = ids == seg["id"]
            assert (raw[mask] == seg["category_id"] + 1).all()  # agrees with the release label (1-based)
            if seg["isthing"]:
                assert len(np.unique(instance[mask][:, 1])) == 1 and instance[mask][0, 1] > 0
        assert (raw[ids == 0] == 0).all()  # unlabeled stays void
    instances = json.loads((ade / "ade20k_instance_val.json").read_text())
    assert {c["id"] for c in instances["categories"]} == {7, 12, 20}


def test_perfect_predictions_score_100(ade_root, builtin_at, eval_cfg):
    builtin_at(ade_root, PAN)
    records = DatasetCatalog.get(PAN)
    outputs = semantic_outputs(records, 150)
    for out, record in zip(outputs, records):
        out.update(panoptic_seg=panoptic_output(record), instances=instances_output(record))
    results = evaluate_outputs(build_evaluator(eval_cfg, PAN), zip(records, outputs))
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100.0)
    assert results["sem_seg"]["mIoU"] == pytest.approx(100.0)
    assert results["segm"]["AP"] == pytest.approx(100.0)


def test_semantic_dataset_perfect_and_all_one_class(ade_root, builtin_at):
    builtin_at(ade_root, SEM)
    records = DatasetCatalog.get(SEM)
    perfect = evaluate_outputs(SemSegEvaluator(SEM), zip(records, semantic_outputs(records, 150)))
    assert perfect["sem_seg"]["mIoU"] == pytest.approx(100.0)
    labels = [read_labels(r["sem_seg_file_name"]) for r in records]
    wall = evaluate_outputs(SemSegEvaluator(SEM), zip(records, semantic_outputs(records, 150, as_class=0)))
    assert wall["sem_seg"]["mIoU"] == pytest.approx(miou_if_all_predicted_as(labels, 0, 255))
    assert 0 < wall["sem_seg"]["mIoU"] < 100


def test_rerun_skips_finished_files(ade_root):
    again = prepare.main_semantic(["--root", str(ade_root), "--splits", "val"])
    assert again.written == {} and again.skipped == {"labels": 3}
    again = prepare.main_panoptic(["--root", str(ade_root), "--splits", "val"])
    assert again.written == {"json": 2} and again.skipped == {"panoptic": 3}


def test_missing_instance_mapping_names_the_file(tmp_path):
    write_ade20k_raw(tmp_path, num_images=1)
    (tmp_path / "ADEChallengeData2016" / "ade20k_instance_catid_mapping.txt").unlink()
    with pytest.raises(FileNotFoundError, match="ade20k_instance_catid_mapping.txt"):
        prepare.main_panoptic(["--root", str(tmp_path), "--splits", "val"])
