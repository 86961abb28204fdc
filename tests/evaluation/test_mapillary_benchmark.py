"""Mapillary Vistas v1.2: release layout (no preparation) -> registration -> PQ / mIoU."""
import json

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog

from gpa.evaluation import PanopticQualityEvaluator, build_evaluator
from tests.synthetic import write_mapillary_raw
from tests.synthetic.predictions import evaluate_outputs, panoptic_output, semantic_outputs

NAME = "gpa_mapillary_vistas_panoptic_val"


@pytest.fixture(scope="module")
def mv_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("d2")
    write_mapillary_raw(root, num_images=3)
    return root


def test_classes_from_the_panoptic_json_match_label_values(mv_root, builtin_at):
    builtin_at(mv_root, NAME)
    meta = MetadataCatalog.get(NAME)
    config = json.loads((mv_root / "mapillary_vistas/config_v1.2.json").read_text())["labels"]
    # label value k of labels/*.png is category k + 1 of the JSON and label k of config_v1.2.json
    assert meta.stuff_dataset_id_to_contiguous_id == {k + 1: k for k in range(65)}
    assert [lab["readable"] for lab in config[:65]] == meta.stuff_classes
    assert meta.ignore_label == 65 and config[65]["readable"] == "Unlabeled"


def test_perfect_and_missing_segment(mv_root, builtin_at, eval_cfg):
    builtin_at(mv_root, NAME)
    records = DatasetCatalog.get(NAME)
    outputs = semantic_outputs(records, 65)
    for out, record in zip(outputs, records):
        out["panoptic_seg"] = panoptic_output(record)
    results = evaluate_outputs(build_evaluator(eval_cfg, NAME), zip(records, outputs))  # AP is not evaluated
    assert set(results) == {"panoptic_seg", "sem_seg"}
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100.0)
    assert results["sem_seg"]["mIoU"] == pytest.approx(100.0)

    dropped = next(s for s in records[0]["segments_info"] if s["isthing"])
    outputs = [{"panoptic_seg": panoptic_output(r, keep=lambda s: s["id"] != dropped["id"])} for r in records]
    results = evaluate_outputs(PanopticQualityEvaluator(NAME), zip(records, outputs))
    segments = [s for r in records for s in r["segments_info"]]
    classes = {s["category_id"] for s in segments}
    n_c = sum(s["category_id"] == dropped["category_id"] for s in segments)
    assert results["panoptic_seg"]["PQ"] == pytest.approx(100 * (len(classes) - 1 + (n_c - 1) / (n_c - 0.5))
                                                          / len(classes))
