"""gpa's FC-CLIP-equivalent model (adapters off, plain mask pooling) gives FC-CLIP's panoptic, semantic and
instance outputs: an independent transcription of FC-CLIP's inference (tests/modeling/fcclip_reference.py),
run on the raw tensors of the same tiny model, must produce the same results: discrete outputs (panoptic
maps, segments, instance classes and masks) exactly, scores within 1e-6 (the void logit is a dot product in
gpa and a row of the text matmul in FC-CLIP, which differ by float rounding, ~1e-7). Also: its state dict has
FC-CLIP's key names."""

from __future__ import annotations

import math

import open_clip
import pytest
import torch
from detectron2.modeling import build_model
from detectron2.structures import Instances

import gpa  # noqa: F401
from gpa.vocabulary import Vocabulary
from tests.modeling.fcclip_reference import (
    category_overlapping_mask,
    fcclip_inference,
    fcclip_model_keys,
    pixel_decoder_keys,
    predictor_keys,
)

# Seen: "red circle" (via its synonym), "stripes"; unseen: the rest. Things and stuff mixed.
VOCAB = Vocabulary.from_strings(
    ["red circle,red disc", "blue square", "green triangle", "stripes", "sky,heaven"],
    [True, True, True, False, False],
)
TRAIN = Vocabulary.from_strings(["red disc", "stripes", "grass"], [True, False, False])


def fcclip_equivalent(cfg):
    cfg.MODEL.ADAPTER.ENABLED = False
    cfg.MODEL.GPA.CFA.ENABLED = False
    cfg.MODEL.MASK_FORMER.TEST.DETECTIONS_PER_IMAGE = 30  # FC-CLIP needs k <= queries x classes (16 x 5)
    return cfg


def _inputs(n=2, size=64):
    g = torch.Generator().manual_seed(3)
    return [
        {
            "image": torch.randint(0, 256, (3, size + 8 * i, size + 24), dtype=torch.uint8, generator=g),
            "vocabulary": VOCAB,
            "height": 2 * size + 5,  # output size differs from the input: sem_seg_postprocess resizes
            "width": 2 * size + 40,
        }
        for i in range(n)
    ]


def _spread_weights(model) -> None:
    """Random weights with a larger spread than the initializers', so masks, classes and void vary by query."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.sem_seg_head.predictor.named_parameters():
            if name.startswith(("mask_embed", "class_embed")) and p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5 * 3)
        model.void_embedding.weight.copy_(torch.randn(model.void_embedding.weight.shape, generator=g))


def run_both(model, inputs):
    """gpa's outputs, and FC-CLIP's transcribed inference on the raw tensors of the same forward pass."""
    raw = {}
    hooks = [
        model.backbone.register_forward_hook(lambda m, i, o: raw.update(clip_dense=o["clip_dense"])),
        model.sem_seg_head.register_forward_hook(
            lambda m, i, o: raw.update(pred_masks=o["pred_masks"], pred_embeds=o["pred_embeds"])
        ),
    ]
    try:
        with torch.no_grad():
            ours = model(inputs)
    finally:
        for h in hooks:
            h.remove()
    text, class_index = model.text_classifier(VOCAB)
    clip = model.backbone.clip_model
    raw.update(
        text=text,
        num_templates=torch.bincount(class_index, minlength=len(VOCAB)).tolist(),
        void=model.void_embedding.weight[0],
        decoder_logit_scale=model.sem_seg_head.predictor.logit_scale,
        clip_logit_scale=clip.logit_scale,
        visual_head=lambda x: clip.visual.head(clip.visual.trunk.head(x)),
        overlapping=category_overlapping_mask(VOCAB.classes, TRAIN.classes),
        is_thing=torch.tensor(VOCAB.is_thing),
    )
    images = model.preprocess(inputs)
    settings = {
        "alpha": model.ensemble_alpha,
        "beta": model.ensemble_beta,
        "ensemble_on_valid_mask": model.ensemble_on_valid_mask,
        "semantic_on": model.semantic_on,
        "panoptic_on": model.panoptic_on,
        "instance_on": model.instance_on,
        "sem_seg_postprocess_before_inference": False,
        "object_mask_threshold": model.object_mask_threshold,
        "overlap_threshold": model.overlap_threshold,
        "topk": model.detections_per_image,
    }
    with torch.no_grad():
        theirs = fcclip_inference(raw, inputs, images.image_sizes, tuple(images.tensor.shape[-2:]), settings)
    return ours, theirs, raw


def assert_same_outputs(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert set(a) == set(b)
        if "sem_seg" in b:
            assert a["sem_seg"].shape == b["sem_seg"].shape
            torch.testing.assert_close(a["sem_seg"], b["sem_seg"], rtol=1e-6, atol=1e-6)
        if "panoptic_seg" in b:
            assert torch.equal(a["panoptic_seg"][0], b["panoptic_seg"][0])
            ours_info = [{k: s[k] for k in ("id", "isthing", "category_id")} for s in a["panoptic_seg"][1]]
            assert ours_info == b["panoptic_seg"][1]
        if "instances" in b:
            x: Instances = a["instances"]
            y: Instances = b["instances"]
            assert len(x) == len(y)
            # FC-CLIP's top k is unsorted and near-void queries tie on scores: compare as multisets keyed
            # by (class, mask), exact, with the scores in that order within 1e-6
            def ordered(r):
                keys = [(int(c), m.to(torch.uint8).numpy().tobytes(), float(v))
                        for c, m, v in zip(r.pred_classes, r.pred_masks, r.scores)]
                return sorted(keys)
            ka, kb = ordered(x), ordered(y)
            assert [k[:2] for k in ka] == [k[:2] for k in kb]
            torch.testing.assert_close(torch.tensor([k[2] for k in ka]), torch.tensor([k[2] for k in kb]),
                                       rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def tiny_model_cfg():
    from pathlib import Path

    from detectron2.config import get_cfg

    from gpa.config import add_gpa_config

    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.merge_from_file(str(Path(__file__).resolve().parents[2] / "configs" / "tiny" / "gpa_tiny.yaml"))
    return fcclip_equivalent(cfg)


def _model(cfg, **overrides):
    cfg = cfg.clone()
    cfg.merge_from_list([x for kv in overrides.items() for x in kv])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    model.train_vocabulary = TRAIN
    _spread_weights(model)
    _make_some_queries_void(model)
    return model


def _make_some_queries_void(model) -> None:
    """Point the void embedding at a few queries' class embeddings, so those queries are mostly void."""
    captured = {}
    hook = model.sem_seg_head.register_forward_hook(lambda m, i, o: captured.update(e=o["pred_embeds"]))
    with torch.no_grad():
        model(_inputs())
        hook.remove()
        embeds = torch.nn.functional.normalize(captured["e"][0], dim=-1)
        model.void_embedding.weight[0] = (embeds[:4] - embeds.mean(0)).mean(0)  # what sets queries 0-3 apart
        model.sem_seg_head.predictor.logit_scale.fill_(math.log(20.0))


