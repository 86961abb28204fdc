"""A training sampler whose infinite shuffled stream can start part-way, so a resumed run sees
exactly the images the interrupted run would have seen next."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from detectron2.utils import comm
from torch.utils.data import Sampler

__all__ = ["ResumableTrainingSampler"]


class ResumableTrainingSampler(Sampler[int]):
    """detectron2's TrainingSampler stream (seeded shuffles, sharded by rank) minus its first
    `start_index` global positions. With `yield_positions`, items are (global position, index) pairs."""

    def __init__(self, size: int, seed: int, start_index: int = 0, shuffle: bool = True,
                 yield_positions: bool = False) -> None:
        if size <= 0:
            raise ValueError(f"the training set is empty (size={size}); check DATASETS.TRAIN")
        if start_index < 0:
            raise ValueError(f"start_index must be >= 0, got {start_index}")
        self._size = size
        self._seed = int(seed)
        self._start = start_index
        self._shuffle = shuffle
        self._yield_positions = yield_positions
        self._rank = comm.get_rank()
        self._world_size = comm.get_world_size()

    def _global_stream(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self._seed)
        while True:
            if self._shuffle:
                yield from torch.randperm(self._size, generator=g).tolist()
            else:
                yield from range(self._size)

    def __iter__(self) -> Iterator[int] | Iterator[tuple[int, int]]:
        first = self._start + self._rank
        mine = itertools.islice(self._global_stream(), first, None, self._world_size)
        if self._yield_positions:
            return zip(itertools.count(first, self._world_size), mine)
        return mine
