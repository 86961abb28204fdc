"""Training mappers, chosen by INPUT.DATASET_MAPPER_NAME (importing this registers them)."""
from .build import MAPPER_REGISTRY, build_train_mapper
from .panoptic_lsj import PanopticLSJDatasetMapper
from .semantic_lsj import SemanticDatasetMapper

__all__ = ["MAPPER_REGISTRY", "PanopticLSJDatasetMapper", "SemanticDatasetMapper", "build_train_mapper"]
