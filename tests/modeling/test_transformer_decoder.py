"""MultiScaleMaskedTransformerDecoder: outputs, masked attention, config building."""
import pytest
import torch
from detectron2.config import get_cfg

from gpa.config import add_gpa_config
from gpa.modeling.transformer_decoder import (
    MultiScaleMaskedTransformerDecoder,
    attention_mask_from_masks,
    build_transformer_decoder,
)

HIDDEN, MASK_DIM, EMBED_DIM, QUERIES = 32, 16, 24, 6


def _decoder(dec_layers=3, in_channels=HIDDEN, **overrides):
    kwargs = dict(hidden_dim=HIDDEN, num_queries=QUERIES, nheads=4, dim_feedforward=64, dec_layers=dec_layers,
                  pre_norm=False, mask_dim=MASK_DIM, enforce_input_project=False, embed_dim=EMBED_DIM)
    kwargs.update(overrides)
    return MultiScaleMaskedTransformerDecoder(in_channels, **kwargs)


def _inputs(batch=2, channels=HIDDEN, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = [torch.randn(batch, channels, s, s, generator=gen) for s in (2, 4, 8)]
    return x, torch.randn(batch, MASK_DIM, 16, 16, generator=gen)


def test_attention_mask_thresholds_unblocks_empty_rows_and_repeats_per_head_batch_major():
    logits = torch.full((2, 3, 2, 2), -4.0)
    logits[0, 0, 0, 0] = 4.0  # image 0, query 0: only the top-left pixel allowed
    logits[1, 1] = 4.0  # image 1, query 1: everything allowed
    logits[0, 2, 1, 1] = 0.0  # sigmoid == 0.5 is allowed (blocked is sigmoid < 0.5)
    mask = attention_mask_from_masks(logits, (2, 2), num_heads=2)
    assert mask.shape == (4, 3, 4) and mask.dtype == torch.bool
    expected = torch.zeros(2, 3, 4, dtype=torch.bool)
    expected[0, 0] = torch.tensor([False, True, True, True])
    expected[0, 2] = torch.tensor([True, True, True, False])
    # image 0 query 1 and image 1 queries 0, 2 are empty everywhere: unblocked rather than all-blocked
    for head in range(2):
        assert torch.equal(mask[head], expected[0])
        assert torch.equal(mask[2 + head], expected[1])


def test_outputs_shapes_unit_norm_embeddings_and_aux_count():
    torch.manual_seed(0)
    decoder = _decoder(dec_layers=3)
    x, mask_features = _inputs()
    out = decoder(x, mask_features)
    assert out["pred_masks"].shape == (2, QUERIES, 16, 16)
    assert out["pred_embeds"].shape == (2, QUERIES, EMBED_DIM)
    assert out["query_features"].shape == (2, QUERIES, HIDDEN)
    assert len(out["aux_outputs"]) == 3
    for pred in [out] + out["aux_outputs"]:
        torch.testing.assert_close(pred["pred_embeds"].norm(dim=-1), torch.ones(2, QUERIES))
        assert pred["pred_masks"].shape == (2, QUERIES, 16, 16)
    assert decoder.logit_scale.item() == pytest.approx(2.6592600)  # log(1 / 0.07)


def test_query_features_are_decoder_normed_and_embeddings_come_from_them():
    decoder = _decoder(dec_layers=1)
    x, mask_features = _inputs(seed=1)
    out = decoder(x, mask_features)
    q = out["query_features"]
    torch.testing.assert_close(q.mean(-1), torch.zeros_like(q.mean(-1)), atol=1e-5, rtol=0)  # LayerNorm, bias 0
    masks = torch.einsum("bqc,bchw->bqhw", decoder.mask_embed(q), mask_features)
    torch.testing.assert_close(out["pred_masks"], masks)


def _left_half_initial_masks(decoder):
    """All queries' first masks become the left half of the image (channel 0 of the mask features)."""
    with torch.no_grad():
        last = decoder.mask_embed.layers[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[0] = 1.0


def test_cross_attention_ignores_features_outside_the_previous_masks():
    torch.manual_seed(0)
    decoder = _decoder(dec_layers=1)  # one layer: cross-attends to level 0 with the initial masks
    _left_half_initial_masks(decoder)
    x, mask_features = _inputs(batch=1, seed=2)
    mask_features[:, 0, :, :8] = 5.0
    mask_features[:, 0, :, 8:] = -5.0
    base = decoder(x, mask_features)

    right = [t.clone() for t in x]
    right[0][..., 1] += 3.0  # right column of the 2x2 level: blocked for every query
    out = decoder(right, mask_features)
    torch.testing.assert_close(out["pred_embeds"], base["pred_embeds"])
    torch.testing.assert_close(out["query_features"], base["query_features"])

    left = [t.clone() for t in x]
    left[0][..., 0] += 3.0
    assert not torch.allclose(decoder(left, mask_features)["query_features"], base["query_features"])


def test_queries_with_empty_masks_attend_to_the_whole_level():
    decoder = _decoder(dec_layers=1)
    _left_half_initial_masks(decoder)
    x, mask_features = _inputs(batch=1, seed=3)
    mask_features[:, 0] = -10.0  # every initial mask empty: a fully blocked row would see no features (or NaN)
    base = decoder(x, mask_features)
    assert torch.isfinite(base["query_features"]).all() and torch.isfinite(base["pred_embeds"]).all()
    changed = [t.clone() for t in x]
    changed[0][..., 1] += 3.0
    assert not torch.allclose(decoder(changed, mask_features)["query_features"], base["query_features"])


def test_input_proj_when_channels_differ_and_argument_errors():
    decoder = _decoder(dec_layers=1, in_channels=16)
    assert decoder.input_proj[0].weight.shape == (HIDDEN, 16, 1, 1)
    x, mask_features = _inputs(channels=16)
    assert decoder(x, mask_features)["pred_masks"].shape == (2, QUERIES, 16, 16)
    with pytest.raises(ValueError, match="3 feature levels"):
        decoder(x[:2], mask_features)
    with pytest.raises(ValueError, match="16-channel features"):
        decoder(_inputs(channels=HIDDEN)[0], mask_features)
    with pytest.raises(ValueError, match="mask features"):
        decoder(x, mask_features[:, :8])
    with pytest.raises(NotImplementedError, match="mask=None"):
        decoder(x, mask_features, mask=torch.zeros(2, 64, 64, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask_classification"):
        MultiScaleMaskedTransformerDecoder(16, False, hidden_dim=32, num_queries=2, nheads=4, dim_feedforward=8,
                                           dec_layers=1, pre_norm=False, mask_dim=8, enforce_input_project=False,
                                           embed_dim=8)


def test_pre_norm_variant_runs():
    decoder = _decoder(dec_layers=2, pre_norm=True)
    x, mask_features = _inputs()
    assert torch.isfinite(decoder(x, mask_features)["pred_embeds"]).all()


def _cfg():
    cfg = get_cfg()
    add_gpa_config(cfg)
    mf = cfg.MODEL.MASK_FORMER
    mf.HIDDEN_DIM, mf.NUM_OBJECT_QUERIES, mf.NHEADS, mf.DIM_FEEDFORWARD, mf.DEC_LAYERS = 32, 5, 4, 40, 4
    cfg.MODEL.SEM_SEG_HEAD.MASK_DIM = MASK_DIM
    return cfg


def test_build_from_config_counts_the_initial_prediction_in_dec_layers():
    decoder = build_transformer_decoder(_cfg(), 32, embed_dim=12)
    assert decoder.num_layers == 3 and len(decoder.transformer_ffn_layers) == 3
    assert decoder.transformer_ffn_layers[0].linear1.out_features == 40
    assert decoder.class_embed.layers[-1].out_features == 12
    x, mask_features = _inputs()
    out = decoder(x, mask_features)
    assert len(out["aux_outputs"]) + 1 == 4
    assert out["pred_embeds"].shape == (2, 5, 12)


def test_build_errors():
    cfg = _cfg()
    cfg.MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME = "Nope"
    with pytest.raises(KeyError, match="MultiScaleMaskedTransformerDecoder"):
        build_transformer_decoder(cfg, 32, embed_dim=12)
    cfg = _cfg()
    cfg.MODEL.MASK_FORMER.DEC_LAYERS = 0
    with pytest.raises(ValueError, match="DEC_LAYERS"):
        build_transformer_decoder(cfg, 32, embed_dim=12)
