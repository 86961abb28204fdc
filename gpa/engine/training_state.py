"""Checkpointed training state beyond weights/optimizer/scheduler: the data-order seed and every rank's
random-number generators, so `--resume` continues the interrupted run rather than a new one.

Only rank 0 writes checkpoints, so on a checkpoint iteration every rank sends its generator states to all
(one all_gather), and rank 0 saves the list; on resume each rank takes its own back. The state holds only
tensors and Python scalars, so checkpoints load with `torch.load(weights_only=True)`: numpy's generator state is
stored as a tensor.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import torch
from detectron2.engine import HookBase
from detectron2.utils import comm

from .position_seeded_dataset import position_seed

__all__ = ["TrainingStateHook"]

logger = logging.getLogger(__name__)


def _local_rng_state() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state_to_safe(np.random.get_state()),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_local_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(_numpy_state_from_safe(state["numpy"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingStateHook(HookBase):
    """Holds the data-order seed; its state (seed + each rank's RNG states) is saved in every checkpoint.

    `checkpoint_period` / `max_iter` tell on which iterations the periodic checkpointer saves, so that the ranks
    gather their states exactly then (a collective every rank must join)."""

    def __init__(self, data_seed: int, checkpoint_period: int = 0, max_iter: int = 0) -> None:
        self.data_seed = int(data_seed)
        self._period = checkpoint_period
        self._max_iter = max_iter
        self._gathered: list[dict[str, Any]] | None = None

    def _saves_after(self, iteration: int) -> bool:
        return (self._period > 0 and (iteration + 1) % self._period == 0) or iteration >= self._max_iter - 1

    def after_step(self) -> None:
        if comm.get_world_size() > 1 and self._saves_after(self.trainer.iter):
            self._gathered = comm.all_gather(_local_rng_state())

    def state_dict(self) -> dict[str, Any]:
        ranks = self._gathered if comm.get_world_size() > 1 and self._gathered is not None else [_local_rng_state()]
        return {"data_seed": self.data_seed, "ranks": ranks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.data_seed = int(state["data_seed"])
        ranks = state["ranks"] if "ranks" in state else [state]  # checkpoints before per-rank states: one rank
        rank, world = comm.get_rank(), comm.get_world_size()
        if len(ranks) == world:
            _restore_local_rng_state(ranks[rank])
            return
        logger.warning(f"The checkpoint holds the generator states of {len(ranks)} rank(s), this run has {world}: "
                       "every rank's generators are seeded anew from the data seed and its rank, so the resumed "
                       "run's random draws differ from an uninterrupted one")
        seed = position_seed(self.data_seed, rank)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


def _numpy_state_to_safe(state: tuple) -> tuple:
    """numpy's legacy generator state with its key array as an int64 tensor (no numpy objects in checkpoints)."""
    name, keys, position, has_gauss, cached_gaussian = state
    return name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached_gaussian)


def _numpy_state_from_safe(state: tuple) -> tuple:
    name, keys, position, has_gauss, cached_gaussian = state
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    return name, keys.astype(np.uint32), position, has_gauss, cached_gaussian
