"""Activation checkpointing of the adapted encoder: same outputs and gradients, fewer kept activations."""
from pathlib import Path

import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_backbone
from torch.utils.checkpoint import CheckpointPolicy

from gpa.config import add_gpa_config
from gpa.modeling.backbone import CLIPBackbone, SpatialMixerOptions
from gpa.modeling.backbone.activation_checkpointing import keep_narrowing_products, run_blocks

MUST_SAVE, RECOMPUTE = CheckpointPolicy.MUST_SAVE, CheckpointPolicy.PREFER_RECOMPUTE

TINY = {
    "convnext": dict(model_name="gpa_tiny_convnext", checkpoint_all=(0, 1, 2, 3)),
    "vit": dict(model_name="gpa_tiny_vit", vit_pyramid_scales=(2.0, 1.0, 0.5, 0.25), checkpoint_all=(0,)),
}


def build(kind: str, checkpoint_stages=(), group_size: int = 1, mode: str = "full") -> CLIPBackbone:
    kwargs = {k: v for k, v in TINY[kind].items() if k != "checkpoint_all"}
    torch.manual_seed(0)
    backbone = CLIPBackbone(
        **kwargs,
        adapter_rank=4,
        mixer_options=SpatialMixerOptions(kernel_size=3),
        checkpoint_stages=checkpoint_stages,
        checkpoint_group_size=group_size,
        checkpoint_mode=mode,
    )
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # the zero-initialized up-projections would give every other adapter weight zero grad
        for adapter in backbone.adapters:
            for param in adapter.parameters():
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))
    return backbone.train()


def gradients(backbone: CLIPBackbone, images: torch.Tensor) -> tuple[dict, dict[str, torch.Tensor]]:
    """Outputs, and gradients of a random linear function of all outputs w.r.t. inputs and adapters."""
    images = images.clone().requires_grad_(True)
    outputs = backbone(images)
    generator = torch.Generator().manual_seed(2)
    loss = sum((out * torch.randn(out.shape, generator=generator)).sum() for out in outputs.values())
    loss.backward()
    grads = {name: p.grad.clone() for name, p in backbone.named_parameters() if p.requires_grad}
    grads["input"] = images.grad.clone()
    return {k: v.detach() for k, v in outputs.items()}, grads


@pytest.mark.parametrize(
    ("kind", "group_size", "mode"),
    [(kind, *variant) for kind in TINY for variant in [(1, "full"), (2, "full"), (1, "selective")]]
    + [("convnext", 1, "minimal")],
)
def test_checkpointed_encoder_gives_the_plain_gradients(kind, group_size, mode):
    images = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    plain_out, plain = gradients(build(kind), images)
    ckpt_out, ckpt = gradients(build(kind, TINY[kind]["checkpoint_all"], group_size, mode), images)
    assert set(ckpt) == set(plain) and len(plain) > 1  # adapter parameters and the input
    for name in plain:
        assert plain[name].abs().sum() > 0, name  # every compared gradient carries signal
        torch.testing.assert_close(ckpt[name], plain[name], rtol=0, atol=0, msg=name)  # same computation
    for name in plain_out:
        torch.testing.assert_close(ckpt_out[name], plain_out[name], rtol=0, atol=0)


