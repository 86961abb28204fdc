"""Dataset registration: generic register functions, the table of builtin benchmarks and their named vocabularies."""
from .builtin import BUILTIN_DATASETS, BuiltinDataset, builtin_dataset, datasets_root, register_builtin_datasets
from .builtin_vocabularies import BUILTIN_VOCABULARIES, BuiltinVocabulary, builtin_vocabulary
from .loaders import load_panoptic_json, load_semantic_folders, require_path
from .register import register_coco_panoptic_format, register_semantic_format

__all__ = [
    "BUILTIN_DATASETS",
    "BUILTIN_VOCABULARIES",
    "BuiltinDataset",
    "BuiltinVocabulary",
    "builtin_dataset",
    "builtin_vocabulary",
    "datasets_root",
    "load_panoptic_json",
    "load_semantic_folders",
    "register_builtin_datasets",
    "register_coco_panoptic_format",
    "register_semantic_format",
    "require_path",
]
