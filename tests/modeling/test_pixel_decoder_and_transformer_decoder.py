"""The whole mask generator (pixel decoder + transformer decoder + criterion) on a tiny configuration."""
import torch
import torch.nn.functional as F
from detectron2.layers import ShapeSpec

from gpa.modeling.criterion import SetCriterion
from gpa.modeling.matching import HungarianMatcher
from gpa.modeling.pixel_decoder import MSDeformAttnPixelDecoder
from gpa.modeling.transformer_decoder import MultiScaleMaskedTransformerDecoder

SHAPES = {"res2": (16, 4), "res3": (16, 8), "res4": (32, 16), "res5": (32, 32)}
IMAGE, QUERIES, EMBED, CLASSES = 64, 10, 16, 5


def _modules():
    torch.manual_seed(0)
    pixel_decoder = MSDeformAttnPixelDecoder(
        {k: ShapeSpec(channels=c, stride=s) for k, (c, s) in SHAPES.items()},
        transformer_in_features=["res3", "res4", "res5"], conv_dim=32, mask_dim=32, norm="GN", common_stride=4,
        transformer_enc_layers=2, transformer_nheads=4, transformer_n_points=2, transformer_dim_feedforward=64,
    )
    predictor = MultiScaleMaskedTransformerDecoder(
        32, hidden_dim=32, num_queries=QUERIES, nheads=4, dim_feedforward=64, dec_layers=3, pre_norm=False,
        mask_dim=32, enforce_input_project=False, embed_dim=EMBED,
    )
    criterion = SetCriterion(
        matcher=HungarianMatcher(cost_class=2.0, cost_mask=5.0, cost_dice=5.0, num_points=100),
        weight_dict={}, eos_coef=0.1, losses=["labels", "masks"], num_points=100, oversample_ratio=3.0,
        importance_sample_ratio=0.75,
    )
    return pixel_decoder, predictor, criterion


def _batch():
    gen = torch.Generator().manual_seed(1)
    features = {k: torch.randn(2, c, IMAGE // s, IMAGE // s, generator=gen) for k, (c, s) in SHAPES.items()}
    masks = torch.zeros(2, 2, IMAGE, IMAGE, dtype=torch.bool)
    masks[:, 0, :32] = True
    masks[:, 1, 40:, 10:50] = True
    targets = [
        {"labels": torch.tensor([1, 4]), "masks": masks[0]},
        {"labels": torch.tensor([0]), "masks": masks[1, :1]},
    ]
    text = F.normalize(torch.randn(CLASSES + 1, EMBED, generator=gen), dim=-1)  # classes + void
    return features, targets, text


def _step(pixel_decoder, predictor, criterion, features, targets, text):
    mask_features, _, multi_scale = pixel_decoder.forward_features(features)
    out = predictor(multi_scale, mask_features)
    scale = predictor.logit_scale.exp()

    def with_logits(pred):
        logits = scale * pred["pred_embeds"] @ text.T.to(pred["pred_embeds"].dtype)
        return {"pred_masks": pred["pred_masks"], "pred_logits": logits}

    outputs = with_logits(out)
    outputs["aux_outputs"] = [with_logits(a) for a in out["aux_outputs"]]
    losses, _ = criterion(outputs, targets)
    return out, losses


def test_forward_backward_shapes_and_gradients():
    pixel_decoder, predictor, criterion = _modules()
    features, targets, text = _batch()
    out, losses = _step(pixel_decoder, predictor, criterion, features, targets, text)
    assert out["pred_masks"].shape == (2, QUERIES, IMAGE // 4, IMAGE // 4)
    assert out["pred_embeds"].shape == (2, QUERIES, EMBED)
    assert len(out["aux_outputs"]) == 3 and len(losses) == 3 * 4
    sum(losses.values()).backward()
    params = list(pixel_decoder.named_parameters()) + list(predictor.named_parameters())
    missing = [n for n, p in params if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_runs_under_cpu_bf16_autocast_close_to_fp32():
    dtype = torch.bfloat16
    pixel_decoder, predictor, criterion = _modules()
    features, targets, text = _batch()
    with torch.no_grad():
        mask_features, _, multi_scale = pixel_decoder.forward_features(features)
        reference = predictor(multi_scale, mask_features)
    with torch.autocast("cpu", dtype=dtype):
        out, losses = _step(pixel_decoder, predictor, criterion, features, targets, text)
    assert out["pred_masks"].dtype == dtype
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in predictor.parameters())
    cosine = F.cosine_similarity(out["pred_embeds"].float(), reference["pred_embeds"], dim=-1)
    assert cosine.min() > 0.95
