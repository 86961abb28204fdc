"""CLIP image encoders with spatial adapters (importing this registers CLIPBackbone)."""
from .clip_backbone import CLIPBackbone
from .open_clip_configs import register_model_configs
from .spatial_adapter import MODULATION_REGISTRY, SpatialAdapter
from .spatial_mixers import SPATIAL_MIXER_REGISTRY, SpatialMixerOptions, build_spatial_mixer

__all__ = [
    "CLIPBackbone",
    "MODULATION_REGISTRY",
    "SpatialAdapter",
    "SpatialMixerOptions",
    "build_spatial_mixer",
    "register_model_configs",
    "SPATIAL_MIXER_REGISTRY",
]
