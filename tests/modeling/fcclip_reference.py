"""FC-CLIP's inference and model key set, transcribed independently from FC-CLIP's source for tests.

Written from github.com/bytedance/fc-clip (fcclip/fcclip.py FCCLIP.forward / semantic_inference /
panoptic_inference / instance_inference, fcclip/modeling/transformer_decoder/fcclip_transformer_decoder.py
get_classification_logits / MaskPooling, fcclip/modeling/backbone/clip.py), not from gpa's code:
the tensors FC-CLIP computes from are taken from a gpa model (they are already pinned equal), and
everything FC-CLIP does with them is redone here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from detectron2.modeling.postprocessing import sem_seg_postprocess
from detectron2.structures import Boxes, Instances


def classification_logits(x, text_classifier, logit_scale, num_templates):
    """get_classification_logits: cosine x clamp(exp(scale), max=100), max over each class's rows, void last."""
    x = F.normalize(x, dim=-1)
    pred = torch.clamp(logit_scale.exp(), max=100) * x @ text_classifier.T
    final, start = [], 0
    for n in num_templates:
        final.append(pred[:, :, start : start + n].max(-1).values)
        start += n
    final.append(pred[:, :, -1])
    return torch.stack(final, dim=-1)


def mask_pooling(x, mask):
    """MaskPooling: resize the mask to x, binarize (> 0), average inside (denominator + 1e-8)."""
    if x.shape[-2:] != mask.shape[-2:]:
        mask = F.interpolate(mask, size=x.shape[-2:], mode="bilinear", align_corners=False)
    mask = (mask > 0).to(mask.dtype)
    return torch.einsum("bchw,bqhw->bqc", x, mask / (mask.sum(dim=(-1, -2), keepdim=True) + 1e-8))


def category_overlapping_mask(test_classes, train_classes):
    """A test class is seen when one of its names equals a name of a training class."""
    train_names = {name for names in train_classes for name in names}
    return torch.tensor([not train_names.isdisjoint(set(names)) for names in test_classes], dtype=torch.long)


def ensemble(mask_cls, out_vocab, overlapping, alpha, beta, valid=None):
    """The inference branch of FCCLIP.forward, from in/out-of-vocabulary logits (void last) to mask_cls_results."""
    in_vocab = mask_cls[..., :-1].softmax(-1)
    out_vocab_probs = out_vocab[..., :-1].softmax(-1)
    if valid is not None:
        valid = valid.to(in_vocab.dtype).unsqueeze(-1)
        alpha = torch.ones_like(in_vocab) * alpha * valid
        beta = torch.ones_like(in_vocab) * beta * valid
    seen = (in_vocab ** (1 - alpha) * out_vocab_probs**alpha).log() * overlapping
    unseen = (in_vocab ** (1 - beta) * out_vocab_probs**beta).log() * (1 - overlapping)
    cls_results = seen + unseen
    is_void_prob = F.softmax(mask_cls, dim=-1)[..., -1:]
    probs = torch.cat([cls_results.softmax(-1) * (1.0 - is_void_prob), is_void_prob], dim=-1)
    return torch.log(probs + 1e-8)


def semantic_inference(mask_cls, mask_pred):
    return torch.einsum("qc,qhw->chw", F.softmax(mask_cls, dim=-1)[..., :-1], mask_pred.sigmoid())


def panoptic_inference(mask_cls, mask_pred, is_thing, object_mask_threshold, overlap_threshold):
    scores, labels = F.softmax(mask_cls, dim=-1).max(-1)
    mask_pred = mask_pred.sigmoid()
    num_classes = mask_cls.shape[-1] - 1
    keep = labels.ne(num_classes) & (scores > object_mask_threshold)
    cur_scores, cur_classes, cur_masks = scores[keep], labels[keep], mask_pred[keep]
    cur_prob_masks = cur_scores.view(-1, 1, 1) * cur_masks
    h, w = cur_masks.shape[-2:]
    panoptic_seg = torch.zeros((h, w), dtype=torch.int32)
    segments_info = []
    current_segment_id = 0
    if cur_masks.shape[0] == 0:
        return panoptic_seg, segments_info
    cur_mask_ids = cur_prob_masks.argmax(0)
    stuff_memory = {}
    for k in range(cur_classes.shape[0]):
        pred_class = cur_classes[k].item()
        isthing = bool(is_thing[pred_class])
        mask_area = (cur_mask_ids == k).sum().item()
        original_area = (cur_masks[k] >= 0.5).sum().item()
        mask = (cur_mask_ids == k) & (cur_masks[k] >= 0.5)
        if mask_area > 0 and original_area > 0 and mask.sum().item() > 0:
            if mask_area / original_area < overlap_threshold:
                continue
            if not isthing:
                if int(pred_class) in stuff_memory:
                    panoptic_seg[mask] = stuff_memory[int(pred_class)]
                    continue
                stuff_memory[int(pred_class)] = current_segment_id + 1
            current_segment_id += 1
            panoptic_seg[mask] = current_segment_id
            segments_info.append({"id": current_segment_id, "isthing": isthing, "category_id": int(pred_class)})
    return panoptic_seg, segments_info


