"""Building a validated config from a YAML file and command-line overrides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from detectron2.config import CfgNode, get_cfg
from detectron2.data import DatasetCatalog

from gpa.config import add_gpa_config

__all__ = ["build_config", "check_dataset_names"]

DATASETS_README = "datasets/README.md"


def check_dataset_names(cfg: CfgNode) -> None:
    """Every name in DATASETS.TRAIN / DATASETS.TEST must be registered."""
    registered = set(DatasetCatalog.list())
    for key in ("TRAIN", "TEST"):
        for name in cfg.DATASETS.get(key):
            if name not in registered:
                ours = sorted(n for n in registered if n.startswith("gpa_"))
                raise ValueError(
                    f"DATASETS.{key} names {name!r}, which is not a registered dataset. gpa registers: "
                    f"{', '.join(ours)}. See {DATASETS_README} for what each one is."
                )


def build_config(config_file: str | Path, opts: Sequence[str] = ()) -> CfgNode:
    """get_cfg + add_gpa_config + the YAML file + `KEY VALUE` overrides, checked and frozen."""
    import gpa.data  # noqa: F401  (registers the builtin datasets)

    path = Path(config_file)
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(config_file)!r} does not exist; the configs are under configs/")
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.merge_from_file(str(path))
    cfg.merge_from_list(list(opts))
    check_dataset_names(cfg)
    from gpa.data import apply_class_file_overrides

    apply_class_file_overrides(cfg)
    cfg.freeze()
    return cfg
