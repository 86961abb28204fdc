"""CLIPBackbone on the tiny open_clip configs (random init, CPU)."""
import json
import re

import open_clip
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone
from safetensors.torch import save_file
from torch import nn

from gpa.config import add_gpa_config
from gpa.modeling.backbone import CLIPBackbone, SpatialMixerOptions, clip_model_loading, register_model_configs
from gpa.modeling.backbone.adapted_blocks import AdaptedBlock
from gpa.modeling.backbone.encoders import (
    EncoderOptions,
    build_encoder,
    interpolate_pos_embed,
    pyramid_resize_steps,
    simple_pyramid,
)
from gpa.modeling.backbone.open_clip_configs import PACKAGE_MODEL_CONFIG_DIR

OUTPUTS = ("res2", "res3", "res4", "res5", "clip_dense")
TINY_VIT_SCALES = (2.0, 1.0, 0.5, 0.25)  # patch 8 -> strides 4, 8, 16, 32
KINDS = {
    "convnext": dict(model_name="gpa_tiny_convnext"),
    "vit": dict(model_name="gpa_tiny_vit", vit_pyramid_scales=TINY_VIT_SCALES),
}
MIXER_OPTIONS = SpatialMixerOptions(kernel_size=3, dilation=2, num_heads=2)


def build(kind: str, **overrides) -> CLIPBackbone:
    kwargs = {**KINDS[kind], "adapter_rank": 4, "mixer_options": MIXER_OPTIONS, **overrides}
    return CLIPBackbone(**kwargs)


def perturb_adapters_(backbone: CLIPBackbone) -> None:
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for adapter in backbone.adapters:
            for param in adapter.parameters():
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))


@pytest.fixture(scope="module")
def images():
    return torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kind", KINDS)
