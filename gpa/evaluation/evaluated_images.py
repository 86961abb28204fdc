"""Evaluation restricted to the images actually evaluated (e.g. with TEST.MAX_EVAL_IMAGES)."""
from __future__ import annotations

import itertools
from typing import Any

from detectron2.data.catalog import Metadata
from detectron2.utils import comm

__all__ = ["gather_image_ids", "metadata_view"]


def gather_image_ids(local_ids: list) -> set:
    """Image ids processed on every rank (an all_gather: call it on all ranks)."""
    return set(itertools.chain.from_iterable(comm.all_gather(local_ids)))


def metadata_view(metadata: Metadata, **changes: Any) -> Metadata:
    """A detached copy of a dataset's metadata with some fields replaced (the catalog entry is untouched)."""
    fields = metadata.as_dict()
    fields.update(changes)
    return Metadata(**fields)
