"""gpa's checkpointer: detectron2's DetectionCheckpointer made safe, strict, atomic and resumable.

- Reading never runs code (see file_reading.py); `.pkl` model-zoo files and `.pth` / `.safetensors` files load.
- Every key must match: missing, unexpected or mis-shaped keys are an error naming the file and the keys. The
  exceptions are explicit: the frozen CLIP weights when MODEL.CLIP.PRETRAINED provides them, keys matching
  MODEL.WEIGHTS_NEW_KEYS (and checkpoint keys matching MODEL.WEIGHTS_UNUSED_KEYS) when initializing from
  MODEL.WEIGHTS (listed in the log), and buffers of training-only
  modules of other codebases (KNOWN_NON_MODEL_KEYS, named in the log). Names are matched exactly: detectron2's
  name-matching heuristics for Caffe2-era files are not applied.
- Writes are atomic (temporary file, fsync, rename), `last_checkpoint` included, and a checkpoint holding
  non-finite weights is refused.
- Lean checkpoints leave out the frozen CLIP weights and record where they come back from.
- `--resume` takes the newest checkpoint that reads, and says which ones it skipped and why.
"""
from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode
from fvcore.common.checkpoint import Checkpointer
from torch import nn

from .atomic_write import atomic_torch_save, atomic_write_text
from .file_reading import CheckpointReadError, read_checkpoint_file
from .key_check import check_checkpoint_keys, pretrained_clip_keys

__all__ = ["GPACheckpointer", "KNOWN_NON_MODEL_KEYS", "LEAN_RECORD_KEY", "LAST_CHECKPOINT_FILE"]

logger = logging.getLogger(__name__)

# Buffers that Mask2Former / FC-CLIP checkpoints hold for their training-only modules (the criterion's
# no-object class weight); gpa's criterion keeps none, so they are skipped and named in the log.
KNOWN_NON_MODEL_KEYS = frozenset({"criterion.empty_weight"})
LEAN_RECORD_KEY = "gpa_lean"  # what a lean checkpoint leaves out, and where it comes back from
LAST_CHECKPOINT_FILE = "last_checkpoint"


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel) else model


def _has_frozen_clip(model: nn.Module) -> bool:
    backbone = getattr(model, "backbone", None)
    return backbone is not None and hasattr(backbone, "clip_model") and hasattr(backbone, "adapters")


