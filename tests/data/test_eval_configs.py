"""configs/coco/eval/*.yaml (GPA) and configs/coco/eval_fcclip/*.yaml (FC-CLIP's model in gpa): each loads, names
registered datasets and uses the protocol's test resolution; the FC-CLIP ones mirror the GPA ones."""
from pathlib import Path

import pytest
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog

import gpa.data  # noqa: F401  (registers the builtin datasets)
from gpa.config import add_gpa_config
from gpa.evaluation.build import EVALUATOR_REGISTRY, enabled_tasks

EVAL_DIR = Path(__file__).resolve().parents[2] / "configs" / "coco" / "eval"
FCCLIP_EVAL_DIR = EVAL_DIR.parent / "eval_fcclip"
LARGE = {"gpa_cityscapes_panoptic_val", "gpa_mapillary_vistas_panoptic_val"}  # short side 1024, max 2560


@pytest.mark.parametrize(
    "path", sorted(EVAL_DIR.glob("*.yaml")) + sorted(FCCLIP_EVAL_DIR.glob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_eval_config(path):
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.merge_from_file(str(path))
    assert cfg.DATASETS.TEST and all(n in DatasetCatalog.list() for n in cfg.DATASETS.TEST)
    size = (1024, 2560) if set(cfg.DATASETS.TEST) <= LARGE else (800, 1333)
    assert (cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST) == size
    for name in cfg.DATASETS.TEST:  # every enabled task is one the benchmark reports
        kind = MetadataCatalog.get(name).evaluator_type
        assert set(enabled_tasks(cfg)) <= set(EVALUATOR_REGISTRY.get(kind)), (name, enabled_tasks(cfg))
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


def _load(path):
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.merge_from_file(str(path))
    return cfg


def test_fcclip_eval_configs_mirror_the_gpa_ones():
    """Same benchmarks, resolutions and tasks; the model is FC-CLIP's (no adapters, plain mask pooling)."""
    assert sorted(p.name for p in FCCLIP_EVAL_DIR.glob("*.yaml")) == sorted(p.name for p in EVAL_DIR.glob("*.yaml"))
    for path in EVAL_DIR.glob("*.yaml"):
        ours, fcclip = _load(path), _load(FCCLIP_EVAL_DIR / path.name)
        assert fcclip.DATASETS == ours.DATASETS and fcclip.INPUT == ours.INPUT
        assert fcclip.MODEL.MASK_FORMER.TEST == ours.MODEL.MASK_FORMER.TEST
        assert not fcclip.MODEL.ADAPTER.ENABLED and not fcclip.MODEL.GPA.CFA.ENABLED
        assert ours.MODEL.ADAPTER.ENABLED and ours.MODEL.GPA.CFA.ENABLED
