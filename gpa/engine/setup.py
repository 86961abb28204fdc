"""Building a validated config from a YAML file and command-line overrides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog

from gpa.config_loading import ConfigError, load_config
from gpa.config_validation import check_device
from gpa.extensions import CONFIG_KEY as EXTENSIONS_KEY
from gpa.extensions import installed_extensions, loaded_extensions
from gpa.vocabulary import apply_class_file_overrides

from .lr_scheduler import LR_SCHEDULER_REGISTRY
from .optimizer import OPTIMIZER_REGISTRY

__all__ = ["build_config", "check_dataset_names", "check_run"]

DATASETS_README = "datasets/README.md"


def check_dataset_names(cfg: CfgNode) -> None:
    """Every name in DATASETS.TRAIN / DATASETS.TEST must be registered."""
    registered = set(DatasetCatalog.list())
    for key in ("TRAIN", "TEST"):
        for name in cfg.DATASETS.get(key):
            if name not in registered:
                ours = sorted(n for n in registered if n.startswith("gpa_"))
                available = ", ".join(installed_extensions()) or "none"
                loaded = ", ".join(loaded_extensions()) or "none"
                raise ValueError(
                    f"DATASETS.{key} names {name!r}, which is not a registered dataset. gpa registers: "
                    f"{', '.join(ours)}. See {DATASETS_README} for what each one is. The datasets of an extension "
                    f"are registered when the config names it in {EXTENSIONS_KEY} (loaded: {loaded}; installed: "
                    f"{available})."
                )


def check_run(cfg: CfgNode, eval_only: bool, config_name: str = "the config") -> None:
    """What a train_net run needs beyond a valid config: a usable MODEL.DEVICE, a registered optimizer and
    schedule to train, and DATASETS.TRAIN to train or DATASETS.TEST to evaluate (an empty list would fail deep in
    detectron2, or evaluate nothing and exit 0)."""
    try:
        check_device(cfg.MODEL.DEVICE, f"MODEL.DEVICE of {config_name}")
        if not eval_only:
            OPTIMIZER_REGISTRY.get_for(cfg.SOLVER.OPTIMIZER, "SOLVER.OPTIMIZER")
            LR_SCHEDULER_REGISTRY.get_for(cfg.SOLVER.LR_SCHEDULER_NAME, "SOLVER.LR_SCHEDULER_NAME")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if not eval_only and cfg.TEST.EVAL_PERIOD > 0 and not cfg.DATASETS.TEST:
        raise ConfigError(f"TEST.EVAL_PERIOD is {cfg.TEST.EVAL_PERIOD} but DATASETS.TEST is empty, so the periodic "
                          "evaluations would evaluate nothing; name the datasets or set TEST.EVAL_PERIOD 0")
    key = "TEST" if eval_only else "TRAIN"
    if not cfg.DATASETS.get(key):
        what = "--eval-only evaluates" if eval_only else "training reads"
        example = "gpa_coco_panoptic_val" if eval_only else "gpa_coco_panoptic_train"
        raise ConfigError(f"DATASETS.{key} is empty, but {what} its datasets; name at least one, e.g. "
                          f"DATASETS.{key} \"('{example}',)\" (see {DATASETS_README})")


def build_config(config_file: str | Path, opts: Sequence[str] = ()) -> CfgNode:
    """The config of a training / evaluation run: gpa's defaults, the YAML file (read without running anything),
    `KEY VALUE` overrides; every value range-checked, the extensions of EXTENSIONS loaded, the datasets
    registered; frozen."""
    import gpa.data  # noqa: F401  (registers the builtin datasets)

    cfg, _ = load_config(config_file, opts)
    check_dataset_names(cfg)
    apply_class_file_overrides(cfg)
    cfg.freeze()
    return cfg