def _source_identity(pretrained: str) -> tuple[str, str]:
    """What a MODEL.CLIP.PRETRAINED value names, independent of where a file lies: ("file", its name) or the value."""
    if pretrained and "://" not in pretrained and (os.sep in pretrained or "/" in pretrained
                                                  or os.path.isfile(pretrained)):
        return "file", os.path.basename(pretrained)
    return "value", pretrained


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of floating-point tensors of `state` holding NaN or infinity."""
    return [
        name for name, value in state.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]


class GPACheckpointer(DetectionCheckpointer):
    """See the module doc. `clip_pretrained` is MODEL.CLIP.PRETRAINED, `new_keys` / `unused_keys` are
    MODEL.WEIGHTS_NEW_KEYS / MODEL.WEIGHTS_UNUSED_KEYS."""

    def __init__(
        self,
        model: nn.Module,
        save_dir: str = "",
        *,
        clip_pretrained: str = "",
        lean: bool = False,
        new_keys: Sequence[str] = (),
        unused_keys: Sequence[str] = (),
        config_name: str = "the config",
        save_to_disk: bool | None = None,
        **checkpointables: Any,
    ) -> None:
        super().__init__(model, save_dir, save_to_disk=save_to_disk, **checkpointables)
        if lean and not clip_pretrained:
            raise ValueError("SOLVER.LEAN_CHECKPOINTS needs MODEL.CLIP.PRETRAINED (a tag or a file) to bring the "
                             "frozen CLIP weights back; with PRETRAINED \"\" set SOLVER.LEAN_CHECKPOINTS False")
        if lean and not _has_frozen_clip(self.model):
            raise ValueError(f"lean checkpoints need a model with a CLIP backbone; {type(self.model).__name__} "
                             "has none")
        self.clip_pretrained = clip_pretrained
        self.lean = lean
        self.new_keys = tuple(new_keys)
        self.unused_keys = tuple(unused_keys)
        self.config_name = config_name
        self.resumed_from: str | None = None  # the checkpoint --resume continued from, None if it started anew
        self.last_saved: tuple[str, int | None] | None = None  # (path, iteration) of the newest write
        self._reading: str | None = None
        self._allow_new_keys = False
        self._check_new_key_patterns()

    @classmethod
    def from_config(cls, cfg: CfgNode, model: nn.Module, save_dir: str = "", *, config_name: str = "the config",
                    **checkpointables: Any) -> GPACheckpointer:
        return cls(
            model,
            save_dir,
            clip_pretrained=cfg.MODEL.CLIP.PRETRAINED,
            lean=cfg.SOLVER.LEAN_CHECKPOINTS and bool(cfg.MODEL.CLIP.PRETRAINED),
            new_keys=cfg.MODEL.WEIGHTS_NEW_KEYS,
            unused_keys=cfg.MODEL.WEIGHTS_UNUSED_KEYS,
            config_name=config_name,
            **checkpointables,
        )

    def _check_new_key_patterns(self) -> None:
        keys = self.model.state_dict().keys()
        for pattern in self.new_keys:
            if not any(fnmatch.fnmatchcase(key, pattern) for key in keys):
                raise ValueError(
                    f"MODEL.WEIGHTS_NEW_KEYS pattern {pattern!r} matches no key of the model built from "
                    f"{self.config_name}; patterns are fnmatch patterns over state-dict keys such as "
                    f"{', '.join(list(keys)[:3])}"
                )

    # ------------------------------------------------------------------ reading
    _preloaded: tuple[str, dict[str, Any]] | None = None  # a file resume_or_load has read already

    def _load_file(self, filename: str) -> dict[str, Any]:
        if self._preloaded is not None and self._preloaded[0] == filename:
            return self._preloaded[1]
        return self._read(filename)

    def _read(self, filename: str) -> dict[str, Any]:
        """The checkpoint as {"model": state dict, ...}, read without running code."""
        data = read_checkpoint_file(filename)
        if not isinstance(data, dict):
            raise CheckpointReadError(f"checkpoint {filename} holds a {type(data).__name__}, not a dict of weights")
        if "model" not in data:
            if filename.endswith(".pkl") and "blobs" in data:
                data = data["blobs"]
            data = {"model": data}
        if not isinstance(data["model"], dict):
            raise CheckpointReadError(f"checkpoint {filename}: its 'model' entry is a {type(data['model']).__name__}, "
                                      "not a state dict")
        if data.pop("matching_heuristics", False):
            logger.info(f"{filename} asks for name-matching heuristics; gpa matches names exactly")
        data.pop("__author__", None)
        return data

    def load(self, path: str, checkpointables: list[str] | None = None) -> dict[str, Any]:
        """Load `path` (model and the named checkpointables; None = all); errors name the file."""
        if not path:
            logger.info("No checkpoint given: the model keeps its initialization")
            return {}
        if "://" not in path and not os.path.isfile(path):
            raise FileNotFoundError(f"checkpoint {path} does not exist (MODEL.WEIGHTS, --weights or weights=)")
        self._reading = path
        try:
            return super().load(path, checkpointables=checkpointables)
        finally:
            self._reading = None

    def _load_model(self, checkpoint: dict[str, Any]) -> Any:
        state = checkpoint["model"]
        self._convert_ndarray_to_tensor(state)
        skipped = sorted(KNOWN_NON_MODEL_KEYS & state.keys())
        for key in skipped:
            del state[key]
        if skipped:
            logger.info(f"Skipped buffers of other codebases' training-only modules in {self._reading}: "
                        f"{', '.join(skipped)}")
        self._check_lean_record(checkpoint.pop(LEAN_RECORD_KEY, None))
        return Checkpointer._load_model(self, checkpoint)

    def _check_lean_record(self, record: dict[str, Any] | None) -> None:
        if record is None:
            return
        source = record.get("clip_pretrained", "")
        if _source_identity(source) != _source_identity(self.clip_pretrained):
            raise ValueError(
                f"checkpoint {self._reading} leaves out the frozen CLIP weights, which come from MODEL.CLIP.PRETRAINED "
                f"{source!r}, but {self.config_name} sets MODEL.CLIP.PRETRAINED {self.clip_pretrained!r}; set "
                f"MODEL.CLIP.PRETRAINED {source}"
            )

    def _log_incompatible_keys(self, incompatible: Any) -> None:
        model = self.model
        may_be_missing: set[str] = set()
        if self.clip_pretrained and _has_frozen_clip(model):
            may_be_missing |= pretrained_clip_keys(model)
        new = []
        if self._allow_new_keys and self.new_keys:
            new = [k for k in incompatible.missing_keys
                   if any(fnmatch.fnmatchcase(k, pattern) for pattern in self.new_keys)]
        unused = []
        if self._allow_new_keys and self.unused_keys:
            unused = [k for k in incompatible.unexpected_keys
                      if any(fnmatch.fnmatchcase(k, pattern) for pattern in self.unused_keys)]
        check_checkpoint_keys(
            incompatible.missing_keys,
            [k for k in incompatible.unexpected_keys if k not in set(unused)],
            incompatible.incorrect_shapes,
            may_be_missing | set(new),
            checkpoint=str(self._reading),
            config=self.config_name,
        )
        if new:
            logger.info(f"Newly initialized (MODEL.WEIGHTS_NEW_KEYS, not in {self._reading}): {len(new)} keys: "
                        f"{', '.join(sorted(new))}")
        if unused:
            logger.info(f"Not used (MODEL.WEIGHTS_UNUSED_KEYS, in {self._reading} only): {len(unused)} keys: "
                        f"{', '.join(sorted(unused))}")

    # ------------------------------------------------------------------ resuming
    def resume_or_load(self, path: str, *, resume: bool = True) -> dict[str, Any]:
        """Resume from the newest checkpoint of save_dir that reads (skipping broken ones, saying why), else load
        `path` (MODEL.WEIGHTS) as initialization, where MODEL.WEIGHTS_NEW_KEYS may be missing."""
        self.resumed_from = None
        if resume:
            for candidate in self._resume_candidates():
                try:
                    data = self._read(candidate)
                except (CheckpointReadError, OSError) as err:
                    logger.warning(f"--resume: skipping {candidate}: {err}")
                    continue
                self._preloaded = (candidate, data)
                try:
                    extra = self.load(candidate)
                finally:
                    self._preloaded = None
                self.resumed_from = candidate
                return extra
            if self.has_checkpoint() or self.get_all_checkpoint_files():
                logger.warning(f"--resume: no checkpoint in {self.save_dir} could be read; starting from "
                               f"MODEL.WEIGHTS {path!r}")
        self._allow_new_keys = True
        try:
            return self.load(path, checkpointables=[])
        finally:
            self._allow_new_keys = False

    def _resume_candidates(self) -> list[str]:
        """The file last_checkpoint names, then every other .pth of save_dir, newest first."""
        candidates = []
        tagged = self.get_checkpoint_file() if self.has_checkpoint() else ""
        if tagged and os.path.basename(tagged):
            candidates.append(tagged)
        elif self.has_checkpoint():
            logger.warning(f"--resume: {os.path.join(self.save_dir, LAST_CHECKPOINT_FILE)} is empty; looking for "
                           "checkpoints by date")
        others = sorted(self.get_all_checkpoint_files(), key=os.path.getmtime, reverse=True)
        return candidates + [c for c in others if os.path.abspath(c) not in map(os.path.abspath, candidates)]

    # ------------------------------------------------------------------ writing
    def model_state_to_save(self) -> dict[str, torch.Tensor]:
        """The model's state dict, without the frozen CLIP weights when lean."""
        state = self.model.state_dict()
        if self.lean:
            for key in pretrained_clip_keys(self.model):
                del state[key]
        return state

    def save(self, name: str, **kwargs: Any) -> None:
        """Write `<save_dir>/<name>.pth` atomically and point last_checkpoint at it."""
        if not self.save_dir or not self.save_to_disk:
            return
        data: dict[str, Any] = {"model": self.model_state_to_save()}
        broken = non_finite_tensors(data["model"])
        if broken:
            raise FloatingPointError(
                f"not saving checkpoint {name}: the weights hold NaN or infinity ({', '.join(broken[:5])}"
                f"{' ...' if len(broken) > 5 else ''}); training diverged: lower SOLVER.BASE_LR or enable "
                "SOLVER.CLIP_GRADIENTS"
            )
        if self.lean:
            data[LEAN_RECORD_KEY] = {
                "clip_pretrained": self.clip_pretrained,
                "omitted": "frozen CLIP weights: MODEL.CLIP.PRETRAINED provides them",
            }
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        path = os.path.join(self.save_dir, basename)
        self.logger.info(f"Saving checkpoint to {path}")
        atomic_torch_save(data, path)
        self.tag_last_checkpoint(basename)
        self.last_saved = (path, kwargs.get("iteration"))

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        atomic_write_text(os.path.join(self.save_dir, LAST_CHECKPOINT_FILE), last_filename_basename)

    def quarantine_last_saved(self, reason: str) -> str | None:
        """Rename the newest written checkpoint to `*.diverged` and point last_checkpoint at the one before it."""
        if self.last_saved is None or not os.path.isfile(self.last_saved[0]):
            return None
        path = self.last_saved[0]
        os.replace(path, path + ".diverged")
        self.last_saved = None
        remaining = sorted(self.get_all_checkpoint_files(), key=os.path.getmtime, reverse=True)
        if remaining:
            self.tag_last_checkpoint(os.path.basename(remaining[0]))
        else:
            Path(self.save_dir, LAST_CHECKPOINT_FILE).unlink(missing_ok=True)
        logger.error(f"Renamed {path} to {path}.diverged: {reason}")
        return path + ".diverged"

