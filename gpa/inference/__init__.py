"""Inference with any vocabulary: the Predictor and plain results.

Vocabularies (user lists, class files, merging) are gpa.vocabulary; the benchmarks' named vocabularies
are gpa.data.BUILTIN_VOCABULARIES. Drawing and file output live in `gpa.inference.visualization`,
`gpa.inference.result_files` and `gpa.inference.video` (imported on use: they pull in matplotlib and OpenCV).
"""
from .images import collect_image_paths, load_image
from .predictor import PRECISIONS, Predictor
from .result import TASKS, PredictionResult, Segment

__all__ = [
    "PRECISIONS",
    "TASKS",
    "PredictionResult",
    "Predictor",
    "Segment",
    "collect_image_paths",
    "load_image",
]