def saved_bytes(backbone: CLIPBackbone, images: torch.Tensor) -> int:
    """Bytes of the distinct tensors autograd keeps for backward during one forward."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        seen[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        backbone(images)
    return sum(seen.values())


@pytest.mark.parametrize("mode", ["full", "minimal"])
def test_checkpointing_keeps_fewer_activations(mode):
    images = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    plain = saved_bytes(build("convnext"), images)
    checkpointed = saved_bytes(build("convnext", (0, 1, 2, 3), mode=mode), images)
    # a ConvNeXt block keeps several maps of its width (and 4x width in its MLP); a group keeps its input
    assert checkpointed < plain / 3
    with torch.no_grad():  # nothing is kept without gradients, checkpointed or not
        assert saved_bytes(build("convnext", (0, 1, 2, 3)), images) == 0


def test_selective_policy_keeps_only_width_narrowing_products():
    aten = torch.ops.aten
    hidden, out = torch.randn(4, 32), torch.randn(4, 8)
    widen, narrow = torch.randn(8, 32), torch.randn(32, 8)  # second matrices [K, N] of x @ W
    assert keep_narrowing_products(None, aten.addmm.default, torch.zeros(8), hidden, narrow) == MUST_SAVE
    assert keep_narrowing_products(None, aten.mm.default, hidden, narrow) == MUST_SAVE
    assert keep_narrowing_products(None, aten.addmm.default, torch.zeros(32), out, widen) == RECOMPUTE
    assert keep_narrowing_products(None, aten.gelu.default, hidden) == RECOMPUTE


def test_run_blocks_runs_plainly_when_nothing_needs_a_gradient():
    calls = []

    def call(block, x):
        calls.append(torch.is_grad_enabled())
        return block(x)

    blocks = [torch.nn.Linear(4, 4).requires_grad_(False) for _ in range(3)]
    x = torch.randn(2, 4)
    out = run_blocks(blocks, x, 2, call)
    torch.testing.assert_close(out, blocks[2](blocks[1](blocks[0](x))))
    assert len(calls) == 3  # not run twice: no group needed checkpointing
    assert not out.requires_grad


def test_config_keys_build_a_checkpointed_backbone_and_bad_values_fail():
    cfg = get_cfg()
    add_gpa_config(cfg)
    cfg.merge_from_file(str(Path(__file__).parents[2] / "configs" / "tiny" / "gpa_tiny.yaml"))
    cfg.MODEL.CLIP.CHECKPOINT_STAGES = (1, 2)
    cfg.MODEL.CLIP.CHECKPOINT_GROUP_SIZE = 2
    backbone = build_backbone(cfg)
    assert backbone.encoder.options.checkpoint_stages == (1, 2)
    assert backbone.encoder.options.checkpoint_group(1) == 2 and backbone.encoder.options.checkpoint_group(0) is None
    with pytest.raises(ValueError, match=r"MODEL.CLIP.CHECKPOINT_STAGES has stage 4, but this encoder has 4 stage"):
        build("convnext", (0, 4))
    with pytest.raises(ValueError, match=r"MODEL.CLIP.CHECKPOINT_STAGES has stage 1, .* 1 stage\(s\)"):
        build("vit", (1,))
    with pytest.raises(ValueError, match="MODEL.CLIP.CHECKPOINT_GROUP_SIZE must be >= 1"):
        build("convnext", (0,), group_size=0)
    with pytest.raises(ValueError, match="MODEL.CLIP.CHECKPOINT_STAGES lists a stage twice"):
        build("convnext", (0, 0))
    with pytest.raises(ValueError, match="MODEL.CLIP.CHECKPOINT_MODE is 'some'; valid: full, selective, minimal"):
        build("convnext", (0,), mode="some")
    with pytest.raises(ValueError, match="GROUP_SIZE is 2, but MODEL.CLIP.CHECKPOINT_MODE minimal recomputes one"):
        build("convnext", (0,), group_size=2, mode="minimal")
    with pytest.raises(ValueError, match="CHECKPOINT_MODE minimal runs frozen timm ConvNeXt blocks; this is a ViT"):
        build("vit", (0,), mode="minimal")
    with pytest.raises(ValueError, match="minimal computes only input gradients of frozen blocks, but MODEL.CLIP.FREE"):
        CLIPBackbone("gpa_tiny_convnext", freeze_encoder=False, checkpoint_stages=(0,), checkpoint_mode="minimal")
    backbone = build("convnext", (1,), mode="minimal")  # blocks made trainable later fail when run
    backbone.clip_model.visual.trunk.stages[1].blocks[0].block.requires_grad_(True)
    with pytest.raises(ValueError, match=r"but trunk.stages.1.blocks.0 has trainable parameters \(MODEL.CLIP.FREEZE"):
        backbone(torch.randn(1, 3, 64, 64))
