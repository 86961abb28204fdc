"""Registry of pixel decoders, chosen by MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME."""
from detectron2.config import CfgNode
from detectron2.layers import ShapeSpec
from detectron2.utils.registry import Registry
from torch import nn

__all__ = ["PIXEL_DECODER_REGISTRY", "build_pixel_decoder"]

PIXEL_DECODER_REGISTRY = Registry("PIXEL_DECODER")
PIXEL_DECODER_REGISTRY.__doc__ = """Pixel decoders: called with (cfg, input_shape); must provide
forward_features(features) -> (mask_features, transformer_encoder_output, multi_scale_features)."""


def build_pixel_decoder(cfg: CfgNode, input_shape: dict[str, ShapeSpec]) -> nn.Module:
    """Build the pixel decoder named by cfg.MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME."""
    name = cfg.MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME
    if name not in PIXEL_DECODER_REGISTRY:
        valid = sorted(k for k, _ in PIXEL_DECODER_REGISTRY)
        raise KeyError(
            f"MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME={name!r} is not a registered pixel decoder; valid: {valid}"
        )
    return PIXEL_DECODER_REGISTRY.get(name)(cfg, input_shape)
