"""Open-vocabulary inference with any class names: `Predictor(config, weights).predict(image, vocabulary=[...])`.

The model is built once; a new vocabulary only costs its text embeddings, which the model caches per
vocabulary. Building the model needs no dataset registration or files (unknown DATASETS names are not an error
here). The training vocabulary (for the ensemble's seen/unseen weights) is resolved at construction
from MODEL.GPA.TRAIN_VOCABULARY or DATASETS.TRAIN (COCO's class list needs no dataset files), or taken
from the `train_vocabulary` argument when the config cannot tell.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data.build import trivial_batch_collator
from detectron2.modeling import build_model
from torch.utils.data import DataLoader

from gpa.checkpoint import GPACheckpointer
from gpa.config_loading import load_config
from gpa.config_validation import DEVICE_KINDS, check_device
from gpa.data import builtin_vocabulary
from gpa.vocabulary import Vocabulary, apply_class_file_overrides, make_vocabulary

from .images import ImageFiles, ImageInput, ImagePreprocessor, load_image
from .result import TASKS, PredictionResult, build_result, check_task

__all__ = ["DEVICE_AVAILABLE", "PRECISIONS", "Predictor", "VocabularyInput"]

# A list of "name,synonym" strings, a builtin vocabulary's name, or a ready Vocabulary.
VocabularyInput = Sequence[str] | str | Vocabulary

DEVICE_AVAILABLE = DEVICE_KINDS  # kept for callers of the earlier name

# precision= / demo --precision -> the autocast dtype of inference (TEST.AMP.DTYPE); "fp32" = no autocast
PRECISIONS = {"fp32": "", "bf16": "bfloat16", "fp16": "float16"}


def _set_precision(cfg: CfgNode, precision: str) -> None:
    """Turn inference autocast (TEST.AMP) on with `precision`'s dtype, or off for "fp32"."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not supported; valid: {', '.join(PRECISIONS)}")
    cfg.TEST.AMP.ENABLED = precision != "fp32"
    if cfg.TEST.AMP.ENABLED:
        cfg.TEST.AMP.DTYPE = PRECISIONS[precision]



def _load_config(config: str | Path | CfgNode, opts: Sequence[str]) -> tuple[CfgNode, str]:
    """The config and a name for messages. Unlike training, DATASETS.TRAIN / TEST need not be registered."""
    cfg, name = load_config(config, opts)
    if not isinstance(config, CfgNode):  # a given CfgNode had its overrides applied by whoever built it
        apply_class_file_overrides(cfg)
    return cfg, name


def _resolve_train_vocabulary(model: torch.nn.Module) -> None:
    """Resolve the training vocabulary now, so a config that cannot name it fails here, not at the first image."""
    try:
        model.train_vocabulary  # noqa: B018
    except (ValueError, FileNotFoundError) as err:
        raise type(err)(
            f"{err}. The training vocabulary weights the ensemble's seen / unseen classes: pass "
            "train_vocabulary= (a builtin name such as 'coco', or a list) to the Predictor, or set "
            "MODEL.GPA.TRAIN_VOCABULARY to a class file (demo: --opts MODEL.GPA.TRAIN_VOCABULARY FILE)"
        ) from err


