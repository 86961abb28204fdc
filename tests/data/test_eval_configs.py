"""configs/coco/eval/*.yaml: each loads, names registered datasets and uses the protocol's test resolution."""
from pathlib import Path

import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog

import gpa.data  # noqa: F401  (registers the builtin datasets)
from gpa.config import add_gpa_config
from gpa.evaluation.build import EVALUATORS, enabled_tasks

EVAL_DIR = Path(__file__).resolve().parents[2] / "configs" / "coco" / "eval"
LARGE = {"gpa_cityscapes_panoptic_val", "gpa_mapillary_vistas_panoptic_val"}  # short side 1024, max 2560


@pytest.mark.parametrize("path", sorted(EVAL_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_eval_config(path):
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.merge_from_file(str(path))
    assert cfg.DATASETS.TEST and all(n in DatasetCatalog.list() for n in cfg.DATASETS.TEST)
    size = (1024, 2560) if set(cfg.DATASETS.TEST) <= LARGE else (800, 1333)
    assert (cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST) == size
    for name in cfg.DATASETS.TEST:  # every enabled task is one the benchmark reports
        kind = MetadataCatalog.get(name).evaluator_type
        assert set(enabled_tasks(cfg)) <= set(EVALUATORS[kind]), (name, enabled_tasks(cfg))
    assert len(path.read_text().splitlines()) <= 8


def test_every_val_benchmark_has_a_config():
    covered = set()
    for path in EVAL_DIR.glob("*.yaml"):
        cfg = get_cfg()
        add_gpa_config(cfg)
        cfg.merge_from_file(str(path))
        covered.update(cfg.DATASETS.TEST)
    expected = {
        n for n in DatasetCatalog.list() if n.startswith("gpa_") and n.endswith("_val") and not n.startswith("gpa_toy_")
    }  # the toy world is not a benchmark of the paper's tables
    assert expected - {"gpa_ade20k_150_sem_seg_val"} <= covered  # A-150 mIoU comes from the panoptic dataset
