"""CLIP text embeddings of a vocabulary's synonyms, prompt-ensembled and cached per vocabulary."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from detectron2.config import configurable
from torch import nn

from gpa.vocabulary import Vocabulary

from .templates import check_templates, get_templates

__all__ = ["TextEncoder", "TextClassifier", "prompt_ensemble"]


class TextEncoder(Protocol):
    """What the classifier needs from CLIP (CLIPBackbone provides both)."""

    def tokenize(self, texts: list[str]) -> torch.Tensor: ...

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor: ...


def prompt_ensemble(embeddings: torch.Tensor) -> torch.Tensor:
    """[S, T, E] per-template embeddings -> [S, E]: normalize, average over templates, re-normalize."""
    return F.normalize(F.normalize(embeddings, dim=-1).mean(dim=1), dim=-1)


class TextClassifier(nn.Module):
    """vocabulary -> (synonym embeddings [S, E] float32, class index int64 [S]).

    Each synonym is embedded with every template (`prompt_ensemble`); `class_index[s]` is the class of
    synonym s. Results are computed without gradients, `chunk_size` prompts per encoder call, and
    cached per vocabulary (its class tuples) on the encoder's device; moving the module (`.to()`)
    clears the cache. The encoder is kept as plain callables, not as a submodule, so the CLIP model
    is registered only once (under the backbone).
    """

    @configurable
    def __init__(
        self,
        text_encoder: TextEncoder,
        templates: Sequence[str] = get_templates("vild"),
        chunk_size: int = 256,
    ) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ValueError(f"text chunk size (MODEL.CLIP.TEXT_CHUNK_SIZE) must be >= 1, got {chunk_size}")
        self._tokenize: Callable[[list[str]], torch.Tensor] = text_encoder.tokenize
        self._encode: Callable[[torch.Tensor], torch.Tensor] = text_encoder.encode_text
        self.templates = check_templates(templates)
        self.chunk_size = chunk_size
        self._cache: dict[tuple[tuple[str, ...], ...], tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_config(cls, cfg, text_encoder: TextEncoder) -> dict[str, Any]:
        return {
            "text_encoder": text_encoder,
            "templates": get_templates(cfg.MODEL.CLIP.PROMPT_TEMPLATES),
            "chunk_size": cfg.MODEL.CLIP.TEXT_CHUNK_SIZE,
        }

    def forward(self, vocabulary: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
        key = vocabulary.classes
        if key not in self._cache:
            self._cache[key] = self._embed(vocabulary)
        return self._cache[key]

    @torch.no_grad()
    def _embed(self, vocabulary: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
        synonyms = [name for names in vocabulary.classes for name in names]
        classes = [index for index, names in enumerate(vocabulary.classes) for _ in names]
        prompts = [template.format(name) for name in synonyms for template in self.templates]
        chunks = [
            self._encode(self._tokenize(prompts[start : start + self.chunk_size])).float()
            for start in range(0, len(prompts), self.chunk_size)
        ]
        embeddings = torch.cat(chunks).view(len(synonyms), len(self.templates), -1)
        class_index = torch.tensor(classes, dtype=torch.int64, device=embeddings.device)
        return prompt_ensemble(embeddings), class_index

    def clear_cache(self) -> None:
        """Forget all cached vocabularies."""
        self._cache.clear()

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> TextClassifier:
        self.clear_cache()  # cached tensors live on the old device/dtype; recompute on next use
        return super()._apply(fn, recurse)

    def extra_repr(self) -> str:
        return f"templates={len(self.templates)}, chunk_size={self.chunk_size}, cached={len(self._cache)}"
