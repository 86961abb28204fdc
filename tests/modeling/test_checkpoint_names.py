"""A state dict named as the Mask2Former / FC-CLIP detectron2 checkpoints loads strictly into our mask generator.

The expected names and shapes below are written out from the structure of those projects' pixel decoder
(MSDeformAttnPixelDecoder) and FC-CLIP's transformer decoder, for a small configuration.
"""
import torch
from detectron2.layers import ShapeSpec
from torch import nn

from gpa.modeling.pixel_decoder import MSDeformAttnPixelDecoder
from gpa.modeling.transformer_decoder import MultiScaleMaskedTransformerDecoder

IN = {"res2": (16, 4), "res3": (24, 8), "res4": (40, 16), "res5": (48, 32)}  # name: (channels, stride)
CONV, MASK, HEADS_ENC, POINTS, ENC_LAYERS, ENC_FFN = 32, 32, 4, 2, 2, 64
HIDDEN, QUERIES, HEADS_DEC, DEC_FFN, DEC_LAYERS, EMBED = 32, 7, 4, 48, 3, 24


def _pixel_decoder_keys() -> dict[str, tuple]:
    keys = {}
    for i, name in enumerate(["res5", "res4", "res3"]):  # input_proj runs coarsest first
        keys[f"input_proj.{i}.0.weight"] = (CONV, IN[name][0], 1, 1)
        keys[f"input_proj.{i}.0.bias"] = (CONV,)
        keys[f"input_proj.{i}.1.weight"] = (CONV,)
        keys[f"input_proj.{i}.1.bias"] = (CONV,)
    keys["transformer.level_embed"] = (3, CONV)
    for n in range(ENC_LAYERS):
        p = f"transformer.encoder.layers.{n}."
        keys[p + "self_attn.sampling_offsets.weight"] = (HEADS_ENC * 3 * POINTS * 2, CONV)
        keys[p + "self_attn.sampling_offsets.bias"] = (HEADS_ENC * 3 * POINTS * 2,)
        keys[p + "self_attn.attention_weights.weight"] = (HEADS_ENC * 3 * POINTS, CONV)
        keys[p + "self_attn.attention_weights.bias"] = (HEADS_ENC * 3 * POINTS,)
        for proj in ("value_proj", "output_proj"):
            keys[p + f"self_attn.{proj}.weight"] = (CONV, CONV)
            keys[p + f"self_attn.{proj}.bias"] = (CONV,)
        keys[p + "linear1.weight"] = (ENC_FFN, CONV)
        keys[p + "linear1.bias"] = (ENC_FFN,)
        keys[p + "linear2.weight"] = (CONV, ENC_FFN)
        keys[p + "linear2.bias"] = (CONV,)
        for norm in ("norm1", "norm2"):
            keys[p + f"{norm}.weight"] = (CONV,)
            keys[p + f"{norm}.bias"] = (CONV,)
    keys["mask_features.weight"] = (MASK, CONV, 1, 1)
    keys["mask_features.bias"] = (MASK,)
    # FPN convs with GroupNorm and no bias
    keys["adapter_1.weight"] = (CONV, IN["res2"][0], 1, 1)
    keys["layer_1.weight"] = (CONV, CONV, 3, 3)
    for conv in ("adapter_1", "layer_1"):
        keys[f"{conv}.norm.weight"] = (CONV,)
        keys[f"{conv}.norm.bias"] = (CONV,)
    return keys


