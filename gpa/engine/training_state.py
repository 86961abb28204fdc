"""Checkpointed training state beyond weights/optimizer/scheduler: the data-order seed and the
random-number generators, so `--resume` continues the interrupted run rather than a new one."""

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
            "numpy": np.random.get_state(),
            "python": random.getstate(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.data_seed = int(state["data_seed"])
        torch.set_rng_state(state["torch"])
        np.random.set_state(state["numpy"])
        random.setstate(state["python"])
        if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
