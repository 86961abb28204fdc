"""Checks of config keys that list encoder stages (MODEL.ADAPTER.STAGES, MODEL.CLIP.CHECKPOINT_STAGES)."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_stage_indices"]


def check_stage_indices(stages: Sequence[int], num_stages: int, key: str, off_hint: str = "") -> None:
    """Fail naming `key` on a stage listed twice or one the encoder lacks; `off_hint` ends the range message."""
    if len(set(stages)) != len(stages):
        raise ValueError(f"{key} lists a stage twice: {tuple(stages)}")
    for stage in stages:
        if not 0 <= stage < num_stages:
            raise ValueError(
                f"{key} has stage {stage}, but this encoder has {num_stages} stage(s) "
                f"(valid indices 0..{num_stages - 1}{off_hint})"
            )
