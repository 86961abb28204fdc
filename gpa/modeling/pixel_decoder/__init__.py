"""Pixel decoders (registered in PIXEL_DECODER_REGISTRY)."""
from .build import PIXEL_DECODER_REGISTRY, build_pixel_decoder
from .msdeformattn_pixel_decoder import MSDeformAttnPixelDecoder
from .position_encoding import PositionEmbeddingSine

__all__ = ["PIXEL_DECODER_REGISTRY", "MSDeformAttnPixelDecoder", "PositionEmbeddingSine", "build_pixel_decoder"]