def test_outputs_match_output_shape(kind, images):
    backbone = build(kind)
    shapes = backbone.output_shape()
    assert [shapes[name].stride for name in OUTPUTS[:4]] == [4, 8, 16, 32]
    outputs = backbone(images)
    assert set(outputs) == set(OUTPUTS) == set(shapes)
    for name, tensor in outputs.items():
        assert tensor.shape == (1, shapes[name].channels, 64 // shapes[name].stride, 96 // shapes[name].stride), name
    assert backbone.dense_dim == shapes["clip_dense"].channels
    assert backbone.embed_dim == 64
    assert backbone.size_divisibility == 32


def test_vit_default_pyramid_strides_follow_the_patch_size():
    shapes = CLIPBackbone("gpa_tiny_vit", adapter_enabled=False).output_shape()
    assert [shapes[name].stride for name in OUTPUTS] == [2, 4, 8, 16, 8]


def test_convnext_features_match_timm_trunk(images):
    backbone = build("convnext", adapter_enabled=False).eval()
    trunk = backbone.clip_model.visual.trunk
    outputs = backbone(images)
    reference = trunk.forward_intermediates(images, indices=4, intermediates_only=True)
    for name, expected in zip(OUTPUTS[:4], reference):
        torch.testing.assert_close(outputs[name], expected)
    torch.testing.assert_close(outputs["clip_dense"], trunk.forward_features(images))


def test_vit_features_match_open_clip_at_the_native_grid():
    backbone = build("vit", adapter_enabled=False).eval()
    visual = backbone.clip_model.visual
    x = torch.randn(2, 3, 64, 64)
    outputs = backbone(x)
    tokens_map = visual.forward_intermediates(x, indices=1, intermediates_only=True)["image_intermediates"][-1]
    torch.testing.assert_close(outputs["res3"], tokens_map)  # scale 1.0: the patch map itself
    normed = visual.forward_intermediates(x, indices=1, normalize_intermediates=True, intermediates_only=True)
    torch.testing.assert_close(outputs["clip_dense"], normed["image_intermediates"][-1])
    torch.testing.assert_close(outputs["res4"], torch.nn.functional.avg_pool2d(tokens_map, 2))
    torch.testing.assert_close(outputs["res5"], torch.nn.functional.avg_pool2d(tokens_map, 4))


@pytest.fixture(scope="module")
def plain_encoders(images):
    """Per kind: an adapter-free backbone and its outputs (the pretrained encoder's features)."""
    encoders = {}
    for kind in KINDS:
        backbone = build(kind, adapter_enabled=False)
        with torch.no_grad():
            encoders[kind] = (backbone, backbone(images))
    return encoders


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spatial_kind", ["depthwise_conv", "dilated_conv", "window_attention", "identity"])
@pytest.mark.parametrize("modulation", ["scale_shift", "residual"])
def test_adapters_start_as_the_exact_pretrained_encoder(kind, spatial_kind, modulation, images, plain_encoders):
    plain, expected = plain_encoders[kind]
    adapted = build(kind, spatial_kind=spatial_kind, modulation=modulation)
    result = adapted.clip_model.load_state_dict(plain.clip_model.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(".adapter." in key for key in result.missing_keys)
    # Compared without autograd: nn.MultiheadAttention picks a different (fused) kernel when no input
    # requires grad, which alone changes the last bits; the adapters themselves are exact.
    with torch.no_grad():
        actual = adapted(images)
    for name in OUTPUTS:
        assert torch.equal(actual[name], expected[name]), name
    perturb_adapters_(adapted)
    with torch.no_grad():
        actual = adapted(images)
    for name in OUTPUTS:
        assert not torch.allclose(actual[name], expected[name]), name


@pytest.mark.parametrize("kind", KINDS)
def test_only_adapters_train_when_frozen(kind, images):
    backbone = build(kind)
    perturb_adapters_(backbone)
    backbone.train()
    assert not backbone.clip_model.training and not backbone.clip_model.visual.training
    assert all(adapter.training for adapter in backbone.adapters)
    outputs = backbone(images)
    sum(out.square().mean() for out in outputs.values()).backward()
    adapter_ids = {id(p) for a in backbone.adapters for p in a.parameters()}
    for name, param in backbone.named_parameters():
        if id(param) in adapter_ids:
            assert param.requires_grad and param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert not param.requires_grad and param.grad is None, name


def test_drop_path_is_inactive_for_the_frozen_encoder(images):
    backbone = build("convnext")
    rates = [m.drop_prob for m in backbone.clip_model.visual.trunk.modules() if hasattr(m, "drop_prob")]
    assert max(rates) > 0  # the tiny config has stochastic depth, so this test can fail
    backbone.train()
    first, second = backbone(images), backbone(images)
    reference = backbone.eval()(images)
    for name in OUTPUTS:
        assert torch.equal(first[name], second[name]) and torch.equal(first[name], reference[name])


def adapter_parameter_count(channels: int, rank: int, kernel: int) -> int:
    return (channels * rank + rank) + (rank * kernel * kernel + rank) + (rank * 2 * channels + 2 * channels)


def test_parameter_groups_frozen_with_adapters():
    backbone = build("convnext", adapter_stages=(1, 2), every_k_blocks=2)
    groups = backbone.parameter_groups()
    assert groups["encoder"] == []
    depths, widths = (2, 2, 6, 2), (40, 80, 160, 320)  # timm convnext_atto
    expected = sum(depths[s] // 2 * adapter_parameter_count(widths[s], 4, 3) for s in (1, 2))
    assert sum(p.numel() for _, p in groups["adapter"]) == expected
    assert len(backbone.adapters) == 1 + 3
    names = dict(backbone.named_parameters())
    assert all(names[name] is param for name, param in groups["adapter"])
    assert "clip_model.visual.trunk.stages.2.blocks.1.adapter.down.weight" in names
    assert "clip_model.visual.trunk.stages.2.blocks.1.block.conv_dw.weight" in names
    assert "clip_model.visual.trunk.stages.2.blocks.0.conv_dw.weight" in names


def test_parameter_groups_full_finetuning_keeps_text_frozen(images):
    backbone = build("convnext", freeze_encoder=False)
    groups = backbone.parameter_groups()
    adapter_ids = {id(p) for a in backbone.adapters for p in a.parameters()}
    visual = [p for p in backbone.clip_model.visual.parameters() if id(p) not in adapter_ids]
    assert {id(p) for _, p in groups["encoder"]} == {id(p) for p in visual}
    assert {id(p) for _, p in groups["adapter"]} == adapter_ids
    text = [p for n, p in backbone.clip_model.named_parameters() if not n.startswith("visual.")]
    assert text and not any(p.requires_grad for p in text)
    backbone.train()
    assert backbone.clip_model.visual.training and not backbone.clip_model.transformer.training


def test_no_trainable_parameters_for_the_frozen_clip_baseline():
    backbone = build("vit", adapter_enabled=False)
    assert backbone.parameter_groups() == {"encoder": [], "adapter": []}
    assert not any(isinstance(m, AdaptedBlock) for m in backbone.modules())


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_local_checkpoint_is_loaded(tmp_path, suffix):
    register_model_configs()
    torch.manual_seed(123)
    source = open_clip.create_model("gpa_tiny_convnext")
    path = tmp_path / f"weights{suffix}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    torch.save(state, path) if suffix == ".pt" else save_file(state, str(path))
    torch.manual_seed(0)
    backbone = build("convnext", pretrained=str(path))
    unwrapped = {
        re.sub(r"(\.blocks\.\d+)\.block\.", r"\1.", key): value
        for key, value in backbone.clip_model.state_dict().items()
        if ".adapter." not in key
    }
    expected = source.state_dict()
    assert unwrapped.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(unwrapped[key], value), key


@pytest.mark.parametrize("value", ["/no/such/dir/clip.pt", "clip_weights.safetensors", "ckpt/model.bin"])
def test_missing_checkpoint_path_fails(value):
    with pytest.raises(FileNotFoundError, match=value.replace(".", r"\.")):
        build("convnext", pretrained=value)


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries to download or build a model."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a download or model build was attempted")

    monkeypatch.setattr(clip_model_loading, "download_pretrained", forbidden)
    monkeypatch.setattr(open_clip, "create_model", forbidden)


def test_unknown_model_name_fails_before_download(no_network):
    with pytest.raises(ValueError, match="unknown open_clip model 'convnext_tiny_xyz'.*gpa_tiny_convnext.*ViT-B-16"):
        CLIPBackbone("convnext_tiny_xyz", pretrained="laion2b_s29b_b131k_ft_soup")


def test_unknown_tag_fails_listing_valid_tags(no_network):
    with pytest.raises(ValueError, match="unknown pretrained tag 'laion_soup'.*laion2b_s29b_b131k_ft_soup"):
        CLIPBackbone("convnext_large_d_320", pretrained="laion_soup")
    with pytest.raises(ValueError, match="tag 'openai' for gpa_tiny_vit.*valid tags: none"):
        CLIPBackbone("gpa_tiny_vit", pretrained="openai")


def test_tags_download_on_local_rank_zero_then_wait_then_load(monkeypatch):
    events = []
    monkeypatch.setattr(clip_model_loading, "download_pretrained", lambda cfg, cache_dir: events.append(("get", cfg)))
    monkeypatch.setattr(clip_model_loading.comm, "synchronize", lambda: events.append(("barrier",)))
    monkeypatch.setattr(open_clip, "create_model", lambda name, pretrained, **_: events.append(("load", pretrained)))
    clip_model_loading.create_clip_model("convnext_large_d_320", "laion2b_s29b_b131k_ft_soup", "/tmp/cache")
    assert [e[0] for e in events] == ["get", "barrier", "load"]
    assert "hf_hub" in events[0][1] or "url" in events[0][1]
    assert events[2][1] == "laion2b_s29b_b131k_ft_soup"

    events.clear()
    monkeypatch.setattr(clip_model_loading.comm, "get_local_rank", lambda: 1)
    clip_model_loading.create_clip_model("convnext_large_d_320", "laion2b_s29b_b131k_ft_soup", "")
    assert [e[0] for e in events] == ["barrier", "load"]


def test_pool_dense_equals_convnext_image_embedding(images):
    backbone = build("convnext").eval()
    perturb_adapters_(backbone)  # encode_image runs through the same adapted trunk
    dense = backbone(images)["clip_dense"]
    with torch.no_grad():
        pooled = backbone.pool_dense(dense.mean(dim=(2, 3)))
        reference = backbone.clip_model.encode_image(images)
    torch.testing.assert_close(pooled, reference, atol=1e-5, rtol=1e-5)


def test_pool_dense_equals_vit_image_embedding_with_average_pooling():
    backbone = build("vit", adapter_enabled=False).eval()
    visual = backbone.clip_model.visual
    visual.pool_type = "avg"  # open_clip then embeds the mean of ln_post(patch tokens), projected
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        pooled = backbone.pool_dense(backbone(x)["clip_dense"].mean(dim=(2, 3)))
        reference = backbone.clip_model.encode_image(x)
    torch.testing.assert_close(pooled, reference, atol=1e-5, rtol=1e-5)


def test_text_side_and_logit_scale():
    backbone = build("vit", adapter_enabled=False)
    tokens = backbone.tokenize(["a photo of a cat.", "a dog"])
    assert tokens.dtype == torch.int64 and tokens.shape == (2, 77)
    embeddings = backbone.encode_text(tokens)
    torch.testing.assert_close(embeddings, backbone.clip_model.encode_text(tokens))
    assert embeddings.shape == (2, backbone.embed_dim)
    torch.testing.assert_close(backbone.logit_scale, backbone.clip_model.logit_scale.exp())
    assert not backbone.logit_scale.requires_grad


def test_from_config_builds_through_the_registry():
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.MODEL.BACKBONE.NAME = "CLIPBackbone"
    cfg.MODEL.CLIP.MODEL_NAME = "gpa_tiny_convnext"
    cfg.MODEL.CLIP.PRETRAINED = ""
    cfg.MODEL.ADAPTER.RANK = 8
    cfg.MODEL.ADAPTER.STAGES = (3,)
    cfg.MODEL.ADAPTER.SPATIAL_KIND = "window_attention"
    backbone = build_backbone(cfg)
    assert isinstance(backbone, CLIPBackbone)
    assert len(backbone.adapters) == 2 and all(a.rank == 8 and a.channels == 320 for a in backbone.adapters)
    assert backbone.adapters[0].mixer.window == 7 and backbone.adapters[0].mixer.num_heads == 4
    with pytest.raises(ValueError, match="RGB images.*3"):
        CLIPBackbone(cfg, ShapeSpec(channels=1))


def test_model_config_files_are_registered(tmp_path):
    config = json.loads((PACKAGE_MODEL_CONFIG_DIR / "gpa_tiny_vit.json").read_text())
    config["vision_cfg"]["layers"] = 1
    path = tmp_path / "gpa_test_one_layer_vit.json"
    path.write_text(json.dumps(config))
    backbone = CLIPBackbone("gpa_test_one_layer_vit", model_config_files=(str(path),), adapter_enabled=False)
    assert len(backbone.clip_model.visual.transformer.resblocks) == 1
    with pytest.raises(FileNotFoundError, match="missing.json.*MODEL_CONFIG_FILES"):
        register_model_configs([tmp_path / "missing.json"])
    bad = tmp_path / "gpa_bad.json"
    bad.write_text(json.dumps({"embed_dim": 8}))
    with pytest.raises(ValueError, match="lacks \\['vision_cfg', 'text_cfg'\\]"):
        register_model_configs([bad])


def test_vit_errors(images):
    with pytest.raises(ValueError, match="stage 1, but this encoder has 1 stage"):
        build("vit", adapter_stages=(0, 1, 2, 3))
    backbone = build("vit")
    with pytest.raises(ValueError, match="60x96 is not a multiple of the ViT patch size 8"):
        backbone(torch.randn(1, 3, 60, 96))
    with pytest.raises(ValueError, match="integers .* or 1/integer"):
        build("vit", vit_pyramid_scales=(4.0, 2.0, 1.0, 0.3))
    with pytest.raises(ValueError, match="needs 4 entries"):
        build("vit", vit_pyramid_scales=(1.0, 0.5))


def test_unsupported_tower_type_is_named():
    with pytest.raises(TypeError, match="torch.nn.modules.linear.Linear; supported: .*TimmModel.*VisionTransformer"):
        build_encoder(nn.Linear(2, 2), EncoderOptions())


def test_pyramid_helpers():
    steps = pyramid_resize_steps((4.0, 2.0, 1.0, 0.5))
    assert steps == [("up", 4), ("up", 2), ("same", 1), ("down", 2)]
    x = torch.randn(1, 2, 4, 6)
    levels = simple_pyramid(x, steps)
    assert [tuple(level.shape[-2:]) for level in levels] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert levels[2] is x
    torch.testing.assert_close(levels[3][0, :, 0, 0], x[0, :, :2, :2].mean(dim=(1, 2)))
    constant = torch.full((1, 2, 3, 3), 0.5)
    assert torch.allclose(simple_pyramid(constant, steps)[0], torch.full((1, 2, 12, 12), 0.5))


def test_interpolate_pos_embed():
    pos = torch.randn(1 + 4 * 4, 8)
    assert interpolate_pos_embed(pos, (4, 4), (4, 4)) is pos
    resized = interpolate_pos_embed(pos, (4, 4), (6, 3))
    assert resized.shape == (1 + 6 * 3, 8)
    assert torch.equal(resized[0], pos[0])  # the class token's embedding is kept
    constant = torch.cat([torch.zeros(1, 8), torch.full((16, 8), 0.25)])
    torch.testing.assert_close(interpolate_pos_embed(constant, (4, 4), (8, 8))[1:], torch.full((64, 8), 0.25))
