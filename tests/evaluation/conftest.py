"""Helpers for the benchmark tests: builtin datasets pointed at generated data, and an evaluation config."""
import pytest
from detectron2.config import get_cfg

from gpa.config import add_gpa_config
from gpa.data.datasets import datasets_root, register_builtin_datasets


@pytest.fixture
def builtin_at():
    """Point builtin datasets at a generated root for one test; re-point them at the usual root after."""
    pointed: list[str] = []

    def point(root, *names):
        register_builtin_datasets(root, names=names, replace=True)
        pointed.extend(names)

    yield point
    if pointed:
        register_builtin_datasets(datasets_root(), names=pointed, replace=True)


@pytest.fixture
def eval_cfg():
    """A config with every evaluation task switched on."""
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.MODEL.MASK_FORMER.TEST.PANOPTIC_ON = True
    cfg.MODEL.MASK_FORMER.TEST.SEMANTIC_ON = True
    cfg.MODEL.MASK_FORMER.TEST.INSTANCE_ON = True
    return cfg
