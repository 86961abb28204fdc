"""The GPA meta-architecture on the tiny config: losses, outputs, vocabularies, checkpoints."""

from __future__ import annotations

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Instances

import gpa  # noqa: F401
from gpa.vocabulary import Vocabulary, merge_vocabularies, resolve_vocabulary

VOCAB = Vocabulary.from_strings(["red circle,red disc", "blue square", "stripes"], [True, True, False])


def _inputs(n=2, size=64, vocabulary=VOCAB, with_targets=True):
    g = torch.Generator().manual_seed(1)
    inputs = []
    for _ in range(n):
        x = {
            "image": torch.randint(0, 256, (3, size, size + 16), dtype=torch.uint8, generator=g),
            "vocabulary": vocabulary,
            "height": size * 2,
            "width": size * 2 + 32,
        }
        if with_targets:
            masks = torch.zeros(2, size, size + 16, dtype=torch.bool)
            masks[0, 8:30, 8:30] = True
            masks[1, 40:, :] = True
            inst = Instances((size, size + 16))
            inst.gt_masks, inst.gt_classes = BitMasks(masks), torch.tensor([0, 2])
            x["instances"] = inst
        inputs.append(x)
    return inputs


@pytest.fixture
def model(tiny_cfg):
    torch.manual_seed(0)
    m = build_model(tiny_cfg)
    m.train_vocabulary = Vocabulary.from_strings(["red circle", "stripes"], [True, False])
    return m


def test_training_losses_cover_every_prediction_and_the_cfa_head(model, tiny_cfg):
    losses = model(_inputs())
    layers = tiny_cfg.MODEL.MASK_FORMER.DEC_LAYERS
    expected = {"loss_ce", "loss_mask", "loss_dice", "loss_cfa"} | {
        f"loss_{k}_{i}" for k in ("ce", "mask", "dice") for i in range(layers - 1)
    }
    assert set(losses) == expected
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    sum(losses.values()).backward()
    groups = model.trainable_parameter_groups()
    assert groups["encoder"] == []  # frozen encoder
    assert all(p.grad is not None for _, p in groups["adapter"])
    assert model.cfa_head.query_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.backbone.clip_model.parameters() if not p.requires_grad)


def test_inference_outputs_follow_the_vocabulary_and_output_size(model):
    model.eval()
    with torch.no_grad():
        out = model(_inputs(with_targets=False))
    assert len(out) == 2
    sem = out[0]["sem_seg"]
    assert sem.shape == (3, 128, 160)
    panoptic, segments = out[0]["panoptic_seg"]
    assert panoptic.shape == (128, 160)
    assert {s["id"] for s in segments} == set(panoptic.unique().tolist()) - {0}
    instances = out[0]["instances"]
    assert instances.image_size == (128, 160)
    assert set(instances.pred_classes.tolist()) <= {0, 1}  # things only

    other = Vocabulary.from_strings(["cat", "dog", "grass", "sky", "road"], [True, True, False, False, False])
    with torch.no_grad():
        out = model(_inputs(n=1, vocabulary=other, with_targets=False))
    assert out[0]["sem_seg"].shape[0] == 5


def test_seen_mask_uses_synonyms_of_the_training_vocabulary(model):
    test_vocab = Vocabulary.from_strings(["disc,red circle", "stripes", "green star"])
    assert model.seen_mask(test_vocab).tolist() == [True, True, False]


def test_batch_must_share_a_vocabulary_and_name_it(model):
    model.eval()
    inputs = _inputs(with_targets=False)
    inputs[1]["vocabulary"] = Vocabulary.from_strings(["cat"])
    with pytest.raises(ValueError, match="share one vocabulary"):
        model(inputs)
    del inputs[0]["vocabulary"]
    with pytest.raises(KeyError, match="'vocabulary'.*'dataset_name'"):
        model(inputs[:1])


def test_unknown_training_vocabulary_source_is_explained(tiny_cfg):
    tiny_cfg.MODEL.GPA.TRAIN_VOCABULARY = "no_such_dataset_or_file"
    m = build_model(tiny_cfg)
    with pytest.raises(ValueError, match="neither a registered dataset nor an existing class file"):
        m.train_vocabulary  # noqa: B018


def test_training_vocabulary_of_several_sources_is_their_merge(tiny_cfg, tmp_path):
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("0:person,people\n1:sky\n", encoding="utf-8")
    second.write_text("5:Person,individual\n6:road\n", encoding="utf-8")
    tiny_cfg.MODEL.GPA.TRAIN_VOCABULARY = ""
    tiny_cfg.DATASETS.TRAIN = (str(first), str(second))
    m = build_model(tiny_cfg)
    assert m.train_vocabulary == merge_vocabularies([resolve_vocabulary(str(first)), resolve_vocabulary(str(second))])
    assert m.train_vocabulary.classes == (("person", "people", "individual"), ("sky",), ("road",))
    # both lists' synonyms of "person" count as seen
    assert m.seen_mask(Vocabulary.from_strings(["people", "individual", "cat"])).tolist() == [True, True, False]


def test_checkpoint_round_trip_gives_identical_outputs(model, tiny_cfg, tmp_path):
    with torch.no_grad():  # move away from the zero-initialized adapters so the test can fail
        for _, p in model.trainable_parameter_groups()["adapter"]:
            p.add_(torch.randn_like(p) * 0.05)
    model.eval()
    DetectionCheckpointer(model, save_dir=str(tmp_path)).save("trained")
    torch.manual_seed(123)
    fresh = build_model(tiny_cfg)
    fresh.train_vocabulary = model.train_vocabulary
    DetectionCheckpointer(fresh).load(str(tmp_path / "trained.pth"))
    fresh.eval()
    inputs = _inputs(n=1, with_targets=False)
    with torch.no_grad():
        a, b = model(inputs)[0], fresh(inputs)[0]
    assert torch.equal(a["sem_seg"], b["sem_seg"])
    assert torch.equal(a["panoptic_seg"][0], b["panoptic_seg"][0])
    assert torch.equal(a["instances"].scores, b["instances"].scores)
