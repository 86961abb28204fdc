"""Which checkpoint keys a model may do without, and the error that names the others.

Rule for the frozen CLIP weights: a checkpoint must hold every trained weight (adapters, heads, and the
image tower when MODEL.CLIP.FREEZE_ENCODER is False). The frozen pretrained CLIP weights
(`backbone.clip_model.*` apart from those) may be left out when MODEL.CLIP.PRETRAINED names them (a tag or a
file): the model keeps the weights it was built with. With PRETRAINED "" they are required, since the model
would otherwise run on random CLIP weights. A checkpoint saved by our trainer holds them, and its values win.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence

from torch import nn

__all__ = ["check_checkpoint_keys", "pretrained_clip_keys"]

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
