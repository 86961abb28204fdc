"""Inference with any vocabulary: the Predictor, builtin and user vocabularies, plain results.

Drawing and file output live in `gpa.inference.visualization`, `gpa.inference.result_files` and
`gpa.inference.video` (imported on use: they pull in matplotlib and OpenCV).
"""
from .builtin_vocabularies import BUILTIN_VOCABULARIES, builtin_vocabulary
from .images import collect_image_paths, load_image
from .merged_vocabulary import merge_vocabularies
from .predictor import PRECISIONS, Predictor
from .result import TASKS, PredictionResult, Segment
from .user_vocabulary import make_vocabulary, parse_vocabulary_string, read_vocabulary_file

__all__ = [
    "BUILTIN_VOCABULARIES",
    "PRECISIONS",
    "TASKS",
    "PredictionResult",
    "Predictor",
    "Segment",
    "builtin_vocabulary",
    "collect_image_paths",
    "load_image",
    "make_vocabulary",
    "merge_vocabularies",
    "parse_vocabulary_string",
    "read_vocabulary_file",
]
