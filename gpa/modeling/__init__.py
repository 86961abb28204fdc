"""Model components; importing this package registers them with detectron2's registries."""
from . import backbone, pixel_decoder, transformer_decoder  # noqa: F401  (registration)
from .mask_generator import GPAHead
from .meta_arch import GPA

__all__ = ["GPA", "GPAHead"]
