import numpy as np
import pytest
import torch

from gpa.modeling.inference.ensemble import geometric_ensemble


def _reference(in_logits, cfa_logits, seen, alpha, beta):
    """Direct numpy transcription of method.md section 7."""
    p_in = np.exp(in_logits) / np.exp(in_logits).sum(-1, keepdims=True)
    p_cfa = np.exp(cfa_logits) / np.exp(cfa_logits).sum(-1, keepdims=True)
    w = np.where(seen, alpha, beta)
    mixed = p_in[..., :-1] ** (1 - w) * p_cfa**w
    mixed = mixed / mixed.sum(-1, keepdims=True)
    void = p_in[..., -1:]
    return np.concatenate([mixed * (1 - void), void], -1)


def test_matches_formula_on_hand_made_logits():
    in_logits = torch.tensor([[[2.0, 0.5, -1.0, 0.0], [0.0, 0.0, 0.0, 3.0]]])
    cfa_logits = torch.tensor([[[0.1, 1.5, 0.3], [-2.0, 2.0, 0.0]]])
    seen = torch.tensor([True, False, True])
    got = geometric_ensemble(in_logits, cfa_logits, seen, alpha=0.4, beta=0.8)
    want = _reference(in_logits.numpy(), cfa_logits.numpy(), seen.numpy(), 0.4, 0.8)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, rtol=1e-6)


def test_zero_weights_give_in_vocabulary_softmax():
    in_logits = torch.randn(2, 5, 4)
    got = geometric_ensemble(in_logits, torch.randn(2, 5, 3), torch.tensor([True, False, True]), 0.0, 0.0)
    torch.testing.assert_close(got, in_logits.softmax(-1))


def test_unseen_classes_lean_on_cfa():
    in_logits = torch.tensor([[0.0, 0.0, -10.0]])  # in-vocab undecided, no void
    cfa_logits = torch.tensor([[0.0, 4.0]])  # CFA prefers class 1
    seen_low = geometric_ensemble(in_logits, cfa_logits, torch.tensor([True, True]), 0.4, 0.8)
    unseen_high = geometric_ensemble(in_logits, cfa_logits, torch.tensor([False, False]), 0.4, 0.8)
    assert unseen_high[0, 1] > seen_low[0, 1] > 0.5


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="classes \\+ void"):
        geometric_ensemble(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(3, dtype=torch.bool), 0.4, 0.8)
    with pytest.raises(ValueError, match="seen mask"):
        geometric_ensemble(torch.zeros(1, 4), torch.zeros(1, 3), torch.ones(2, dtype=torch.bool), 0.4, 0.8)