def _predictor_keys(input_proj: bool) -> dict[str, tuple]:
    keys = {}
    for n in range(DEC_LAYERS):
        for group, attn in (("transformer_self_attention_layers", "self_attn"),
                            ("transformer_cross_attention_layers", "multihead_attn")):
            p = f"{group}.{n}."
            keys[p + f"{attn}.in_proj_weight"] = (3 * HIDDEN, HIDDEN)
            keys[p + f"{attn}.in_proj_bias"] = (3 * HIDDEN,)
            keys[p + f"{attn}.out_proj.weight"] = (HIDDEN, HIDDEN)
            keys[p + f"{attn}.out_proj.bias"] = (HIDDEN,)
            keys[p + "norm.weight"] = (HIDDEN,)
            keys[p + "norm.bias"] = (HIDDEN,)
        p = f"transformer_ffn_layers.{n}."
        keys[p + "linear1.weight"] = (DEC_FFN, HIDDEN)
        keys[p + "linear1.bias"] = (DEC_FFN,)
        keys[p + "linear2.weight"] = (HIDDEN, DEC_FFN)
        keys[p + "linear2.bias"] = (HIDDEN,)
        keys[p + "norm.weight"] = (HIDDEN,)
        keys[p + "norm.bias"] = (HIDDEN,)
    keys["decoder_norm.weight"] = (HIDDEN,)
    keys["decoder_norm.bias"] = (HIDDEN,)
    keys["query_feat.weight"] = (QUERIES, HIDDEN)
    keys["query_embed.weight"] = (QUERIES, HIDDEN)
    keys["level_embed.weight"] = (3, HIDDEN)
    if input_proj:
        for i in range(3):
            keys[f"input_proj.{i}.weight"] = (HIDDEN, CONV, 1, 1)
            keys[f"input_proj.{i}.bias"] = (HIDDEN,)
    for mlp, out_dim in (("mask_embed", MASK), ("class_embed", EMBED)):
        for i, shape in enumerate([(HIDDEN, HIDDEN), (HIDDEN, HIDDEN), (out_dim, HIDDEN)]):
            keys[f"{mlp}.layers.{i}.weight"] = shape
            keys[f"{mlp}.layers.{i}.bias"] = (shape[0],)
    keys["_mask_pooling_proj.0.weight"] = (MASK,)
    keys["_mask_pooling_proj.0.bias"] = (MASK,)
    keys["_mask_pooling_proj.1.weight"] = (HIDDEN, MASK)
    keys["_mask_pooling_proj.1.bias"] = (HIDDEN,)
    keys["logit_scale"] = ()
    return keys


class _SemSegHead(nn.Module):
    def __init__(self, pixel_decoder, predictor):
        super().__init__()
        self.pixel_decoder = pixel_decoder
        self.predictor = predictor


class _Model(nn.Module):
    def __init__(self, enforce_input_project: bool):
        super().__init__()
        pixel_decoder = MSDeformAttnPixelDecoder(
            {k: ShapeSpec(channels=c, stride=s) for k, (c, s) in IN.items()},
            transformer_in_features=["res3", "res4", "res5"], conv_dim=CONV, mask_dim=MASK, norm="GN",
            common_stride=4, transformer_enc_layers=ENC_LAYERS, transformer_nheads=HEADS_ENC,
            transformer_n_points=POINTS, transformer_dim_feedforward=ENC_FFN,
        )
        predictor = MultiScaleMaskedTransformerDecoder(
            CONV, hidden_dim=HIDDEN, num_queries=QUERIES, nheads=HEADS_DEC, dim_feedforward=DEC_FFN,
            dec_layers=DEC_LAYERS, pre_norm=False, mask_dim=MASK, enforce_input_project=enforce_input_project,
            embed_dim=EMBED,
        )
        self.sem_seg_head = _SemSegHead(pixel_decoder, predictor)


def _checkpoint(input_proj: bool) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    state = {}
    for prefix, keys in (("sem_seg_head.pixel_decoder.", _pixel_decoder_keys()),
                         ("sem_seg_head.predictor.", _predictor_keys(input_proj))):
        for name, shape in keys.items():
            state[prefix + name] = torch.randn(shape, generator=gen)
    return state


def test_checkpoint_loads_strictly_and_sets_the_values():
    model = _Model(enforce_input_project=False)
    state = _checkpoint(input_proj=False)
    model.load_state_dict(state, strict=True)
    ours = model.state_dict()
    for name in ("sem_seg_head.pixel_decoder.transformer.encoder.layers.1.self_attn.sampling_offsets.bias",
                 "sem_seg_head.predictor.class_embed.layers.2.weight", "sem_seg_head.predictor.logit_scale"):
        assert torch.equal(ours[name], state[name])


def test_checkpoint_with_predictor_input_projections():
    model = _Model(enforce_input_project=True)
    model.load_state_dict(_checkpoint(input_proj=True), strict=True)
    assert set(model.state_dict()) == set(_checkpoint(input_proj=True))
