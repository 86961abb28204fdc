"""gpa: generalization-preserving adaptation of CLIP for open-vocabulary segmentation.

Importing the package registers the model (meta-architecture, backbone, heads) and the builtin datasets; an
extension such as the toy world (gpa_toy) registers when a config names it in EXTENSIONS.
"""
from .install_detectron2 import missing_message, missing_modules

if missing_modules():  # not on PyPI under their names: say how to get them instead of a bare ImportError
    raise ModuleNotFoundError(missing_message(missing_modules()))

from . import data, modeling  # noqa: E402, F401  (registration)
from .config import add_gpa_config  # noqa: E402
from .inference import Predictor  # noqa: E402

__all__ = ["Predictor", "add_gpa_config"]
__version__ = "0.1.0"
