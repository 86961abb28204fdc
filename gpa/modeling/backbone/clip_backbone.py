"""The CLIP image encoder as a detectron2 backbone, with spatial adapters and CLIP's text side.

The open_clip model is held as `clip_model` (checkpoint keys `backbone.clip_model.*`, as in FC-CLIP).
Adapted blocks insert one name level (see adapted_blocks.py). The text tower is always frozen; the
image tower is frozen unless `freeze_encoder` is False (full fine-tuning baseline). Frozen parts stay
in eval mode under `train()`, so drop-path and dropout are off.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import open_clip
import torch
from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from torch import nn

from .activation_checkpointing import MINIMAL
from .adapted_blocks import insert_adapters
from .clip_model_loading import create_clip_model
from .encoders import DENSE_FEATURE, FEATURE_NAMES, EncoderOptions, build_encoder
from .open_clip_configs import register_model_configs
from .spatial_adapter import SpatialAdapter
from .spatial_mixers import SpatialMixerOptions

__all__ = ["CLIPBackbone"]


@BACKBONE_REGISTRY.register()
class CLIPBackbone(Backbone):
    """open_clip image encoder -> {"res2".."res5", "clip_dense"}; also tokenizes and encodes text."""

    @configurable
    def __init__(
        self,
        model_name: str,
        *,
        pretrained: str = "",
        cache_dir: str = "",
        model_config_files: Sequence[str] = (),
        freeze_encoder: bool = True,
        adapter_enabled: bool = True,
        adapter_rank: int = 32,
        spatial_kind: str = "depthwise_conv",
        mixer_options: SpatialMixerOptions | None = None,
        modulation: str = "scale_shift",
        adapter_stages: Sequence[int] | None = None,
        every_k_blocks: int = 1,
        vit_pyramid_scales: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
        checkpoint_stages: Sequence[int] = (),
        checkpoint_group_size: int = 1,
        checkpoint_mode: str = "full",
    ) -> None:
        """
        Args:
            model_name: open_clip model name (built-in or registered config).
            pretrained: open_clip tag, local checkpoint file, or "" for random init.
            cache_dir: open_clip download cache ("" = its default).
            model_config_files: extra open_clip model-config JSON files to register.
            freeze_encoder: keep the pretrained image tower frozen (False = full fine-tuning).
            adapter_enabled: insert spatial adapters.
            adapter_rank, spatial_kind, mixer_options, modulation: the adapter (see SpatialAdapter).
            adapter_stages: stages fitted with adapters; None = every stage of the encoder.
            every_k_blocks: an adapter after every k-th block of a chosen stage.
            vit_pyramid_scales: ViT only, resize factors of the patch map for res2..res5.
            checkpoint_stages: stages whose blocks (with their adapters) run under activation checkpointing
                in training: only every group's input is kept and the group is recomputed in backward.
            checkpoint_group_size: consecutive blocks per checkpointed group.
            checkpoint_mode: "full" (recompute everything), "selective" (keep the MLPs' outputs) or "minimal"
                (frozen ConvNeXt blocks: recompute only what their input gradients need).
        """
        super().__init__()
        if checkpoint_mode == MINIMAL and checkpoint_stages and not freeze_encoder:
            raise ValueError(
                "MODEL.CLIP.CHECKPOINT_MODE minimal computes only input gradients of frozen blocks, but "
                "MODEL.CLIP.FREEZE_ENCODER is False; use CHECKPOINT_MODE full or selective to fine-tune the encoder"
            )
        register_model_configs(model_config_files)
        self.model_name = model_name
        self.freeze_encoder = freeze_encoder
        self.clip_model = create_clip_model(model_name, pretrained, cache_dir)
        self.encoder = build_encoder(
            self.clip_model.visual,
            EncoderOptions(
                tuple(vit_pyramid_scales), tuple(checkpoint_stages), checkpoint_group_size, checkpoint_mode
            ),
        )

        for param in self.clip_model.parameters():
            param.requires_grad = False
        if not freeze_encoder:
            for param in self.clip_model.visual.parameters():
                param.requires_grad = True

        self._adapters: list[SpatialAdapter] = []  # registered inside clip_model via the block wrappers
        if adapter_enabled:
            options = mixer_options or SpatialMixerOptions()
            stages = tuple(range(len(self.encoder.stage_blocks()))) if adapter_stages is None else tuple(adapter_stages)
            self._adapters = insert_adapters(
                self.encoder.stage_blocks(),
                self.encoder.stage_channels(),
                stages,
                every_k_blocks,
                lambda channels: SpatialAdapter(channels, adapter_rank, spatial_kind, options, modulation),
                self.encoder.wrap_block,
            )
        self._shapes = self.encoder.output_shapes()
        with torch.no_grad():
            self._embed_dim = int(self.encoder.pool_dense(torch.zeros(1, self.encoder.dense_dim)).shape[-1])
        self.train()

    @classmethod
    def from_config(cls, cfg, input_shape: ShapeSpec | None = None) -> dict:
        if input_shape is not None and input_shape.channels != 3:
            raise ValueError(
                f"CLIPBackbone takes RGB images; MODEL.PIXEL_MEAN has {input_shape.channels} channels, expected 3"
            )
        clip, adapter = cfg.MODEL.CLIP, cfg.MODEL.ADAPTER
        return {
            "model_name": clip.MODEL_NAME,
            "pretrained": clip.PRETRAINED,
            "cache_dir": clip.CACHE_DIR,
            "model_config_files": tuple(clip.MODEL_CONFIG_FILES),
            "freeze_encoder": clip.FREEZE_ENCODER,
            "adapter_enabled": adapter.ENABLED,
            "adapter_rank": adapter.RANK,
            "spatial_kind": adapter.SPATIAL_KIND,
            "mixer_options": SpatialMixerOptions(adapter.KERNEL_SIZE, adapter.DILATION, adapter.NUM_HEADS),
            "modulation": adapter.MODULATION,
            "adapter_stages": tuple(adapter.STAGES),
            "every_k_blocks": adapter.EVERY_K_BLOCKS,
            "vit_pyramid_scales": tuple(clip.VIT_PYRAMID_SCALES),
            "checkpoint_stages": tuple(clip.CHECKPOINT_STAGES),
            "checkpoint_group_size": clip.CHECKPOINT_GROUP_SIZE,
            "checkpoint_mode": clip.CHECKPOINT_MODE,
        }

    # ------------------------------------------------------------------ image side
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Images [N, 3, H, W] (normalized with CLIP's mean/std) -> res2..res5 and "clip_dense"."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"CLIPBackbone expects images [N, 3, H, W], got {tuple(x.shape)}")
        return self.encoder.forward(x)

    def output_shape(self) -> dict[str, ShapeSpec]:
        return dict(self._shapes)

    @property
    def size_divisibility(self) -> int:
        return max(shape.stride for shape in self._shapes.values())

    def pool_dense(self, x: torch.Tensor) -> torch.Tensor:
        """CLIP's pooling head on aggregated dense features: [N, D] -> [N, E] (not normalized)."""
        return self.encoder.pool_dense(x)

    @property
    def dense_dim(self) -> int:
        """D, channels of "clip_dense"."""
        return self._shapes[DENSE_FEATURE].channels

    @property
    def embed_dim(self) -> int:
        """E, dimension of CLIP's joint image-text embedding."""
        return self._embed_dim

    @property
    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    # ------------------------------------------------------------------ text side
    @functools.cached_property
    def _tokenizer(self) -> Callable[[list[str]], torch.Tensor]:
        return open_clip.get_tokenizer(self.model_name)  # built on first use: it is slow to build

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Token ids [len(texts), context_length] from the model's own tokenizer."""
        return self._tokenizer(texts)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """CLIP text embeddings [N, E] (not normalized) of token ids, on the model's device."""
        return self.clip_model.encode_text(tokens.to(self.clip_model.logit_scale.device))

    @property
    def logit_scale(self) -> torch.Tensor:
        """CLIP's own temperature, exp'd (a scalar tensor, no gradient)."""
        return self.clip_model.logit_scale.detach().exp()

    # ------------------------------------------------------------------ training
    @property
    def adapters(self) -> list[SpatialAdapter]:
        """The inserted adapters, in encoder order."""
        return list(self._adapters)

    def parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Trainable parameters by owner: "encoder" (pretrained image tower) and "adapter"."""
        adapter_ids = {id(p) for adapter in self._adapters for p in adapter.parameters()}
        groups: dict[str, list[tuple[str, nn.Parameter]]] = {"encoder": [], "adapter": []}
        for name, param in self.named_parameters():
            if param.requires_grad:
                groups["adapter" if id(param) in adapter_ids else "encoder"].append((name, param))
        return groups

    def train(self, mode: bool = True) -> CLIPBackbone:
        """Frozen parts stay in eval mode; adapters (and the image tower when fine-tuned) follow `mode`."""
        super().train(mode)
        self.clip_model.eval()
        if not self.freeze_encoder:
            self.clip_model.visual.train(mode)
        for adapter in self._adapters:
            adapter.train(mode)
        return self
