"""Pure-PyTorch operators of the mask generator."""
from .mask_pooling import mask_pool
from .ms_deform_attn import MSDeformAttn, multi_scale_deformable_attention

__all__ = ["MSDeformAttn", "mask_pool", "multi_scale_deformable_attention"]
