"""Geometric ensemble of the in-vocabulary and CFA classifiers, with void handling (pure functions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["geometric_ensemble"]


def geometric_ensemble(
    in_vocab_logits: torch.Tensor,
    cfa_logits: torch.Tensor,
    seen: torch.Tensor,
    alpha: float,
    beta: float,
) -> torch.Tensor:
    """Class probabilities [..., C+1] (last = void) from both classifiers.

    in_vocab_logits: [..., C+1], last column the void class; cfa_logits: [..., C];
    seen: bool [C], classes of the test vocabulary seen in training.
    Per class p = p_in^(1-w) * p_cfa^w with w = alpha for seen and beta for unseen classes,
    renormalized over the C classes and scaled by (1 - p_void); p_void comes from the in-vocabulary
    softmax. Rows sum to 1.
    """
    num_classes = cfa_logits.shape[-1]
    if in_vocab_logits.shape[-1] != num_classes + 1:
        raise ValueError(
            f"in-vocabulary logits have {in_vocab_logits.shape[-1]} columns; expected {num_classes} classes + void"
        )
    if seen.shape != (num_classes,):
        raise ValueError(f"seen mask has shape {tuple(seen.shape)}; expected ({num_classes},)")
    log_p_in = F.log_softmax(in_vocab_logits.float(), dim=-1)
    log_p_cfa = F.log_softmax(cfa_logits.float(), dim=-1)
    weight = torch.where(seen.to(log_p_in.device), alpha, beta).to(log_p_in.dtype)
    mixed = (1.0 - weight) * log_p_in[..., :-1] + weight * log_p_cfa
    p_void = log_p_in[..., -1:].exp()
    return torch.cat([mixed.softmax(dim=-1) * (1.0 - p_void), p_void], dim=-1)
