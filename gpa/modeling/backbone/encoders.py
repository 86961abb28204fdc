"""Feature extraction from open_clip image towers: one wrapper class per tower type.

`build_encoder(visual, options)` picks the wrapper registered in `CLIP_ENCODER_REGISTRY` whose `tower_type` is
the type of `clip_model.visual` (explicit dispatch; never by model name). A wrapper is a plain object holding
a reference to the tower (the tower stays registered only under `clip_model`), and tells:
- its stages' block containers and widths (where adapters go), and how to wrap a block;
- `forward(x)` -> {"res2".."res5", "clip_dense"} and `output_shapes()` with the same channels/strides;
- `pool_dense(v [N, D]) -> [N, E]`: CLIP's pooling head applied to aggregated dense features.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from detectron2.layers import ShapeSpec
from open_clip.timm_model import TimmModel
from open_clip.transformer import VisionTransformer
from timm.models.convnext import ConvNeXt
from torch import nn

from gpa.registry import NamedRegistry

from .activation_checkpointing import MINIMAL, check_checkpoint_options, run_blocks
from .adapted_blocks import AdaptedBlock, AdaptedConvBlock, AdaptedTokenBlock
from .frozen_convnext_blocks import check_minimal_block, run_frozen_convnext_blocks
from .spatial_adapter import SpatialAdapter

__all__ = [
    "FEATURE_NAMES",
    "DENSE_FEATURE",
    "EncoderOptions",
    "CLIPEncoder",
    "ConvNeXtEncoder",
    "ViTEncoder",
    "CLIP_ENCODER_REGISTRY",
    "build_encoder",
    "interpolate_pos_embed",
    "pyramid_resize_steps",
    "simple_pyramid",
]

FEATURE_NAMES = ("res2", "res3", "res4", "res5")
DENSE_FEATURE = "clip_dense"

CLIP_ENCODER_REGISTRY = NamedRegistry("CLIP_ENCODER", "CLIP image-tower wrapper")
CLIP_ENCODER_REGISTRY.__doc__ = """CLIPEncoder subclasses, each built as `cls(visual, options)` for the open_clip image
towers of its `tower_type` (chosen by the tower's type, not by a config key)."""


@dataclass(frozen=True)
class EncoderOptions:
    """Tower-specific options (MODEL.CLIP.*)."""

    vit_pyramid_scales: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5)  # ViT: resize of the patch map for res2..res5
    checkpoint_stages: tuple[int, ...] = ()  # stages whose blocks run under activation checkpointing
    checkpoint_group_size: int = 1  # consecutive blocks recomputed together
    checkpoint_mode: str = "full"  # "full", "selective" or "minimal" (see activation_checkpointing.py)

    def checkpoint_group(self, stage: int) -> int | None:
        """Blocks per checkpointed group in `stage`, or None when the stage is not checkpointed."""
        return self.checkpoint_group_size if stage in self.checkpoint_stages else None


class CLIPEncoder(ABC):
    """Interface of the tower wrappers."""

    tower_type: ClassVar[type[nn.Module]]  # the open_clip image-tower class (and subclasses) this wrapper handles

    @abstractmethod
    def stage_blocks(self) -> list[nn.Sequential | nn.ModuleList]:
        """Each stage's block container, in order (adapters are inserted there)."""

    @abstractmethod
    def stage_channels(self) -> list[int]:
        """Width of each stage's block outputs."""

    @abstractmethod
    def wrap_block(self, block: nn.Module, adapter: SpatialAdapter) -> AdaptedBlock:
        """The block followed by `adapter`."""

    @abstractmethod
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Images [N, 3, H, W] -> res2..res5 and the dense CLIP map."""

    @abstractmethod
    def output_shapes(self) -> dict[str, ShapeSpec]:
        """Channels and stride of every output of `forward`."""

    @abstractmethod
    def pool_dense(self, x: torch.Tensor) -> torch.Tensor:
        """CLIP's head on aggregated dense features: [N, D] -> [N, E]."""

    @property
    def dense_dim(self) -> int:
        """D, channels of the dense CLIP map."""
        return self.output_shapes()[DENSE_FEATURE].channels