class Predictor:
    """A GPA model ready for inference on single images, image files and video frames.

    Args:
        config: a config file (as for tools/train_net.py) or a CfgNode with gpa's keys.
        weights: the trained checkpoint; None = MODEL.WEIGHTS. Must match the config (see gpa/checkpoint/ for
            the rule on frozen CLIP weights and MODEL.CLIP.PRETRAINED).
        device: "cpu", "cuda", "cuda:1", ...; None = MODEL.DEVICE.
        opts: `KEY VALUE` config overrides.
        vocabulary: the default for `predict` calls that name none (a list, a builtin name, a Vocabulary).
        train_vocabulary: the classes the weights were trained on, if the config cannot tell.
        precision: "fp32", or "bf16" / "fp16" to run the network under autocast (post-processing stays
            float32); None = the config's TEST.AMP.
    """

    def __init__(
        self,
        config: str | Path | CfgNode,
        weights: str | Path | None = None,
        *,
        device: str | None = None,
        opts: Sequence[str] = (),
        vocabulary: VocabularyInput | None = None,
        train_vocabulary: VocabularyInput | None = None,
        precision: str | None = None,
    ) -> None:
        cfg, config_name = _load_config(config, opts)
        if precision is not None:
            _set_precision(cfg, precision)
        weights = str(weights) if weights is not None else cfg.MODEL.WEIGHTS
        if not weights:
            raise ValueError("the Predictor needs trained weights: pass weights='path/to/model_final.pth' or set "
                             "MODEL.WEIGHTS (an untrained model predicts noise)")
        if device is not None:
            cfg.MODEL.DEVICE = check_device(device, "device=")
        else:
            check_device(cfg.MODEL.DEVICE, f"MODEL.DEVICE of {config_name}")
        cfg.MODEL.WEIGHTS = weights
        cfg.freeze()
        self.cfg = cfg
        self.model = build_model(cfg)
        self.model.eval()
        GPACheckpointer.from_config(cfg, self.model, config_name=config_name).resume_or_load(weights, resume=False)
        self._vocabularies: dict[str, Vocabulary] = {}
        if train_vocabulary is not None:
            self.model.train_vocabulary = self.vocabulary(train_vocabulary)
        else:
            _resolve_train_vocabulary(self.model)
        self.preprocessor = ImagePreprocessor.from_config(cfg)
        self.default_vocabulary = vocabulary

    # ------------------------------------------------------------------ vocabularies
    def vocabulary(self, vocabulary: VocabularyInput | None = None, stuff: Iterable[str] = ()) -> Vocabulary:
        """The Vocabulary meant by `vocabulary` (None = the Predictor's default); builtin ones are read once."""
        if vocabulary is None:
            vocabulary = self.default_vocabulary
        if vocabulary is None:
            raise ValueError("no vocabulary: pass vocabulary=['cat', 'sky', ...] or a builtin name such as 'coco', "
                             "or give the Predictor a default vocabulary")
        stuff = list(stuff) if not isinstance(stuff, str) else stuff
        if isinstance(vocabulary, Vocabulary | str) and stuff:
            raise ValueError("stuff= applies to lists of class names; builtin vocabularies and Vocabulary objects "
                             "carry their own thing/stuff split")
        if isinstance(vocabulary, Vocabulary):
            return vocabulary
        if isinstance(vocabulary, str):
            if vocabulary not in self._vocabularies:
                self._vocabularies[vocabulary] = builtin_vocabulary(vocabulary)
            return self._vocabularies[vocabulary]
        return make_vocabulary(vocabulary, stuff)

    # ------------------------------------------------------------------ inference
    def predict(
        self,
        image: ImageInput,
        vocabulary: VocabularyInput | None = None,
        *,
        task: str = "panoptic",
        stuff: Iterable[str] = (),
    ) -> PredictionResult:
        """Segment one image (a path, a PIL image or an HxWx3 uint8 RGB array) into the vocabulary's classes."""
        check_task(task)
        vocab = self.vocabulary(vocabulary, stuff)
        rgb = load_image(image)
        try:
            inputs = self.preprocessor(rgb)
        except ValueError as err:
            if isinstance(image, str | Path):
                raise ValueError(f"image {image}: {err}") from err
            raise
        return self._run([inputs], vocab, task)[0]

    def predict_files(
        self,
        paths: Sequence[str | Path],
        vocabulary: VocabularyInput | None = None,
        *,
        task: str = "panoptic",
        stuff: Iterable[str] = (),
        batch_size: int = 1,
        num_workers: int = 0,
    ) -> Iterator[tuple[Path, np.ndarray, PredictionResult]]:
        """(path, RGB image, result) per file, in order; reading and resizing run in `num_workers` workers."""
        check_task(task)
        if batch_size < 1 or num_workers < 0:
            raise ValueError(f"batch_size must be >= 1 and num_workers >= 0, got {batch_size} and {num_workers}")
        vocab = self.vocabulary(vocabulary, stuff)
        loader = DataLoader(
            ImageFiles(paths, self.preprocessor),
            batch_size=batch_size,
            num_workers=num_workers,
            collate_fn=trivial_batch_collator,
        )
        for batch in loader:
            for item, result in zip(batch, self._run(batch, vocab, task)):
                yield Path(item["file_name"]), item["original"], result

    def _run(self, batch: list[dict[str, Any]], vocabulary: Vocabulary, task: str) -> list[PredictionResult]:
        inputs = [{"image": x["image"], "height": x["height"], "width": x["width"], "vocabulary": vocabulary}
                  for x in batch]
        with torch.no_grad(), self._only(task):
            outputs = self.model(inputs)
        return [build_result(task, output, vocabulary) for output in outputs]

    @contextmanager
    def _only(self, task: str) -> Iterator[None]:
        """Run only `task`'s post-processing (the others cost time and memory)."""
        flags = {spec.model_flag: getattr(self.model, spec.model_flag) for spec in TASKS.values()}
        try:
            for name, spec in TASKS.items():
                setattr(self.model, spec.model_flag, name == task)
            yield
        finally:
            for flag, value in flags.items():
                setattr(self.model, flag, value)
