"""Query mask logits brought to the output resolution a few queries at a time.

The mask generator predicts Q mask logits at stride 4. Post-processing needs them at the output size:
bilinear to the padded input size, crop the image's part, bilinear to the output size (detectron2's
`sem_seg_postprocess`, as Mask2Former). Doing that for all queries at once holds Q x H x W floats
(250 queries at 2048 x 2048: 4 GiB, and a few copies of it), the out-of-memory failure of large
images. `QueryMasks` keeps the low-resolution logits and upsamples on demand: chunks of queries, each
at most `chunk_pixels` full-resolution values, or just the queries a step selects. Each query's
upsampled logits are the same numbers as when all are upsampled together (the resize is per channel).
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_CHUNK_PIXELS", "QueryMasks", "as_query_masks", "binarize_and_score"]

DEFAULT_CHUNK_PIXELS = 2**26  # full-resolution mask values per chunk: 256 MiB of float32


class QueryMasks:
    """Q mask logits at the output size [Q, H, W], computed chunk by chunk from low-resolution logits.

    Args:
        logits: [Q, h, w] mask logits (any float dtype; upsampled in float32).
        padded_size: (Hp, Wp) the padded input size the logits cover; None = the logits are already at the
            output size and are only cast to float32.
        image_size: (Hi, Wi) the image's part of the padded input (cropped after the first resize).
        output_size: (H, W) the output size (second resize); None = (Hi, Wi).
        chunk_pixels: at most this many full-resolution values per chunk (at least one query per chunk);
            0 = all queries in one chunk.
    """

    def __init__(
        self,
        logits: torch.Tensor,
        padded_size: tuple[int, int] | None = None,
        image_size: tuple[int, int] | None = None,
        output_size: tuple[int, int] | None = None,
        chunk_pixels: int = DEFAULT_CHUNK_PIXELS,
    ) -> None:
        if logits.dim() != 3:
            raise ValueError(f"QueryMasks takes mask logits [Q, h, w], got {tuple(logits.shape)}")
        if chunk_pixels < 0:
            raise ValueError(f"chunk_pixels (MODEL.MASK_FORMER.TEST.CHUNK_PIXELS) must be >= 0, got {chunk_pixels}")
        self.logits = logits
        self.padded_size = None if padded_size is None else tuple(int(s) for s in padded_size)
        if self.padded_size is None:
            self.image_size = tuple(logits.shape[-2:])
        else:
            self.image_size = tuple(int(s) for s in image_size) if image_size is not None else self.padded_size
        self.output_size = tuple(int(s) for s in output_size) if output_size is not None else self.image_size
        height, width = self.output_size
        self.chunk_size = len(logits) if chunk_pixels == 0 else max(1, chunk_pixels // max(1, height * width))

    @property
    def shape(self) -> torch.Size:
        """(Q, H, W) of the full-resolution logits."""
        return torch.Size((len(self.logits), *self.output_size))

    @property
    def device(self) -> torch.device:
        return self.logits.device

    def __len__(self) -> int:
        return len(self.logits)

    def __getitem__(self, index: torch.Tensor | slice) -> torch.Tensor:
        """Float32 logits [k, H, W] at the output size of the queries `index` selects (all at once)."""
        selected = self.logits[index]
        if self.padded_size is None:
            return selected.float()
        if selected.shape[0] == 0:
            return selected.new_zeros((0, *self.output_size), dtype=torch.float32)
        up = F.interpolate(selected[None].float(), size=self.padded_size, mode="bilinear", align_corners=False)
        crop = up[:, :, : self.image_size[0], : self.image_size[1]]
        return F.interpolate(crop, size=self.output_size, mode="bilinear", align_corners=False)[0]

    def chunks(self, index: torch.Tensor | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
        """(positions, logits [k, H, W]) over all queries, or over `index` (a 1-D tensor of query indices)
        in its order; `positions` slices the queries (or `index`) that the chunk holds."""
        total = len(self.logits) if index is None else len(index)
        for start in range(0, total, self.chunk_size):
            positions = slice(start, min(start + self.chunk_size, total))
            yield positions, self[positions if index is None else index[positions]]


def as_query_masks(masks: torch.Tensor | QueryMasks) -> QueryMasks:
    """`masks` as QueryMasks: full-resolution logits [Q, H, W] are taken as they are, in one chunk."""
    return masks if isinstance(masks, QueryMasks) else QueryMasks(masks, chunk_pixels=0)


def binarize_and_score(masks: QueryMasks, query_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For the selected queries: binary masks [k, H, W] (float, logit > 0) and the mean mask probability
    inside each (sum of sigmoid over the binary mask / (its area + 1e-6)), chunk by chunk."""
    binary = torch.empty((len(query_index), *masks.output_size), dtype=torch.float32, device=masks.device)
    scores = torch.empty((len(query_index),), dtype=torch.float32, device=masks.device)
    for positions, logits in masks.chunks(query_index):
        chunk = (logits > 0).float()
        binary[positions] = chunk
        scores[positions] = (logits.sigmoid() * chunk).flatten(1).sum(1) / (chunk.flatten(1).sum(1) + 1e-6)
    return binary, scores
