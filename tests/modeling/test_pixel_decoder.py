"""Sine position encoding and MSDeformAttnPixelDecoder: shapes, config building, input validation."""
import math

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec

from gpa.config import add_gpa_config
from gpa.modeling.pixel_decoder import MSDeformAttnPixelDecoder, PositionEmbeddingSine, build_pixel_decoder
from gpa.modeling.pixel_decoder.msdeformattn_encoder import encoder_reference_points

SHAPES = {
    "res2": ShapeSpec(channels=16, stride=4),
    "res3": ShapeSpec(channels=24, stride=8),
    "res4": ShapeSpec(channels=32, stride=16),
    "res5": ShapeSpec(channels=40, stride=32),
}


def _decoder(**overrides):
    kwargs = dict(
        transformer_in_features=["res3", "res4", "res5"], conv_dim=32, mask_dim=24, norm="GN", common_stride=4,
        transformer_enc_layers=2, transformer_nheads=4, transformer_n_points=2, transformer_dim_feedforward=64,
    )
    kwargs.update(overrides)
    return MSDeformAttnPixelDecoder(SHAPES, **kwargs)


def _features(batch=2, size=64, shapes=SHAPES, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {
        k: torch.randn(batch, s.channels, size // s.stride, size // s.stride, generator=gen) for k, s in shapes.items()
    }


def test_position_encoding_matches_formula_and_has_no_parameters():
    pe = PositionEmbeddingSine(num_pos_feats=4, temperature=100.0, normalize=True)
    assert list(pe.parameters()) == []
    out = pe(torch.zeros(1, 7, 3, 5))
    assert out.shape == (1, 8, 3, 5) and out.dtype == torch.float32
    y, x = 1, 3
    ypos = (y + 1) / (3 + 1e-6) * 2 * math.pi
    xpos = (x + 1) / (5 + 1e-6) * 2 * math.pi
    expected = []
    for p in (ypos, xpos):
        for i in range(4):
            freq = 100.0 ** (2 * (i // 2) / 4)
            expected.append(math.sin(p / freq) if i % 2 == 0 else math.cos(p / freq))
    torch.testing.assert_close(out[0, :, y, x], torch.tensor(expected), atol=1e-5, rtol=1e-5)


def test_position_encoding_rejects_scale_without_normalize():
    with pytest.raises(ValueError, match="normalize"):
        PositionEmbeddingSine(8, scale=1.0)


def test_encoder_reference_points_are_pixel_centres_on_every_level():
    ref = encoder_reference_points([(2, 4), (1, 2)], torch.device("cpu"))
    assert ref.shape == (1, 10, 2, 2)
    torch.testing.assert_close(ref[0, 1, 0], torch.tensor([0.375, 0.25]))  # row 0, col 1 of the 2x4 level
    torch.testing.assert_close(ref[0, 9, 1], torch.tensor([0.75, 0.5]))  # col 1 of the 1x2 level
    assert torch.equal(ref[0, :, 0], ref[0, :, 1])


def test_forward_shapes_and_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    decoder = _decoder()
    mask_features, encoder_out, multi_scale = decoder.forward_features(_features())
    assert mask_features.shape == (2, 24, 16, 16)
    assert encoder_out.shape == (2, 32, 2, 2)
    assert [tuple(f.shape) for f in multi_scale] == [(2, 32, 2, 2), (2, 32, 4, 4), (2, 32, 8, 8)]
    assert encoder_out is multi_scale[0]
    (mask_features.square().mean() + sum(f.square().mean() for f in multi_scale)).backward()
    no_grad = [n for n, p in decoder.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert no_grad == []


def test_two_fpn_levels_when_encoder_starts_at_stride_16():
    decoder = _decoder(transformer_in_features=["res4", "res5"])
    assert decoder.num_fpn_levels == 2
    names = {n.split(".")[0] for n, _ in decoder.named_parameters()}
    assert {"adapter_1", "layer_1", "adapter_2", "layer_2"} <= names
    mask_features, _, multi_scale = decoder.forward_features(_features(batch=1))
    assert mask_features.shape == (1, 24, 16, 16)
    assert [f.shape[-1] for f in multi_scale] == [2, 4, 8]


def test_invalid_configurations_fail_with_clear_messages():
    with pytest.raises(ValueError, match="missing"):
        _decoder(transformer_in_features=["res3", "res6"])
    with pytest.raises(ValueError, match="power of 2"):
        _decoder(common_stride=3)
    with pytest.raises(ValueError, match="strides"):
        MSDeformAttnPixelDecoder(
            {k: v for k, v in SHAPES.items() if k != "res2"},
            transformer_in_features=["res3", "res4", "res5"], conv_dim=32, mask_dim=24, norm="GN", common_stride=4,
            transformer_enc_layers=1, transformer_nheads=4, transformer_n_points=2, transformer_dim_feedforward=64,
        )
    with pytest.raises(ValueError, match="divisible by 32"):
        _decoder(conv_dim=48)
    features = _features(batch=1)
    del features["res2"]
    with pytest.raises(KeyError, match="res2"):
        _decoder().forward_features(features)


def _cfg():
    cfg = get_cfg()
    add_gpa_config(cfg)
    head = cfg.MODEL.SEM_SEG_HEAD
    head.CONVS_DIM, head.MASK_DIM, head.TRANSFORMER_ENC_LAYERS = 32, 24, 1
    head.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS, head.TRANSFORMER_ENC_DIM_FEEDFORWARD = 4, 48
    return cfg


def test_build_from_config_reads_sem_seg_head_keys():
    decoder = build_pixel_decoder(_cfg(), SHAPES)
    assert isinstance(decoder, MSDeformAttnPixelDecoder)
    assert len(decoder.transformer.encoder.layers) == 1
    assert decoder.transformer.encoder.layers[0].linear1.out_features == 48
    assert decoder.transformer.encoder.layers[0].self_attn.n_points == 4
    assert decoder.mask_features.out_channels == 24


def test_build_errors_list_valid_names_and_missing_features():
    cfg = _cfg()
    cfg.MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME = "NoSuchDecoder"
    with pytest.raises(KeyError, match="MSDeformAttnPixelDecoder"):
        build_pixel_decoder(cfg, SHAPES)
    with pytest.raises(ValueError, match="res5"):
        build_pixel_decoder(_cfg(), {k: v for k, v in SHAPES.items() if k != "res5"})
