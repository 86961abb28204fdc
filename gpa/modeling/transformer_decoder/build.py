"""Registry of transformer decoders, chosen by MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME."""
from detectron2.config import CfgNode
from detectron2.utils.registry import Registry
from torch import nn

__all__ = ["TRANSFORMER_DECODER_REGISTRY", "build_transformer_decoder"]

TRANSFORMER_DECODER_REGISTRY = Registry("TRANSFORMER_DECODER")
TRANSFORMER_DECODER_REGISTRY.__doc__ = """Transformer decoders: called with
(cfg, in_channels, mask_classification, embed_dim=...)."""


def build_transformer_decoder(
    cfg: CfgNode, in_channels: int, mask_classification: bool = True, *, embed_dim: int
) -> nn.Module:
    """Build the decoder named by cfg.MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME.

    embed_dim: width of the CLIP text embeddings the class embeddings are compared with.
    """
    name = cfg.MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME
    if name not in TRANSFORMER_DECODER_REGISTRY:
        valid = sorted(k for k, _ in TRANSFORMER_DECODER_REGISTRY)
        raise KeyError(
            f"MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME={name!r} is not a registered transformer decoder; "
            f"valid: {valid}"
        )
    return TRANSFORMER_DECODER_REGISTRY.get(name)(cfg, in_channels, mask_classification, embed_dim=embed_dim)