def test_panoptic_semantic_instance_equal_fcclip(tiny_model_cfg):
    model = _model(tiny_model_cfg)
    ours, theirs, raw = run_both(model, _inputs())
    assert_same_outputs(ours, theirs)
    assert model.seen_mask(VOCAB).tolist() == [True, False, False, True, False] == raw["overlapping"].bool().tolist()
    p_void = raw["probs"][..., -1]
    assert (p_void > 0.5).any() and (p_void < 0.5).any()  # void-heavy and object queries
    # the comparison is not vacuous: segments of things and stuff, instances with stuff pairs dropped
    segments = [s for r in theirs for s in r["panoptic_seg"][1]]
    assert len(segments) >= 2 and {s["isthing"] for s in segments} == {True, False}
    assert all(0 < len(r["instances"]) < 30 for r in theirs)


def test_semantic_only_equals_fcclip_scores_at_the_padded_size(tiny_model_cfg):
    model = _model(tiny_model_cfg, **{"MODEL.MASK_FORMER.TEST.PANOPTIC_ON": False,
                                      "MODEL.MASK_FORMER.TEST.INSTANCE_ON": False})
    ours, theirs, _ = run_both(model, _inputs())
    assert_same_outputs(ours, theirs)


def test_ensemble_on_valid_mask_equals_fcclip(tiny_model_cfg):
    model = _model(tiny_model_cfg, **{"MODEL.GPA.ENSEMBLE_ON_VALID_MASK": True})

    def empty_some_masks(module, inputs, outputs):  # queries 0-4 get no pixel above 0
        outputs["pred_masks"][:, :5] = -1.0 - outputs["pred_masks"][:, :5].abs()

    hook = model.sem_seg_head.register_forward_hook(empty_some_masks)
    ours, theirs, raw = run_both(model, _inputs())
    hook.remove()
    assert_same_outputs(ours, theirs)
    without = _model(tiny_model_cfg)
    hook = without.sem_seg_head.register_forward_hook(empty_some_masks)
    _, _, raw_without = run_both(without, _inputs())
    hook.remove()
    # the switch changes exactly the empty queries' probabilities
    changed = (raw["probs"] - raw_without["probs"]).abs().amax(-1) > 1e-6
    assert changed[:, :5].all() and not changed[:, 5:].any()


def test_state_dict_has_fcclip_key_names(tiny_model_cfg):
    """FC-CLIP's model keys for the same small configuration, from FC-CLIP's module structure. gpa's model
    lacks only `criterion.empty_weight` (a loss buffer sized by the training class count, not model state)."""
    model = _model(tiny_model_cfg)
    cfg = tiny_model_cfg
    clip = open_clip.create_model(cfg.MODEL.CLIP.MODEL_NAME)  # FC-CLIP's backbone holds this model as clip_model
    expected = fcclip_model_keys(
        clip,
        pixel_decoder_keys(cfg.MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS),
        predictor_keys(cfg.MODEL.MASK_FORMER.DEC_LAYERS,
                       input_proj=cfg.MODEL.SEM_SEG_HEAD.CONVS_DIM != cfg.MODEL.MASK_FORMER.HIDDEN_DIM),
    )
    ours = set(model.state_dict())
    assert expected - ours == {"criterion.empty_weight"}
    assert ours - expected == set()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("MODEL.GPA.ENSEMBLE_FORMULA", "odise",
         r"unknown ensemble formula 'odise' \(MODEL.GPA.ENSEMBLE_FORMULA\); valid: fcclip, void_in_softmax"),
        ("MODEL.MASK_FORMER.TEST.INSTANCE_SELECTION", "things", "INSTANCE_SELECTION is 'things'; valid: all_classes"),
    ],
)
def test_unknown_inference_choice_names_the_key_and_the_valid_values(tiny_model_cfg, key, value, message):
    cfg = tiny_model_cfg.clone()
    cfg.merge_from_list([key, value])
    with pytest.raises(ValueError, match=message):
        build_model(cfg)
