"""Checkpointed training state beyond weights/optimizer/scheduler: the data-order seed and the
random-number generators, so `--resume` continues the interrupted run rather than a new one.

The state holds only tensors and Python scalars, so checkpoints load with `torch.load(weights_only=True)`
(torch's default, used by detectron2's checkpointer): numpy's generator state is stored as a tensor.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from detectron2.engine import HookBase

__all__ = ["TrainingStateHook"]


class TrainingStateHook(HookBase):
    """Holds the data-order seed; its state (seed + RNG states) is saved in every checkpoint."""

    def __init__(self, data_seed: int) -> None:
        self.data_seed = int(data_seed)

    def state_dict(self) -> dict[str, Any]:
        state = {
            "data_seed": self.data_seed,
            "torch": torch.get_rng_state(),
            "numpy": _numpy_state_to_safe(np.random.get_state()),
            "python": random.getstate(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.data_seed = int(state["data_seed"])
        torch.set_rng_state(state["torch"])
        np.random.set_state(_numpy_state_from_safe(state["numpy"]))
        random.setstate(state["python"])
        if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_state_to_safe(state: tuple) -> tuple:
    """numpy's legacy generator state with its key array as an int64 tensor (no numpy objects in checkpoints)."""
    name, keys, position, has_gauss, cached_gaussian = state
    return name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached_gaussian)


def _numpy_state_from_safe(state: tuple) -> tuple:
    name, keys, position, has_gauss, cached_gaussian = state
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    return name, keys.astype(np.uint32), position, has_gauss, cached_gaussian