@CLIP_ENCODER_REGISTRY.register()
class ConvNeXtEncoder(CLIPEncoder):
    """open_clip TimmModel with a timm ConvNeXt trunk.

    stem + stage 0 -> res2 (stride 4), stages 1..3 -> res3..res5; dense map = trunk.norm_pre(res5);
    pooling head = trunk.head (pool, norm) then the CLIP projection `visual.head`.
    """

    tower_type = TimmModel

    def __init__(self, visual: TimmModel, options: EncoderOptions) -> None:
        trunk = visual.trunk
        if not isinstance(trunk, ConvNeXt):
            raise TypeError(
                f"the timm image tower is a {type(trunk).__name__}; only timm ConvNeXt trunks are supported "
                f"(timm.models.convnext.ConvNeXt)"
            )
        if len(trunk.stages) != len(FEATURE_NAMES):
            raise ValueError(f"ConvNeXt trunk has {len(trunk.stages)} stages; res2..res5 need exactly 4")
        check_checkpoint_options(
            options.checkpoint_stages, options.checkpoint_group_size, len(trunk.stages), options.checkpoint_mode
        )
        if options.checkpoint_mode == MINIMAL:
            for stage in options.checkpoint_stages:
                for index, block in enumerate(trunk.stages[stage].blocks):
                    check_minimal_block(block, f"trunk.stages.{stage}.blocks.{index}")
        self.visual = visual
        self.trunk = trunk
        self.options = options
        self._shapes = {
            name: ShapeSpec(channels=info["num_chs"], stride=info["reduction"])
            for name, info in zip(FEATURE_NAMES, trunk.feature_info)
        }
        self._shapes[DENSE_FEATURE] = self._shapes[FEATURE_NAMES[-1]]

    def stage_blocks(self) -> list[nn.Sequential | nn.ModuleList]:
        return [stage.blocks for stage in self.trunk.stages]

    def stage_channels(self) -> list[int]:
        return [info["num_chs"] for info in self.trunk.feature_info]

    def wrap_block(self, block: nn.Module, adapter: SpatialAdapter) -> AdaptedBlock:
        return AdaptedConvBlock(block, adapter)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.trunk.stem(x)
        features = {}
        for index, (name, stage) in enumerate(zip(FEATURE_NAMES, self.trunk.stages)):
            group = self.options.checkpoint_group(index)
            if group is None:
                x = stage(x)
            elif self.options.checkpoint_mode == MINIMAL:  # timm's ConvNeXtStage.forward: downsample, blocks
                x = run_frozen_convnext_blocks(stage.blocks, stage.downsample(x), f"trunk.stages.{index}.blocks")
            else:
                x = run_blocks(stage.blocks, stage.downsample(x), group, mode=self.options.checkpoint_mode)
            features[name] = x
        features[DENSE_FEATURE] = self.trunk.norm_pre(x)
        return features

    def output_shapes(self) -> dict[str, ShapeSpec]:
        return dict(self._shapes)

    def pool_dense(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual.head(self.trunk.head(x[:, :, None, None]))


def interpolate_pos_embed(
    pos_embed: torch.Tensor, grid: tuple[int, int], new_grid: tuple[int, int], num_prefix_tokens: int = 1
) -> torch.Tensor:
    """Resize a [prefix + gh*gw, D] positional embedding to a new patch grid (bicubic on the grid part)."""
    if tuple(grid) == tuple(new_grid):
        return pos_embed
    prefix, patches = pos_embed[:num_prefix_tokens], pos_embed[num_prefix_tokens:]
    dim = patches.shape[-1]
    patch_map = patches.reshape(1, grid[0], grid[1], dim).permute(0, 3, 1, 2)
    patch_map = F.interpolate(patch_map.float(), size=tuple(new_grid), mode="bicubic", align_corners=False)
    patches = patch_map.to(pos_embed.dtype).permute(0, 2, 3, 1).reshape(-1, dim)
    return torch.cat([prefix, patches], dim=0)


def pyramid_resize_steps(scales: Sequence[float]) -> list[tuple[str, int]]:
    """Validate resize factors into ("up", k) / ("same", 1) / ("down", k) steps with integer k."""
    steps: list[tuple[str, int]] = []
    for scale in scales:
        if scale <= 0:
            raise ValueError(f"MODEL.CLIP.VIT_PYRAMID_SCALES must be positive, got {tuple(scales)}")
        if scale >= 1:
            factor, kind = scale, "up"
        else:
            factor, kind = 1.0 / scale, "down"
        if not math.isclose(factor, round(factor), rel_tol=0, abs_tol=1e-9):
            raise ValueError(
                f"MODEL.CLIP.VIT_PYRAMID_SCALES entries must be integers (upsampling) or 1/integer "
                f"(downsampling); got {scale} in {tuple(scales)}"
            )
        factor = int(round(factor))
        steps.append(("same", 1) if factor == 1 else (kind, factor))
    return steps


def simple_pyramid(x: torch.Tensor, steps: Sequence[tuple[str, int]]) -> list[torch.Tensor]:
    """Parameter-free pyramid of a map: bilinear upsampling, identity, or average pooling per step."""
    levels = []
    for kind, factor in steps:
        if kind == "up":
            levels.append(F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False))
        elif kind == "down":
            levels.append(F.avg_pool2d(x, kernel_size=factor, stride=factor, ceil_mode=True))
        elif kind == "same":
            levels.append(x)
        else:
            raise ValueError(f"unknown pyramid step {kind!r}; valid: up, same, down")
    return levels