def instance_inference(mask_cls, mask_pred, is_thing, num_queries, topk):
    """Panoptic-on branch: top k over all (query, class) pairs, then stuff pairs dropped; boxes left zero."""
    scores = F.softmax(mask_cls, dim=-1)[:, :-1]
    num_classes = scores.shape[-1]
    labels = torch.arange(num_classes).unsqueeze(0).repeat(num_queries, 1).flatten(0, 1)
    scores_per_image, topk_indices = scores.flatten(0, 1).topk(topk, sorted=False)
    labels_per_image = labels[topk_indices]
    mask_pred = mask_pred[topk_indices // num_classes]
    keep = torch.zeros_like(scores_per_image).bool()
    for i, lab in enumerate(labels_per_image):
        keep[i] = bool(is_thing[lab])
    scores_per_image, labels_per_image, mask_pred = scores_per_image[keep], labels_per_image[keep], mask_pred[keep]
    result = Instances(mask_pred.shape[-2:])
    result.pred_masks = (mask_pred > 0).float()
    result.pred_boxes = Boxes(torch.zeros(mask_pred.size(0), 4))
    mask_scores = (mask_pred.sigmoid().flatten(1) * result.pred_masks.flatten(1)).sum(1) / (
        result.pred_masks.flatten(1).sum(1) + 1e-6
    )
    result.scores = scores_per_image * mask_scores
    result.pred_classes = labels_per_image
    return result


def fcclip_inference(raw: dict, batched_inputs, image_sizes, padded_size, settings: dict) -> list[dict]:
    """FCCLIP.forward at inference from the raw tensors in `raw`:
    clip_dense [B, D, h, w], pred_masks [B, Q, h', w'], pred_embeds [B, Q, E] (class_embed output),
    text [S, E] (one row per class name, normalized), num_templates (rows per class), void [E],
    decoder_logit_scale, clip_logit_scale (both before exp), visual_head (CLIP's pooling head: trunk head
    then projection, as CLIP.visual_prediction_forward_convnext), overlapping (0/1 long [C]), is_thing [C]."""
    text_classifier = torch.cat([raw["text"], F.normalize(raw["void"][None], dim=-1)], dim=0)
    mask_cls_results = classification_logits(
        raw["pred_embeds"], text_classifier, raw["decoder_logit_scale"], raw["num_templates"]
    )
    mask_pred_results = raw["pred_masks"]
    clip_feature = raw["clip_dense"]
    mask_for_pooling = F.interpolate(mask_pred_results, size=clip_feature.shape[-2:], mode="bilinear",
                                     align_corners=False)
    pooled = mask_pooling(clip_feature, mask_for_pooling)
    batch, num_query, channel = pooled.shape
    pooled = raw["visual_head"](pooled.reshape(batch * num_query, channel, 1, 1)).view(batch, num_query, -1)
    out_vocab = classification_logits(pooled, text_classifier, raw["clip_logit_scale"], raw["num_templates"])
    valid = None
    if settings["ensemble_on_valid_mask"]:
        valid = (mask_for_pooling > 0).to(mask_for_pooling).sum(-1).sum(-1) > 0
    mask_cls_results = ensemble(mask_cls_results, out_vocab, raw["overlapping"], settings["alpha"],
                                settings["beta"], valid)
    raw["probs"] = mask_cls_results.softmax(-1)  # for tests to check what the inputs exercised
    mask_pred_results = F.interpolate(mask_pred_results, size=padded_size, mode="bilinear", align_corners=False)
    before = settings["sem_seg_postprocess_before_inference"] or settings["panoptic_on"] or settings["instance_on"]
    results = []
    for mask_cls, mask_pred, x, image_size in zip(mask_cls_results, mask_pred_results, batched_inputs, image_sizes):
        height, width = x.get("height", image_size[0]), x.get("width", image_size[1])
        out = {}
        if before:
            mask_pred = sem_seg_postprocess(mask_pred, image_size, height, width)
            mask_cls = mask_cls.to(mask_pred)
        if settings["semantic_on"]:
            r = semantic_inference(mask_cls, mask_pred)
            if not before:
                r = sem_seg_postprocess(r, image_size, height, width)
            out["sem_seg"] = r
        if settings["panoptic_on"]:
            out["panoptic_seg"] = panoptic_inference(mask_cls, mask_pred, raw["is_thing"],
                                                     settings["object_mask_threshold"], settings["overlap_threshold"])
        if settings["instance_on"]:
            out["instances"] = instance_inference(mask_cls, mask_pred, raw["is_thing"], mask_cls.shape[0],
                                                  settings["topk"])
        results.append(out)
    return results


def pixel_decoder_keys(enc_layers: int) -> set[str]:
    """MSDeformAttnPixelDecoder (Mask2Former, used unchanged by FC-CLIP) with res3-res5 in the deformable
    encoder and res2 as the one FPN level: names under sem_seg_head.pixel_decoder."""
    keys = {"transformer.level_embed", "mask_features.weight", "mask_features.bias", "adapter_1.weight",
            "adapter_1.norm.weight", "adapter_1.norm.bias", "layer_1.weight", "layer_1.norm.weight",
            "layer_1.norm.bias"}
    for i in range(3):
        keys |= {f"input_proj.{i}.{j}.{w}" for j in (0, 1) for w in ("weight", "bias")}
    for n in range(enc_layers):
        layer = f"transformer.encoder.layers.{n}."
        modules = ["self_attn.sampling_offsets", "self_attn.attention_weights", "self_attn.value_proj",
                   "self_attn.output_proj", "linear1", "linear2", "norm1", "norm2"]
        keys |= {layer + m + w for m in modules for w in (".weight", ".bias")}
    return keys


def predictor_keys(dec_layers: int, input_proj: bool) -> set[str]:
    """FC-CLIP's MultiScaleMaskedTransformerDecoder (DEC_LAYERS - 1 layers): names under sem_seg_head.predictor."""
    keys = {"decoder_norm.weight", "decoder_norm.bias", "query_feat.weight", "query_embed.weight",
            "level_embed.weight", "logit_scale"}
    for n in range(dec_layers - 1):
        for group, attn in (("transformer_self_attention_layers", "self_attn"),
                            ("transformer_cross_attention_layers", "multihead_attn")):
            keys |= {f"{group}.{n}.{attn}.{w}" for w in ("in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                          "out_proj.bias")}
            keys |= {f"{group}.{n}.norm.weight", f"{group}.{n}.norm.bias"}
        keys |= {f"transformer_ffn_layers.{n}.{m}.{w}" for m in ("linear1", "linear2", "norm")
                 for w in ("weight", "bias")}
    if input_proj:
        keys |= {f"input_proj.{i}.{w}" for i in range(3) for w in ("weight", "bias")}
    keys |= {f"{mlp}.layers.{i}.{w}" for mlp in ("mask_embed", "class_embed") for i in range(3)
             for w in ("weight", "bias")}
    keys |= {f"_mask_pooling_proj.{i}.{w}" for i in (0, 1) for w in ("weight", "bias")}
    return keys


def fcclip_model_keys(open_clip_model: torch.nn.Module, pixel_decoder_keys, predictor_keys) -> set[str]:
    """Every key of FCCLIP.state_dict(): the open_clip model under backbone.clip_model (FC-CLIP's CLIP backbone
    holds it as `clip_model` and nothing else with parameters), the pixel decoder and the transformer decoder
    under sem_seg_head, the void embedding, and the criterion's `empty_weight` buffer (SetCriterion)."""
    keys = {f"backbone.clip_model.{k}" for k in open_clip_model.state_dict()}
    keys |= {f"sem_seg_head.pixel_decoder.{k}" for k in pixel_decoder_keys}
    keys |= {f"sem_seg_head.predictor.{k}" for k in predictor_keys}
    keys |= {"void_embedding.weight", "criterion.empty_weight"}
    return keys
