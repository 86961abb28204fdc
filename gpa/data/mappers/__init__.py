"""Training mappers, chosen by INPUT.DATASET_MAPPER_NAME."""
from __future__ import annotations

from collections.abc import Callable

from .panoptic_lsj import PanopticLSJDatasetMapper
from .semantic_lsj import SemanticDatasetMapper

__all__ = ["MAPPERS", "PanopticLSJDatasetMapper", "SemanticDatasetMapper", "build_train_mapper"]

MAPPERS: dict[str, Callable] = {
    "panoptic_lsj": PanopticLSJDatasetMapper,
    "semantic_lsj": SemanticDatasetMapper,
}


def build_train_mapper(cfg, is_train: bool = True) -> Callable[[dict], dict]:
    """The mapper named by cfg.INPUT.DATASET_MAPPER_NAME, built from the config."""
    name = cfg.INPUT.DATASET_MAPPER_NAME
    if name not in MAPPERS:
        raise ValueError(f"INPUT.DATASET_MAPPER_NAME={name!r} is not a known mapper; valid: {sorted(MAPPERS)}")
    return MAPPERS[name](cfg, is_train=is_train)
