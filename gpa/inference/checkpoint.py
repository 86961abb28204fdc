"""Loading trained weights for inference, refusing checkpoints that do not fit the model.

detectron2's DetectionCheckpointer reads the file (our .pth, detectron2 .pkl, "module."-prefixed DDP
state dicts); the key comparison is ours and fails instead of warning.

Rule for the frozen CLIP weights: a checkpoint must hold every trained weight (adapters, heads, and the
image tower when MODEL.CLIP.FREEZE_ENCODER is False). The frozen pretrained CLIP weights
(`backbone.clip_model.*` apart from those) may be left out when MODEL.CLIP.PRETRAINED names them (a tag or a
file): the model keeps the weights it was built with. With PRETRAINED "" they are required, since the model
would otherwise run on random CLIP weights. A checkpoint saved by our trainer holds them, and its values win.
"""
from __future__ import annotations

import pickle
from collections.abc import Collection, Sequence
from pathlib import Path

from detectron2.checkpoint import DetectionCheckpointer
from torch import nn

__all__ = ["check_checkpoint_keys", "load_checkpoint", "pretrained_clip_keys"]

SHOWN_KEYS = 5


def pretrained_clip_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the CLIP model's frozen pretrained weights: what MODEL.CLIP.PRETRAINED provides.

    Excludes trainable parameters and every key of the inserted adapters.
    """
    backbone = model.backbone
    names = {id(module): name for name, module in model.named_modules()}
    clip_prefix = names[id(backbone.clip_model)] + "."
    adapter_prefixes = tuple(names[id(adapter)] + "." for adapter in backbone.adapters)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    return {
        key
        for key in model.state_dict()
        if key.startswith(clip_prefix) and not key.startswith(adapter_prefixes) and key not in trainable
    }


def _first(keys: Sequence[str]) -> str:
    more = f" ... ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else ""
    return ", ".join(keys[:SHOWN_KEYS]) + more


def check_checkpoint_keys(
    missing: Sequence[str],
    unexpected: Sequence[str],
    incorrect_shapes: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]],
    may_be_missing: Collection[str] = (),
    *,
    checkpoint: str = "the checkpoint",
    config: str = "the config",
) -> None:
    """Raise ValueError naming the first missing / unexpected / mis-shaped keys; `may_be_missing` is allowed."""
    missing = sorted(k for k in missing if k not in may_be_missing)
    unexpected = sorted(unexpected)
    problems = []
    if missing:
        problems.append(f"missing keys (in the model, not in the checkpoint): {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys (in the checkpoint, not in the model): {_first(unexpected)}")
    if incorrect_shapes:
        shapes = [f"{k} (checkpoint {tuple(c)}, model {tuple(m)})" for k, c, m in sorted(incorrect_shapes)]
        problems.append(f"shape mismatches: {_first(shapes)}")
    if problems:
        raise ValueError(
            f"checkpoint {checkpoint} does not match the model built from {config}: " + "; ".join(problems)
            + ". Use the config the checkpoint was trained with (MODEL.CLIP.MODEL_NAME, adapter and head sizes)."
        )


class _KeyCheckingCheckpointer(DetectionCheckpointer):
    """Reads and loads like DetectionCheckpointer but keeps the key mismatches instead of logging them."""

    incompatible = None

    def _log_incompatible_keys(self, incompatible) -> None:
        self.incompatible = incompatible


def load_checkpoint(model: nn.Module, path: str | Path, *, clip_pretrained: str, config: str = "the config") -> None:
    """Load `path` into `model`; fail on any key mismatch (frozen CLIP weights: see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (the Predictor's weights / MODEL.WEIGHTS)")
    checkpointer = _KeyCheckingCheckpointer(model)
    try:
        checkpointer.load(str(path), checkpointables=[])
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise ValueError(f"cannot read checkpoint {path}: {err}") from err
    incompatible = checkpointer.incompatible
    check_checkpoint_keys(
        incompatible.missing_keys,
        incompatible.unexpected_keys,
        incompatible.incorrect_shapes,
        pretrained_clip_keys(model) if clip_pretrained else (),
        checkpoint=str(path),
        config=config,
    )
