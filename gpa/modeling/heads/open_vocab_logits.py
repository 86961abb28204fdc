"""Cosine-similarity logits of CLIP-space embeddings against a vocabulary (pure function)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gpa.modeling.text.synonyms import max_over_synonyms

__all__ = ["open_vocab_logits"]


def open_vocab_logits(
    embeddings: torch.Tensor,
    synonym_embeddings: torch.Tensor,
    class_index: torch.Tensor,
    num_classes: int,
    logit_scale: torch.Tensor | float,
    void_embedding: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits [..., C] (or [..., C+1] with a void column last).

    embeddings: [..., E]; synonym_embeddings: [S, E] (L2-normalized text embeddings, several per
    class); class_index: [S] class of each synonym. A class scores the max over its synonyms.
    Inputs are L2-normalized here, so the logits are scaled cosine similarities.
    """
    embeddings = F.normalize(embeddings, dim=-1)
    text = F.normalize(synonym_embeddings.to(embeddings.dtype), dim=-1)
    logits = max_over_synonyms(logit_scale * embeddings @ text.t(), class_index, num_classes)
    if void_embedding is None:
        return logits
    void = F.normalize(void_embedding.to(embeddings.dtype), dim=-1)
    return torch.cat([logits, logit_scale * (embeddings * void).sum(-1, keepdim=True)], dim=-1)
