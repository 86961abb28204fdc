"""GPA inference on the tiny config: chunked post-processing and autocast (TEST.AMP)."""
from __future__ import annotations

import pytest
import torch
from detectron2.modeling import build_model

import gpa  # noqa: F401
from gpa.vocabulary import Vocabulary

VOCAB = Vocabulary.from_strings(["red circle", "blue square", "green star", "stripes"], [True, True, True, False])


def _inputs(n: int = 2) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    return [
        {
            "image": torch.randint(0, 256, (3, 64, 80), dtype=torch.uint8, generator=g),
            "vocabulary": VOCAB,
            "height": 100,
            "width": 130,
        }
        for _ in range(n)
    ]


def _model(cfg) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    model.train_vocabulary = Vocabulary.from_strings(["red circle", "stripes"], [True, False])
    return model


def _run(model) -> list[dict]:
    with torch.no_grad():
        return model(_inputs())


def test_results_do_not_depend_on_the_chunk_size(tiny_cfg):
    model = _model(tiny_cfg)
    assert model.postprocess_chunk_pixels == tiny_cfg.MODEL.MASK_FORMER.TEST.CHUNK_PIXELS == 2**26
    model.postprocess_chunk_pixels = 0  # all queries at once
    whole = _run(model)
    model.postprocess_chunk_pixels = 1  # one query per chunk
    chunked = _run(model)
    for a, b in zip(whole, chunked):
        torch.testing.assert_close(b["sem_seg"], a["sem_seg"])
        assert torch.equal(b["panoptic_seg"][0], a["panoptic_seg"][0]) and b["panoptic_seg"][1] == a["panoptic_seg"][1]
        for field in ("pred_masks", "scores", "pred_classes"):
            assert torch.equal(b["instances"].get(field), a["instances"].get(field)), field
    assert whole[0]["sem_seg"].shape == (4, 100, 130)
    tiny_cfg.MODEL.MASK_FORMER.TEST.CHUNK_PIXELS = -1
    with pytest.raises(ValueError, match="MODEL.MASK_FORMER.TEST.CHUNK_PIXELS must be >= 0"):
        build_model(tiny_cfg)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_autocast_inference_runs_the_network_in_half_precision_and_postprocesses_in_float32(tiny_cfg, dtype):
    reference = _run(_model(tiny_cfg))
    tiny_cfg.TEST.AMP.ENABLED = True
    tiny_cfg.TEST.AMP.DTYPE = dtype
    model = _model(tiny_cfg)
    seen = []
    stem_conv = model.backbone.clip_model.visual.trunk.stem[0]
    stem_conv.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    model.text_classifier.clear_cache()
    out = _run(model)
    assert seen == [getattr(torch, dtype)]
    text, _ = model.text_classifier(VOCAB)  # embedded outside autocast: the float32 embeddings
    torch.testing.assert_close(text, _model(tiny_cfg.clone()).text_classifier(VOCAB)[0], rtol=0, atol=0)
    for got, want in zip(out, reference):
        assert got["sem_seg"].dtype == torch.float32 and got["sem_seg"].shape == want["sem_seg"].shape
        assert got["instances"].scores.dtype == torch.float32
        difference = (got["sem_seg"] - want["sem_seg"]).abs()
        assert 0 < difference.max() < 0.1  # half precision changed the numbers, a little
    model.train()  # training is not autocast by TEST.AMP
    seen.clear()
    inputs = _inputs(1)
    for x in inputs:
        x["instances"] = _instances()
    model(inputs)
    assert seen == [torch.float32]


def _instances():
    from detectron2.structures import BitMasks, Instances

    masks = torch.zeros(1, 64, 80, dtype=torch.bool)
    masks[0, 8:30, 8:30] = True
    instances = Instances((64, 80))
    instances.gt_masks, instances.gt_classes = BitMasks(masks), torch.tensor([0])
    return instances


def test_unknown_autocast_dtype_is_explained(tiny_cfg):
    tiny_cfg.TEST.AMP.ENABLED = True
    tiny_cfg.TEST.AMP.DTYPE = "int8"
    with pytest.raises(ValueError, match="TEST.AMP.DTYPE is 'int8'; valid: bfloat16, float16"):
        build_model(tiny_cfg)
