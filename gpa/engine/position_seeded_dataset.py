"""Training data whose random augmentation is a function of (data seed, stream position) only.

Each sample is mapped with Python's, numpy's and torch's global generators seeded from the data seed and the
sample's global position in the training stream, and restored afterwards. So the augmented batches do not
depend on the number of DataLoader workers, on which worker maps a sample, or on where a run was resumed: a
resumed run with workers continues bit-exactly, and each rank (which reads other positions) augments its own.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["PositionSeededMapDataset", "position_seed", "seeded_global_rngs"]


def position_seed(data_seed: int, position: int) -> int:
    """A 32-bit seed for the sample at `position` of the stream of `data_seed` (numpy's SeedSequence mixing)."""
    return int(np.random.SeedSequence([int(data_seed) & 0xFFFFFFFF, int(position)]).generate_state(1)[0])


@contextlib.contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """Seed random, numpy and torch (CPU) global generators; put their previous states back on exit."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


class PositionSeededMapDataset(Dataset):
    """`mapper(dataset[index])` for items `(position, index)` from ResumableTrainingSampler(yield_positions=True)."""

    def __init__(self, dataset: Any, mapper: Callable[[dict], dict], data_seed: int) -> None:
        self._dataset = dataset
        self._mapper = mapper
        self._seed = int(data_seed)

    def __len__(self) -> int:
        return len(self._dataset)

    def __getitem__(self, item: tuple[int, int]) -> dict:
        position, index = item
        with seeded_global_rngs(position_seed(self._seed, position)):
            mapped = self._mapper(self._dataset[index])
        if mapped is None:
            raise ValueError(f"the training mapper returned nothing for dataset entry {index} "
                             f"({self._dataset[index].get('file_name', '?')}); mappers must return a sample")
        return mapped
