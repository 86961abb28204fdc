"""gpa: generalization-preserving adaptation of CLIP for open-vocabulary segmentation.

Importing the package registers the model (meta-architecture, backbone, heads) and the datasets.
"""
from . import data, modeling  # noqa: F401  (registration)
from .config import add_gpa_config
from .inference import Predictor

__all__ = ["Predictor", "add_gpa_config"]
__version__ = "0.1.0"
