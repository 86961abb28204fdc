"""Geometric ensemble of the in-vocabulary and CFA classifiers, with void handling (pure functions).

Two formulas, members of ENSEMBLE_FORMULA_REGISTRY chosen by `MODEL.GPA.ENSEMBLE_FORMULA`:
- "fcclip" (the default): FC-CLIP's. Void is dropped from the in-vocabulary logits before their
  softmax; p_void comes from a separate softmax that includes void. The result goes through
  FC-CLIP's log(p + 1e-8) and softmax round trip, so post-processing sees the numbers FC-CLIP's does.
- "void_in_softmax": gpa's earlier formula. The in-vocabulary softmax runs over the classes and void,
  then void is dropped; kept only to reproduce results made with it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gpa.registry import NamedRegistry

__all__ = ["ENSEMBLE_FORMULA_REGISTRY", "fcclip_ensemble", "geometric_ensemble", "void_in_softmax_ensemble"]

# MODEL.GPA.ENSEMBLE_FORMULA -> f(in_vocab_logits, cfa_logits, seen, alpha, beta, valid): probabilities [..., C+1]
ENSEMBLE_FORMULA_REGISTRY = NamedRegistry("ENSEMBLE_FORMULA", "ensemble formula")

# FC-CLIP turns the ensembled probabilities into log(p + eps) and each post-processing step takes a softmax of them.
FCCLIP_LOG_EPS = 1e-8


def _check_shapes(in_vocab_logits: torch.Tensor, cfa_logits: torch.Tensor, seen: torch.Tensor) -> None:
    num_classes = cfa_logits.shape[-1]
    if in_vocab_logits.shape[-1] != num_classes + 1:
        raise ValueError(
            f"in-vocabulary logits have {in_vocab_logits.shape[-1]} columns; expected {num_classes} classes + void"
        )
    if seen.shape != (num_classes,):
        raise ValueError(f"seen mask has shape {tuple(seen.shape)}; expected ({num_classes},)")


def _weights(
    seen: torch.Tensor, alpha: float, beta: float, valid: torch.Tensor | None, like: torch.Tensor
) -> torch.Tensor:
    """Per (query, class) CFA weight: alpha (seen) or beta (unseen), 0 for queries where `valid` is False."""
    weight = torch.where(seen.to(like.device), alpha, beta).to(like.dtype).expand_as(like)
    if valid is not None:
        weight = weight * valid.to(device=like.device, dtype=like.dtype).unsqueeze(-1)
    return weight


@ENSEMBLE_FORMULA_REGISTRY.register_as("fcclip")
def fcclip_ensemble(
    in_vocab_logits: torch.Tensor,
    cfa_logits: torch.Tensor,
    seen: torch.Tensor,
    alpha: float,
    beta: float,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """FC-CLIP's class probabilities [..., C+1] (last = void).

    in_vocab_logits: [..., C+1], last column void; cfa_logits: [..., C]; seen: bool [C];
    valid: optional bool [...] (FC-CLIP's ENSEMBLE_ON_VALID_MASK: queries whose mask has no pixel
    above 0 at the CLIP map's size keep the in-vocabulary probabilities alone).
    p_in = softmax over the C classes (void dropped first), p_cfa = softmax over the C classes;
    per class p = p_in^(1-w) p_cfa^w (w = alpha seen, beta unseen), renormalized over the classes,
    scaled by (1 - p_void) with p_void from the softmax over classes and void; then
    softmax(log(p + 1e-8)) as FC-CLIP's post-processing takes it. Computed in float32, in FC-CLIP's
    order of operations (powers of probabilities, then log), so results match it bit for bit.
    """
    _check_shapes(in_vocab_logits, cfa_logits, seen)
    in_vocab_logits, cfa_logits = in_vocab_logits.float(), cfa_logits.float()
    p_in = in_vocab_logits[..., :-1].softmax(dim=-1)
    p_cfa = cfa_logits.softmax(dim=-1)
    if valid is None:  # scalar exponents, as FC-CLIP without ENSEMBLE_ON_VALID_MASK
        w_seen, w_unseen = alpha, beta
    else:
        valid = valid.to(device=p_in.device, dtype=p_in.dtype).unsqueeze(-1)
        w_seen, w_unseen = torch.ones_like(p_in) * alpha * valid, torch.ones_like(p_in) * beta * valid
    seen_term = (p_in ** (1 - w_seen) * p_cfa**w_seen).log()
    unseen_term = (p_in ** (1 - w_unseen) * p_cfa**w_unseen).log()
    # FC-CLIP sums the two terms multiplied by the 0/1 mask; a select gives the same finite numbers and no
    # NaN (-inf * 0) when a probability underflows to 0.
    mixed = torch.where(seen.to(p_in.device), seen_term, unseen_term)
    p_void = in_vocab_logits.softmax(dim=-1)[..., -1:]
    probs = torch.cat([mixed.softmax(dim=-1) * (1.0 - p_void), p_void], dim=-1)
    return torch.log(probs + FCCLIP_LOG_EPS).softmax(dim=-1)


@ENSEMBLE_FORMULA_REGISTRY.register_as("void_in_softmax")
def void_in_softmax_ensemble(
    in_vocab_logits: torch.Tensor,
    cfa_logits: torch.Tensor,
    seen: torch.Tensor,
    alpha: float,
    beta: float,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """gpa's earlier formula: like `fcclip_ensemble`, but p_in is the softmax over the classes and void
    with void then dropped, the mixing is done in log space and there is no log(p + 1e-8) round trip."""
    _check_shapes(in_vocab_logits, cfa_logits, seen)
    log_p_in = F.log_softmax(in_vocab_logits.float(), dim=-1)
    log_p_cfa = F.log_softmax(cfa_logits.float(), dim=-1)
    weight = _weights(seen, alpha, beta, valid, log_p_cfa)
    mixed = (1.0 - weight) * log_p_in[..., :-1] + weight * log_p_cfa
    p_void = log_p_in[..., -1:].exp()
    return torch.cat([mixed.softmax(dim=-1) * (1.0 - p_void), p_void], dim=-1)


def geometric_ensemble(
    in_vocab_logits: torch.Tensor,
    cfa_logits: torch.Tensor,
    seen: torch.Tensor,
    alpha: float,
    beta: float,
    valid: torch.Tensor | None = None,
    formula: str = "fcclip",
) -> torch.Tensor:
    """Class probabilities [..., C+1] (last = void) by the named formula (see the module doc)."""
    ensemble = ENSEMBLE_FORMULA_REGISTRY.get_for(formula, "MODEL.GPA.ENSEMBLE_FORMULA")
    return ensemble(in_vocab_logits, cfa_logits, seen, alpha, beta, valid)
