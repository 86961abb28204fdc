"""Registry of training mappers, chosen by INPUT.DATASET_MAPPER_NAME."""
from __future__ import annotations

from collections.abc import Callable

from detectron2.config import CfgNode

from gpa.registry import NamedRegistry

__all__ = ["MAPPER_REGISTRY", "build_train_mapper"]

MAPPER_REGISTRY = NamedRegistry("DATASET_MAPPER", "training mapper")
MAPPER_REGISTRY.__doc__ = """Training mappers by INPUT.DATASET_MAPPER_NAME: called as `cls(cfg, is_train=...)`, they
map a dataset record to the model's input dict ("image", "instances")."""


def build_train_mapper(cfg: CfgNode, is_train: bool = True) -> Callable[[dict], dict]:
    """The mapper named by cfg.INPUT.DATASET_MAPPER_NAME, built from the config."""
    return MAPPER_REGISTRY.get_for(cfg.INPUT.DATASET_MAPPER_NAME, "INPUT.DATASET_MAPPER_NAME")(cfg, is_train=is_train)
