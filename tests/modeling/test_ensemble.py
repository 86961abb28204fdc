"""The geometric ensemble equals FC-CLIP's, transcribed independently from FC-CLIP's source
(fcclip/fcclip.py, FCCLIP.forward, inference branch) in numpy float64."""
import numpy as np
import pytest
import torch

from gpa.modeling.inference.ensemble import fcclip_ensemble, geometric_ensemble, void_in_softmax_ensemble


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _fcclip_reference(mask_cls, out_vocab, overlapping, alpha, beta, valid=None):
    """FC-CLIP: in-vocab and out-of-vocab logits each lose their void column, then softmax; the seen
    (category_overlapping_mask) and unseen geometric means are logged and summed through the 0/1 mask;
    is_void_prob = softmax(mask_cls incl. void)[..., -1:]; probs = [softmax(cls) * (1 - void), void];
    mask_cls_results = log(probs + 1e-8), and every post-processing step takes softmax(mask_cls_results).
    With ENSEMBLE_ON_VALID_MASK, alpha and beta are multiplied by the query's valid flag."""
    p_in = _softmax(mask_cls[..., :-1])
    p_out = _softmax(out_vocab)
    if valid is not None:
        alpha = np.ones_like(p_in) * alpha * valid[..., None]
        beta = np.ones_like(p_in) * beta * valid[..., None]
    m = overlapping.astype(np.float64)
    cls = np.log(p_in ** (1 - alpha) * p_out**alpha) * m + np.log(p_in ** (1 - beta) * p_out**beta) * (1 - m)
    void = _softmax(mask_cls)[..., -1:]
    probs = np.concatenate([_softmax(cls) * (1.0 - void), void], -1)
    return _softmax(np.log(probs + 1e-8))


# Two seen and two unseen classes; query 0 is void-heavy (p_void ~ 0.74), query 1 favours an unseen class,
# query 2 is undecided in-vocab and decided by CLIP.
IN_LOGITS = torch.tensor([[[1.0, 0.3, 0.8, -0.5, 2.8], [0.2, 0.1, 2.5, -1.0, -3.0], [0.0, 0.0, 0.0, 0.0, 0.0]]])
CFA_LOGITS = torch.tensor([[[0.5, 1.5, 3.0, 0.0], [-1.0, 0.0, 1.0, 4.0], [0.0, 5.0, 1.0, 0.0]]])
SEEN = torch.tensor([True, False, True, False])


def test_fcclip_formula_on_mixed_vocabulary_and_void_heavy_queries():
    got = fcclip_ensemble(IN_LOGITS, CFA_LOGITS, SEEN, 0.4, 0.8)
    want = _fcclip_reference(IN_LOGITS.double().numpy(), CFA_LOGITS.double().numpy(), SEEN.numpy(), 0.4, 0.8)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, rtol=1e-6)
    assert got[0, 0, -1] > 0.7  # void-heavy query keeps its void probability


def test_fcclip_formula_on_random_logits_with_scaled_cosines():
    g = torch.Generator().manual_seed(0)
    in_logits = 100 * (2 * torch.rand(3, 50, 21, generator=g) - 1) * 0.3  # CLIP-like scales
    cfa_logits = 100 * (2 * torch.rand(3, 50, 20, generator=g) - 1) * 0.3
    seen = torch.rand(20, generator=g) < 0.5
    got = geometric_ensemble(in_logits, cfa_logits, seen, 0.4, 0.8)  # the default formula is FC-CLIP's
    want = _fcclip_reference(in_logits.double().numpy(), cfa_logits.double().numpy(), seen.numpy(), 0.4, 0.8)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-7)


def test_fcclip_formula_with_ensemble_on_valid_mask():
    valid = torch.tensor([[True, False, True]])
    got = fcclip_ensemble(IN_LOGITS, CFA_LOGITS, SEEN, 0.4, 0.8, valid=valid)
    want = _fcclip_reference(
        IN_LOGITS.double().numpy(), CFA_LOGITS.double().numpy(), SEEN.numpy(), 0.4, 0.8, valid.numpy()
    )
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)
    # the invalid query keeps the in-vocabulary probabilities alone (void dropped before the softmax)
    p_in = IN_LOGITS[0, 1, :-1].softmax(-1) * (1 - IN_LOGITS[0, 1].softmax(-1)[-1])
    torch.testing.assert_close(got[0, 1, :-1], p_in, rtol=1e-5, atol=1e-6)


def test_void_is_dropped_before_the_in_vocabulary_softmax():
    """With void-heavy queries and mixed seen/unseen weights the two void conventions disagree; the
    default is FC-CLIP's."""
    fcclip = geometric_ensemble(IN_LOGITS, CFA_LOGITS, SEEN, 0.4, 0.8)
    earlier = geometric_ensemble(IN_LOGITS, CFA_LOGITS, SEEN, 0.4, 0.8, formula="void_in_softmax")
    assert (fcclip - earlier).abs().max() > 1e-2
    torch.testing.assert_close(fcclip[..., -1], earlier[..., -1], rtol=1e-6, atol=1e-7)  # same p_void


def _earlier_reference(in_logits, cfa_logits, seen, alpha, beta):
    """gpa's earlier formula: the in-vocabulary softmax over classes and void, then void dropped."""
    p_in, p_cfa = _softmax(in_logits), _softmax(cfa_logits)
    w = np.where(seen, alpha, beta)
    mixed = p_in[..., :-1] ** (1 - w) * p_cfa**w
    void = p_in[..., -1:]
    return np.concatenate([mixed / mixed.sum(-1, keepdims=True) * (1 - void), void], -1)


def test_earlier_formula_behind_its_key():
    got = void_in_softmax_ensemble(IN_LOGITS, CFA_LOGITS, SEEN, 0.4, 0.8)
    want = _earlier_reference(IN_LOGITS.double().numpy(), CFA_LOGITS.double().numpy(), SEEN.numpy(), 0.4, 0.8)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-7)


def test_zero_weights_give_the_in_vocabulary_probabilities():
    in_logits = torch.randn(2, 5, 4)
    got = geometric_ensemble(in_logits, torch.randn(2, 5, 3), torch.tensor([True, False, True]), 0.0, 0.0)
    void = in_logits.softmax(-1)[..., -1:]
    want = torch.cat([in_logits[..., :-1].softmax(-1) * (1 - void), void], -1)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_unseen_classes_lean_on_clip():
    in_logits = torch.tensor([[0.0, 0.0, -10.0]])  # in-vocab undecided, no void
    cfa_logits = torch.tensor([[0.0, 4.0]])  # CLIP prefers class 1
    seen_low = geometric_ensemble(in_logits, cfa_logits, torch.tensor([True, True]), 0.4, 0.8)
    unseen_high = geometric_ensemble(in_logits, cfa_logits, torch.tensor([False, False]), 0.4, 0.8)
    assert unseen_high[0, 1] > seen_low[0, 1] > 0.5


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="classes \\+ void"):
        geometric_ensemble(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(3, dtype=torch.bool), 0.4, 0.8)
    with pytest.raises(ValueError, match="seen mask"):
        geometric_ensemble(torch.zeros(1, 4), torch.zeros(1, 3), torch.ones(2, dtype=torch.bool), 0.4, 0.8)
    with pytest.raises(ValueError, match="ENSEMBLE_FORMULA.*fcclip"):
        geometric_ensemble(torch.zeros(1, 4), torch.zeros(1, 3), torch.ones(3, dtype=torch.bool), 0.4, 0.8,
                           formula="odise")