@CLIP_ENCODER_REGISTRY.register()
class ViTEncoder(CLIPEncoder):
    """open_clip VisionTransformer.

    Patch tokens after the transformer (before ln_post) form a stride-p map; res2..res5 are its
    resizes by `vit_pyramid_scales`; the dense map is ln_post of the patch tokens; the pooling head
    is the projection. The positional embedding is interpolated (bicubic) to the input's patch grid.
    """

    tower_type = VisionTransformer

    num_prefix_tokens = 1  # the class token

    def __init__(self, visual: VisionTransformer, options: EncoderOptions) -> None:
        if visual.attn_pool is not None:
            raise ValueError("ViTs with attentional pooling have no dense equivalent of their head; not supported")
        if not isinstance(visual.patch_dropout, nn.Identity):
            raise ValueError(
                "the ViT has patch dropout, which drops tokens and breaks the dense map; build it with "
                "patch_dropout 0 in its open_clip model config"
            )
        if visual.proj is None:
            raise ValueError("the ViT has no projection (visual.proj is None); the CLIP pooling head needs it")
        patch_h, patch_w = visual.patch_size
        if patch_h != patch_w:
            raise ValueError(f"non-square patches {visual.patch_size} are not supported")
        if len(options.vit_pyramid_scales) != len(FEATURE_NAMES):
            raise ValueError(
                f"MODEL.CLIP.VIT_PYRAMID_SCALES needs {len(FEATURE_NAMES)} entries (res2..res5), "
                f"got {tuple(options.vit_pyramid_scales)}"
            )
        check_checkpoint_options(
            options.checkpoint_stages, options.checkpoint_group_size, 1, options.checkpoint_mode
        )
        if options.checkpoint_mode == MINIMAL and options.checkpoint_stages:
            raise ValueError(
                "MODEL.CLIP.CHECKPOINT_MODE minimal runs frozen timm ConvNeXt blocks; this is a ViT tower: "
                "use full or selective"
            )
        self.visual = visual
        self.options = options
        self.patch_size = patch_h
        self.width = visual.conv1.out_channels
        self.steps = pyramid_resize_steps(options.vit_pyramid_scales)
        self._shapes: dict[str, ShapeSpec] = {}
        for name, scale in zip(FEATURE_NAMES, options.vit_pyramid_scales):
            stride = self.patch_size / scale
            if not math.isclose(stride, round(stride), rel_tol=0, abs_tol=1e-9):
                raise ValueError(
                    f"patch size {self.patch_size} / VIT_PYRAMID_SCALES entry {scale} = {stride} "
                    f"is not an integer stride for {name}"
                )
            self._shapes[name] = ShapeSpec(channels=self.width, stride=int(round(stride)))
        self._shapes[DENSE_FEATURE] = ShapeSpec(channels=self.width, stride=self.patch_size)

    def stage_blocks(self) -> list[nn.Sequential | nn.ModuleList]:
        return [self.visual.transformer.resblocks]

    def stage_channels(self) -> list[int]:
        return [self.width]

    def wrap_block(self, block: nn.Module, adapter: SpatialAdapter) -> AdaptedBlock:
        return AdaptedTokenBlock(
            block, adapter, batch_first=self.visual.transformer.batch_first, num_prefix_tokens=self.num_prefix_tokens
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        visual = self.visual
        height, width = x.shape[-2:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f"input size {height}x{width} is not a multiple of the ViT patch size {self.patch_size}; "
                "pad images to a multiple of it (INPUT.SIZE_DIVISIBILITY)"
            )
        x = visual.conv1(x)
        n, dim, gh, gw = x.shape
        x = x.flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).view(1, 1, dim).expand(n, -1, -1)
        x = torch.cat([cls, x], dim=1)
        pos = interpolate_pos_embed(visual.positional_embedding, visual.grid_size, (gh, gw), self.num_prefix_tokens)
        x = visual.ln_pre(x + pos.to(x.dtype))

        batch_first = visual.transformer.batch_first
        if not batch_first:
            x = x.transpose(0, 1)

        def call(block: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
            return block(tokens, grid_size=(gh, gw)) if isinstance(block, AdaptedTokenBlock) else block(tokens)

        x = run_blocks(
            visual.transformer.resblocks, x, self.options.checkpoint_group(0), call, self.options.checkpoint_mode
        )
        if not batch_first:
            x = x.transpose(0, 1)

        patches = x[:, self.num_prefix_tokens:]
        patch_map = patches.transpose(1, 2).reshape(n, dim, gh, gw)
        features = dict(zip(FEATURE_NAMES, simple_pyramid(patch_map, self.steps)))
        features[DENSE_FEATURE] = visual.ln_post(patches).transpose(1, 2).reshape(n, dim, gh, gw)
        return features

    def output_shapes(self) -> dict[str, ShapeSpec]:
        return dict(self._shapes)

    def pool_dense(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.visual.proj


def build_encoder(visual: nn.Module, options: EncoderOptions) -> CLIPEncoder:
    """The wrapper registered for the type of `visual` (or its nearest registered base class)."""
    for cls in type(visual).__mro__:
        for _, encoder in CLIP_ENCODER_REGISTRY:
            if encoder.tower_type is cls:
                return encoder(visual, options)
    supported = ", ".join(f"{e.tower_type.__module__}.{e.tower_type.__name__}" for _, e in CLIP_ENCODER_REGISTRY)
    tower = f"{type(visual).__module__}.{type(visual).__name__}"
    raise TypeError(f"unsupported CLIP image tower {tower}; supported: {supported}")
