"""Transformer decoders (registered in TRANSFORMER_DECODER_REGISTRY)."""
from .build import TRANSFORMER_DECODER_REGISTRY, build_transformer_decoder
from .multi_scale_masked_transformer_decoder import MultiScaleMaskedTransformerDecoder, attention_mask_from_masks

__all__ = [
    "TRANSFORMER_DECODER_REGISTRY",
    "MultiScaleMaskedTransformerDecoder",
    "attention_mask_from_masks",
    "build_transformer_decoder",
]
