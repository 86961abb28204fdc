"""gpa://toy_clip (the shipped toy CLIP, registered by the toy extension), its quality, and zero-shot crop accuracy
through the backbone."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

import gpa_toy
from gpa.modeling.backbone import CLIPBackbone
from gpa.modeling.backbone import clip_model_loading as loading
from gpa_toy import TOY_CLIP_CHECKPOINT, TOY_CLIP_MODEL, pretrained_clip
from gpa_toy.region_alignment import region_zero_shot_accuracy
from gpa_toy.zero_shot import DenseEncoderCLIP, images_to_tensor, object_zero_shot_accuracy

PACKAGE = Path(gpa_toy.__file__).resolve().parent


@pytest.fixture(scope="module", autouse=True)
def toy_clip_registered():
    """The toy extension's model config and gpa://toy_clip, as `EXTENSIONS: [toy]` registers them."""
    gpa_toy.register_toy_clip()


@pytest.fixture(scope="module")
def toy_state(tmp_path_factory):
    """A random-init gpa_toy_vit saved as a state dict (the stand-in of the shipped checkpoint)."""
    torch.manual_seed(0)
    model = open_clip.create_model(TOY_CLIP_MODEL)
    path = tmp_path_factory.mktemp("ckpt") / "toy.pt"
    torch.save(model.state_dict(), path)
    return path, model.state_dict()


@pytest.fixture
def shipped_at(monkeypatch):
    """Point gpa://toy_clip at a file for one test."""
    def point(path: Path) -> None:
        monkeypatch.setattr(pretrained_clip, "TOY_CLIP_CHECKPOINT", path)
    return point


def test_toy_checkpoint_lives_in_the_package_whatever_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert TOY_CLIP_CHECKPOINT.is_absolute()
    assert TOY_CLIP_CHECKPOINT == PACKAGE / "pretrained" / "gpa_toy_vit.pt"
    assert gpa_toy.TOY_CLIP_CONFIG == PACKAGE / "pretrained" / "gpa_toy_vit.json"
    assert loading.CLIP_WEIGHT_SOURCES.get("toy_clip").model_name == TOY_CLIP_MODEL


def test_registering_the_toy_clip_again_changes_nothing():
    source = loading.CLIP_WEIGHT_SOURCES.get("toy_clip")
    gpa_toy.register_toy_clip()
    gpa_toy.register()
    gpa_toy.register()
    assert loading.CLIP_WEIGHT_SOURCES.get("toy_clip") is source


def test_gpa_scheme_resolves_to_the_packaged_file(shipped_at, toy_state):
    path, _ = toy_state
    shipped_at(path)
    source = loading.resolve_pretrained(TOY_CLIP_MODEL, "gpa://toy_clip")
    assert source == loading.PretrainedSource("file", str(path))
    shipped_at(TOY_CLIP_CHECKPOINT)
    assert loading.resolve_pretrained(TOY_CLIP_MODEL, "gpa://toy_clip").value == str(TOY_CLIP_CHECKPOINT)


def test_backbone_loads_the_packaged_weights(shipped_at, toy_state):
    path, state = toy_state
    shipped_at(path)
    backbone = CLIPBackbone(TOY_CLIP_MODEL, pretrained="gpa://toy_clip", adapter_stages=(0,),
                            vit_pyramid_scales=(2.0, 1.0, 0.5, 0.25))
    assert torch.equal(backbone.clip_model.visual.conv1.weight, state["visual.conv1.weight"])
    assert torch.equal(backbone.clip_model.token_embedding.weight, state["token_embedding.weight"])


def test_missing_packaged_checkpoint_names_the_command_that_makes_it(shipped_at, tmp_path):
    shipped_at(tmp_path / "absent.pt")
    with pytest.raises(FileNotFoundError, match="gpa_toy/tools/pretrain_toy_clip.py --steps 1500") as error:
        loading.resolve_pretrained(TOY_CLIP_MODEL, "gpa://toy_clip")
    assert "stage-2 and stage-3 commands of docs/toy/README.md" in str(error.value)


def test_unknown_packaged_name_and_wrong_model_fail_clearly():
    with pytest.raises(ValueError, match=r"unknown CLIP weight source 'gpa://nope' \(MODEL.CLIP.PRETRAINED\); "
                                         r"registered: gpa://toy_clip\. .*to EXTENSIONS"):
        loading.resolve_pretrained(TOY_CLIP_MODEL, "gpa://nope")
    with pytest.raises(ValueError, match="holds weights of the open_clip model 'gpa_toy_vit'.*MODEL_NAME gpa_toy_vit"):
        loading.resolve_pretrained("gpa_tiny_vit", "gpa://toy_clip")


def test_dense_encoder_equals_clip_image_embedding_at_identity_adapters(toy_state):
    path, _ = toy_state
    reference = open_clip.create_model(TOY_CLIP_MODEL, pretrained=str(path)).eval()
    backbone = CLIPBackbone(TOY_CLIP_MODEL, pretrained=str(path), adapter_stages=(0,),
                            vit_pyramid_scales=(2.0, 1.0, 0.5, 0.25)).eval()
    assert backbone.adapters, "the check is meant to run through adapted blocks"
    images = images_to_tensor(np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8))
    wrapped = DenseEncoderCLIP(backbone)
    with torch.no_grad():
        torch.testing.assert_close(wrapped.encode_image(images, normalize=True),
                                   reference.encode_image(images, normalize=True), rtol=1e-4, atol=1e-5)
        tokens = backbone.tokenize(["a photo of a red star."])
        torch.testing.assert_close(wrapped.encode_text(tokens, normalize=True),
                                   reference.encode_text(tokens, normalize=True))
        # once an adapter has changed, the embedding follows the adapted encoder
        torch.nn.init.normal_(backbone.adapters[0].up.weight, std=0.5)
        changed = wrapped.encode_image(images, normalize=True)
    assert not torch.allclose(changed, reference.encode_image(images, normalize=True), atol=1e-3)

    accuracy = object_zero_shot_accuracy(wrapped, backbone.tokenize, per_class=1, image_size=64, autocast_dtype=None)
    assert set(accuracy) == {"all", "colour", "shape", "seen", "unseen"}
    assert all(0.0 <= v <= 100.0 for v in accuracy.values())


def test_shipped_toy_clip_names_crops_and_mask_pooled_regions():
    """The shipped checkpoint as documented (docs/toy/README.md: 90.0% crops, 79.8% regions on larger samples)."""
    model = open_clip.create_model(TOY_CLIP_MODEL, pretrained=str(TOY_CLIP_CHECKPOINT)).eval()
    tokenizer = open_clip.get_tokenizer(TOY_CLIP_MODEL)
    crops = object_zero_shot_accuracy(model, tokenizer, per_class=4, image_size=64, autocast_dtype=None)
    assert crops["all"] >= 80.0 and crops["colour"] == 100.0

    regions = region_zero_shot_accuracy(model, tokenizer, scenes=40, image_size=96, autocast_dtype=None)
    assert regions["region"] >= 70.0 and regions["region_stuff"] >= 90.0
